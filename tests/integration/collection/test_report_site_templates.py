"""A site's report template ($MCPOPS_REPORT_TEMPLATE_DIR) in a real run: the incident_report callback under
ansible-playbook renders report.md with it, the other sections from the shipped templates."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_a_runs_report_md_uses_the_sites_template(tmp_path):
    templates = tmp_path / "site-templates"
    templates.mkdir()
    (templates / "manual_steps.md.j2").write_text(
        "## Hand-over to the ACME NOC ({{ runbook.id }}, {{ report.status }})\n\n"
        "{% for step in report.manual_steps %}\n1. {{ step }}\n{% endfor %}\n\n", encoding="utf-8")
    env = dict(os.environ, MCPOPS_REPORT_DIR=str(tmp_path / "report"), MCPOPS_REPORT_TEMPLATE_DIR=str(templates),
               MCPOPS_LAB_DIR=str(tmp_path / "no-lab"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    # Cheap: INC-003 refuses a bad backup id before anything else, on the controller; the report is written anyway.
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/inc-003-restore.yml", "-i", "inventories/lab",
                           "--check", "-e", "backup_id=../x"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Hand-over to the ACME NOC (inc-003-restore, failed)\n\n1. " in markdown
    assert "## Manual steps left to people" not in markdown and "> **Warning**" not in markdown
    assert "| FAILED: Bad input: backup_id must be" in markdown  # the shipped timeline, around the site's section
