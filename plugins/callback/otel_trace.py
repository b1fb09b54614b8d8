# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The otel_trace callback: a runbook run as an OpenTelemetry trace, one span per task and host, sent over OTLP/HTTP."""

from __future__ import annotations

DOCUMENTATION = r"""
name: otel_trace
type: notification
short_description: Send a runbook run to an OpenTelemetry collector as a trace (OTLP over HTTP/protobuf)
description:
  - >-
    When the run ends, sends one trace to an OTLP/HTTP endpoint: one span for the playbook run (named after the
    runbook's id, else the playbook's file name) and under it one span per task and host, named as the task is
    (the runbook step), from the moment the task started to the host's result.
  - >-
    Each task span carries C(ansible.task.host.name) (the inventory host), C(ansible.task.host.status) (C(ok),
    C(changed), C(failed), C(skipped) or C(unreachable)), C(ansible.task.action), C(ansible.play.name) and, for a
    failure Ansible ignored, C(ansible.task.ignore_errors=true), and C(mcpops.step): the runbook step, which is the
    task's own name, or for a task of a role the name of the playbook task that included the role (the incident
    report's step). Its status is ERROR for a failure or an
    unreachable host (with the task's message as description), OK for ok and changed, UNSET when skipped or when
    Ansible ignored the failure.
    The run's span carries C(ansible.playbook), C(mcpops.runbook.id), C(ansible.check_mode), C(ansible.run.status)
    (C(ok), C(failed), C(unreachable)) and the host counts.
  - >-
    No task argument and no task result is sent, only the names above. Task names and failure messages go through
    the collection's secret masking (the run's secret extra vars, the credentials of the controller's environment,
    the OTLP headers' values, passwords in URLs, bearer credentials, token-looking strings) and a result Ansible
    hid with C(no_log) sends no message at all.
  - >-
    The exporter is the OpenTelemetry SDK's, configured by its standard environment variables:
    C(OTEL_EXPORTER_OTLP_ENDPOINT) (the collector's base URL, C(/v1/traces) is added) or
    C(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) (the full URL), C(OTEL_EXPORTER_OTLP_HEADERS) (e.g. an
    C(authorization) header), C(OTEL_EXPORTER_OTLP_CERTIFICATE), C(OTEL_EXPORTER_OTLP_TIMEOUT) (seconds, default 10),
    C(OTEL_EXPORTER_OTLP_COMPRESSION). With neither endpoint set the callback says so once and sends nothing.
  - >-
    Tracing never breaks a run: a collector that does not answer, or a missing library, is one warning line.
    The spans are sent once, when the run ends; a run killed before its end sends none.
requirements:
  - opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http on the controller (pip install 'mcpops[otel]')
  - >-
    enable it with C(ANSIBLE_CALLBACKS_ENABLED=mcpops.runbooks.incident_report,mcpops.runbooks.otel_trace) (the
    environment variable replaces the C(callbacks_enabled) list of C(ansible.cfg), so name the incident report too);
    C(mcpops run) does it when C(MCPOPS_OTLP_ENDPOINT) is set
options:
  service_name:
    description: The C(service.name) resource attribute of the trace.
    type: str
    default: mcpops-runbooks
    env:
      - name: OTEL_SERVICE_NAME
    ini:
      - section: callback_otel_trace
        key: service_name
  traceparent:
    description:
      - A W3C C(traceparent) the run's span becomes a child of (a pipeline's or a job's trace).
    type: str
    env:
      - name: TRACEPARENT
"""

import logging
import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.otlp_headers import header_values
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker, is_secret_key

ENDPOINT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
MESSAGE_LIMIT = 400


def outcome(hook, result):
    """ok / changed / failed / skipped / unreachable, as the recap counts a task's result on a host."""
    if hook == "ok":
        return "changed" if result.get("changed") else "ok"
    return hook


def failure_message(result, masker):
    """The masked, bounded message of a failed or unreachable result; none when Ansible hid it (no_log)."""
    if result.get("_ansible_no_log"):
        return "hidden (no_log)"
    message = result.get("msg") or result.get("reason") or "failed"
    text = masker.text(str(message)).strip()
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 3] + "..."


