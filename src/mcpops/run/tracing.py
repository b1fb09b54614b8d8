"""`mcpops run` traced: with MCPOPS_OTLP_ENDPOINT set, the run goes to that OTLP/HTTP collector as one trace
(the collection's otel_trace callback: one span per task and host under one span for the run; docs/tracing.md).

    MCPOPS_OTLP_ENDPOINT=http://otel-collector:4318 mcpops run health-check -i inventories/production

The value is the collector's base URL, as the gateway's ONEC_OTEL_EXPORTER_OTLP_ENDPOINT is (`/v1/traces` is
added). The SDK's own variables (OTEL_EXPORTER_OTLP_HEADERS, _CERTIFICATE, _TIMEOUT, OTEL_SERVICE_NAME) pass
through as the operator set them; the headers' values are credentials, masked like any other (header_secrets).
"""

import configparser
import os

from mcpops.run.plugin_utils import load
from mcpops.run.runbooks import REPO

ENDPOINT_ENV = "MCPOPS_OTLP_ENDPOINT"
CALLBACK = "mcpops.runbooks.otel_trace"


def configured_callbacks(environ, config=None):
    """The callbacks ansible-playbook would enable: ANSIBLE_CALLBACKS_ENABLED, else ansible.cfg's list."""
    if environ.get("ANSIBLE_CALLBACKS_ENABLED"):
        return [name.strip() for name in environ["ANSIBLE_CALLBACKS_ENABLED"].split(",") if name.strip()]
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    parser.read(config or REPO / "ansible.cfg")
    listed = parser.get("defaults", "callbacks_enabled", fallback="")
    return [name.strip() for name in listed.split(",") if name.strip()]


def tracing_env(environ=None, config=None):
    """The environment that turns tracing on for ansible-playbook; {} when MCPOPS_OTLP_ENDPOINT is not set."""
    environ = os.environ if environ is None else environ
    endpoint = (environ.get(ENDPOINT_ENV) or "").strip()
    if not endpoint:
        return {}
    callbacks = configured_callbacks(environ, config)
    if CALLBACK not in callbacks:
        callbacks.append(CALLBACK)
    # the full traces URL wins in the SDK over the base one: drop an operator's stale one by naming ours in full
    return {
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(callbacks),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint.rstrip("/") + "/v1/traces",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
    }


def header_secrets(environ=None):
    """The values of the OTLP headers (`name=value,...`): an authorization or API key, never to be recorded."""
    return load("otlp_headers").header_values(os.environ if environ is None else environ)