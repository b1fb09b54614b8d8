"""plugin_utils/report_markdown.py: report.md from the shipped Jinja2 templates, a site's override of any of them
($MCPOPS_REPORT_TEMPLATE_DIR), the fallback when a site template is broken, and no secret in any of it."""

import json
import re
import secrets
from pathlib import Path

import pytest

from ansible_collections.mcpops.runbooks.plugins.plugin_utils import report_markdown
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.incident_report import IncidentReport
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_markdown import render
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import MASK, SecretMasker

SAMPLES = Path(__file__).parent / "report_samples"


@pytest.fixture
def sample():
    return json.loads((SAMPLES / "backup_scheduled.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def no_site_templates(monkeypatch):
    # The developer's own environment must not choose the layout these tests compare against.
    monkeypatch.delenv(report_markdown.TEMPLATE_DIR_ENV, raising=False)


def site(tmp_path, **templates):
    """A site template dir holding the given templates (`report_md` -> report.md.j2)."""
    tmp_path.mkdir(exist_ok=True)
    for name, text in templates.items():
        (tmp_path / (name.replace("_md", ".md") + ".j2")).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_templates_give_the_text_the_string_builder_gave(sample):
    """backup_scheduled.md was written by the renderer before templates (string concatenation), from the same
    report: two identities, a pipe and a newline in a failure message, hosts not reached, a hidden role task."""
    assert render(sample) == (SAMPLES / "backup_scheduled.md").read_text(encoding="utf-8")


def test_a_site_template_wins_over_the_shipped_one_of_the_same_name(sample, tmp_path, monkeypatch):
    templates = site(tmp_path / "site", evidence_md="## What we found\n\n{% for item in report.evidence %}"
                                                    "* {{ item.host | cell }}: {{ item.facts | cell }}\n{% endfor %}\n")
    monkeypatch.setenv(report_markdown.TEMPLATE_DIR_ENV, str(templates))
    markdown = render(sample)
    assert "## What we found\n\n* lab-gateway: {\"backup_id\": \"20261204T222122Z-d8a3e8\"" in markdown
    assert "## Evidence" not in markdown
    # Only that section changed: the others are the shipped ones, in their place.
    shipped = (SAMPLES / "backup_scheduled.md").read_text(encoding="utf-8")
    assert markdown.split("## What we found")[0] == shipped.split("## Evidence")[0]
    assert markdown.split("## Summary from the run")[1] == shipped.split("## Summary from the run")[1]


def test_a_site_report_template_can_lay_out_the_whole_report(sample, tmp_path):
    templates = site(tmp_path / "site", report_md="Ticket: {{ incident }} {{ report.status | upper }}\n"
                                                  "{% include 'hosts.md.j2' %}")
    markdown = render(sample, template_dir=str(templates))
    assert markdown.startswith("Ticket: maintenance FAILED\n## Hosts\n")
    assert "| gw-2 | 2 | 0 | 1 | 0 | 0 | 0 |" in markdown and "## Timeline" not in markdown


@pytest.mark.parametrize("broken, where", [
    ("## Evidence\n{% for item in report.evidence %}\n", "evidence.md.j2, line 2: TemplateSyntaxError"),
    ("## Evidence\n\n{{ report.no_such_key }}\n", "evidence.md.j2, line 3: UndefinedError"),
    ("## Evidence\n{{ report.evidence | sum }}\n", "evidence.md.j2, line 2: TypeError"),
])
def test_a_broken_site_template_falls_back_to_the_shipped_layout_with_a_warning(sample, tmp_path, broken, where):
    templates = site(tmp_path / "site", evidence_md=broken)
    warnings = []
    markdown = render(sample, template_dir=str(templates), warn=warnings.append)
    [message] = warnings
    assert where in message and str(templates) in message and "shipped layout" in message
    first, blank, rest = markdown.split("\n", 2)
    assert first.startswith("> **Warning**: the site's report templates (") and where in first and blank == ""
    assert rest == (SAMPLES / "backup_scheduled.md").read_text(encoding="utf-8")  # the report still lands, whole


def test_a_template_dir_that_is_not_there_is_said_so(sample, tmp_path, monkeypatch):
    monkeypatch.setenv(report_markdown.TEMPLATE_DIR_ENV, str(tmp_path / "typo"))
    markdown = render(sample)
    assert markdown.startswith("> **Warning**: the site's report templates (%s) were not used: %s=%s is not a "
                               "directory" % (tmp_path / "typo", report_markdown.TEMPLATE_DIR_ENV, tmp_path / "typo"))
    assert markdown.endswith((SAMPLES / "backup_scheduled.md").read_text(encoding="utf-8"))


def test_a_host_value_cannot_leave_its_table_cell(sample):
    """A failure message is a host's text: its pipes and newlines are escaped by the `cell` filter."""
    sample["timeline"][0].update(status="failed", message="boom |\n| forged | row |\n\n## Forged section")
    [row] = [line for line in render(sample).splitlines() if "boom" in line]
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # six cells, the whole message inside the last one
    assert "## Forged section" not in render(sample).splitlines()


def canary_report(canary_var, canary_token):
    """A report built as the callback builds it: a secret extra var, and results carrying secrets."""
    report = IncidentReport(SecretMasker(), runbook={
        "id": "inc-006-secret-leak", "incident": "INC-006", "title": "Secret leak", "purpose": "Rotate", "changes": True,
        "manual_steps": ["Tell security"], "extra_vars": {"webhook": {"description": "x", "secret": True}}})
    report.given_extra_vars({"webhook": canary_var, "leaked_prefix": "mcp_ab12"})
    report.task_started("Step 1: Revoke", in_role=False)
    report.host_result("gw1", "t1", "Step 1: Revoke", False, "mcpops.runbooks.token_revoke", "failed",
                       {"msg": "revoke refused: posted %s to the webhook, token %s" % (canary_var, canary_token),
                        "api_token": canary_token, "revoked": [{"id": "tok_1", "prefix": "mcp_ab12"}]})
    report.task_started("Step 2: Summary", in_role=False)
    report.host_result("gw1", "t2", "Step 2: Summary", False, "ansible.builtin.debug", "ok",
                       {"msg": ["Rotated; the old token was %s" % canary_token]})
    report.finished({"gw1": {"ok": 1, "failures": 1}})
    return report.as_dict()


def test_no_secret_reaches_a_site_template_that_prints_everything_it_is_given(tmp_path):
    canary_var = "https://hooks.example.invalid/T0/" + secrets.token_hex(8)
    canary_token = secrets.token_urlsafe(30)
    report = canary_report(canary_var, canary_token)
    given = sorted(report_markdown.template_context(report))
    assert {"report", "runbook", "incident", "steps", "resolution_lines"} <= set(given)
    dump = "".join("%s={{ %s | tojson }}\n" % (name, name) for name in given)
    markdown = render(report, template_dir=str(site(tmp_path / "site", report_md=dump)))
    assert markdown.count("\n") == len(given) and not markdown.startswith("> **Warning**")
    # The template printed the results themselves (around where the secrets were), never the secrets.
    assert "revoke refused: posted " in markdown and "Rotated; the old token was " in markdown and MASK in markdown
    assert canary_var not in markdown and canary_token not in markdown


def test_the_alert_that_started_the_run_is_a_row_of_the_run_table(sample):
    """report.json's `alert` (report_alert.py: what EDA passed as mcpops_alert) is written by whoever can POST to the
    event source: its fields stay inside their cell."""
    sample["alert"] = {"name": "GatewayHealthCheckFailing", "status": "firing", "severity": "critical",
                       "instance": "gw-2:3000", "summary": "healthz | down", "starts_at": "2026-12-05T09:00:00Z",
                       "fingerprint": "c0ffee", "labels": {}}
    lines = render(sample).splitlines()
    assert lines[lines.index("| mode | real run |") + 1] == (
        "| alert | **GatewayHealthCheckFailing** (firing, severity critical) on gw-2:3000: healthz \\| down; "
        "since 2026-12-05T09:00:00Z; fingerprint `c0ffee` |")
    del sample["alert"]
    assert not any(line.startswith("| alert |") for line in render(sample).splitlines())


def test_an_approved_run_s_row_shows_the_inputs_the_approver_gave(sample):
    approved = dict(sample, approval={"id": "ap1", "status": "approved", "decided_by": "bob",
                                      "decided_at": "2026-12-05T10:00:00Z", "run": "runs/x",
                                      "inputs": {"rate_limit": 2, "note": "a | pipe"}})
    row = next(line for line in render(approved).splitlines() if line.startswith("| approval |"))
    assert "`ap1` **approved** by bob" in row and "the approver's inputs: `note=a \\| pipe` `rate_limit=2`" in row
    assert "inputs" not in render(sample)