class _FirstWords(logging.Handler):
    """Keeps the SDK's first complaint (a refused connection, a 401) for the one warning, instead of its log lines."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.first = None

    def emit(self, record):
        if self.first is None:
            try:
                self.first = record.getMessage()
            except Exception:  # pylint: disable=broad-except
                self.first = str(record.msg)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "mcpops.runbooks.otel_trace"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._off = None          # why nothing is traced, once said
        self._playbook = None
        self._runbook_id = None
        self._play = None
        self._started = None
        self._task_started = {}   # task uuid -> ns
        self._step = None         # the runbook step (the playbook's own task) running
        self._spans = []          # (name, start ns, end ns, attributes, status, message)
        self._masker = SecretMasker()

    def _warn_once(self, why):
        if self._off is None:
            self._off = why
            self._display.warning("otel_trace: %s; this run is not traced" % why)

    # Tracing must never break the run it traces: every hook warns once and gives up instead.
    def _safely(self, fn, *args):
        if self._off is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # pylint: disable=broad-except
            self._warn_once("%s: %s" % (type(exc).__name__, self._masker.text(str(exc))))

    def v2_playbook_on_start(self, playbook):
        if not any(os.environ.get(name) for name in ENDPOINT_ENV):
            self._warn_once("no OTLP endpoint (set OTEL_EXPORTER_OTLP_ENDPOINT, or MCPOPS_OTLP_ENDPOINT for mcpops run)")
            return
        self._playbook = os.path.basename(playbook._file_name)
        self._started = time.time_ns()
        self._masker.add_environment(dict(os.environ))
        self._masker.add(header_values(os.environ))

    def _play_start(self, play):
        self._play = self._masker.text(play.get_name())
        if self._runbook_id is None:
            meta = play.vars.get("mcpops_runbook")
            self._runbook_id = str(meta.get("id")) if isinstance(meta, dict) and meta.get("id") else ""
            extra_vars = play.get_variable_manager().extra_vars or {}
            for name, value in extra_vars.items():
                if is_secret_key(name):
                    self._masker.add(value)

    def v2_playbook_on_play_start(self, play):
        self._safely(self._play_start, play)

    def _task_start(self, task):
        self._task_started.setdefault(task._uuid, time.time_ns())
        if task._role is None:  # a role's tasks belong to the runbook step that included it
            self._step = task.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._safely(self._task_start, task)

    def v2_playbook_on_handler_task_start(self, task):
        self._safely(self._task_start, task)

    def _result(self, result, hook, ignore_errors=False):
        task = result._task
        values = result._result if isinstance(result._result, dict) else {}
        status = outcome(hook, values)
        attributes = {
            "ansible.task.host.name": result._host.get_name(),
            "ansible.task.host.status": status,
            "ansible.task.action": str(getattr(task, "resolved_action", None) or task.action),
            "ansible.play.name": self._play or "",
        }
        name = self._masker.text(task.get_name())
        attributes["mcpops.step"] = self._masker.text(self._step) if task._role is not None and self._step else name
        message = None
        if status in ("failed", "unreachable"):
            message = failure_message(values, self._masker)
            if ignore_errors:
                attributes["ansible.task.ignore_errors"] = True
        start = self._task_started.get(task._uuid) or time.time_ns()
        self._spans.append((name, start, time.time_ns(), attributes, status, ignore_errors, message))

    def v2_runner_on_ok(self, result):
        self._safely(self._result, result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._safely(self._result, result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._safely(self._result, result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._safely(self._result, result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._safely(self._export, stats)

    def _export(self, stats):
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
            from opentelemetry.trace import SpanKind, Status, StatusCode
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError as exc:
            self._warn_once("the OpenTelemetry SDK is missing (%s): pip install opentelemetry-sdk "
                            "opentelemetry-exporter-otlp-proto-http" % exc)
            return
        hosts = {host: stats.summarize(host) for host in stats.processed}
        run_status = ("unreachable" if any(s["unreachable"] for s in hosts.values())
                      else "failed" if any(s["failures"] for s in hosts.values()) else "ok")
        # Spans are kept in memory and sent in one request, by the exporter called here, so that the outcome is
        # known and said (a private provider: nothing global is set, no background thread is left behind).
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: self.get_option("service_name")}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("mcpops.runbooks.otel_trace")
        parent = None
        if self.get_option("traceparent"):
            parent = TraceContextTextMapPropagator().extract({"traceparent": self.get_option("traceparent")})
        root = tracer.start_span(self._runbook_id or self._playbook, context=parent, kind=SpanKind.INTERNAL,
                                 start_time=self._started)
        root.set_attributes({
            "ansible.playbook": self._playbook,
            "mcpops.runbook.id": self._runbook_id or "",
            "ansible.check_mode": bool(context.CLIARGS.get("check")),
            "ansible.run.status": run_status,
            "ansible.run.hosts": len(hosts),
            "ansible.run.hosts_failed": sum(1 for s in hosts.values() if s["failures"]),
            "ansible.run.hosts_unreachable": sum(1 for s in hosts.values() if s["unreachable"]),
        })
        in_root = trace.set_span_in_context(root)
        for name, start, end, attributes, status, ignored, message in self._spans:
            span = tracer.start_span(name, context=in_root, start_time=start, attributes=attributes)
            if status in ("failed", "unreachable") and not ignored:
                span.set_status(Status(StatusCode.ERROR, message))
            elif status in ("ok", "changed"):
                span.set_status(Status(StatusCode.OK))
            span.end(end_time=end)
        root.set_status(Status(StatusCode.OK) if run_status == "ok" else Status(StatusCode.ERROR, run_status))
        root.end()
        provider.shutdown()
        spans = memory.get_finished_spans()
        sdk_log = logging.getLogger("opentelemetry")
        words = _FirstWords()
        sdk_log.addHandler(words)
        sdk_log.propagate = False
        exporter = OTLPSpanExporter()
        try:
            result = exporter.export(spans)
        finally:
            exporter.shutdown()
            sdk_log.removeHandler(words)
        if result.name != "SUCCESS":
            self._warn_once("the collector at %s did not take the trace: %s"
                            % (self._endpoint(), self._masker.text(str(words.first or result.name))[:MESSAGE_LIMIT]))
            return
        self._display.display("otel_trace: %d spans sent to %s (trace %s)"
                              % (len(spans), self._endpoint(), format(root.get_span_context().trace_id, "032x")))

    def _endpoint(self):
        """The endpoint, as the exporter resolves it, without any user:password in it."""
        url = os.environ.get(ENDPOINT_ENV[0]) or (os.environ.get(ENDPOINT_ENV[1], "").rstrip("/") + "/v1/traces")
        return self._masker.text(url)
