"""`make demo` is the README's first command: run its script (the INC-003 drill, `mcpops drill
inc-003-restore`) on a private lab dir and port and check that it breaks the gateway, brings it back,
shows its storage-meta, downs the lab and leaves the run's output without a secret."""

import os
import re
import subprocess
from pathlib import Path

from loopback import free_port

REPO = Path(__file__).resolve().parents[3]


def test_demo_breaks_and_restores_the_gateway(tmp_path):
    lab_dir, runs_dir = tmp_path / "lab", tmp_path / "runs"
    env = dict(os.environ, MCPOPS_LAB_DIR=str(lab_dir), MCPOPS_RUNS_DIR=str(runs_dir),
               LISTEN="127.0.0.1:%d" % free_port())
    proc = subprocess.run([str(REPO / "scripts" / "demo")], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    out = proc.stdout
    # Broken first, healthy after the playbook, storage-meta shown, lab down at the end.
    broken = re.search(r"lab-gateway: service (BACKOFF|FATAL); /healthz None", out)
    assert broken, out[-4000:]
    assert broken.start() < out.index("Restored backup") \
        < out.rindex("PASS healthy [lab-gateway]: /healthz 200, /readyz 200")
    assert '"schemaVersion": 3' in out
    assert "lab down: local lab stopped" in out
    [run] = list(runs_dir.iterdir())
    assert str(run) in out
    assert "Restored backup" in (run / "report.md").read_text()
    assert "**Verdict: PASSED**" in (run / "drill.md").read_text()
    for name in ("admin_token", "mcp_token"):
        secret = (lab_dir / "secrets" / name).read_text().strip()
        assert len(secret) > 16
        assert secret not in out and secret not in proc.stderr
        for f in run.rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes()
