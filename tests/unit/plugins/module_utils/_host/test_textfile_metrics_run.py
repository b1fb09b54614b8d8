"""textfile_metrics' run(): the mode parsed as octal, the file written (not in check mode), every refusal a TaskError."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.textfile_metrics_run import run

METRICS = [{"name": "mcpops_runbook_last_run_ok", "value": 1, "help": "1 when the last run passed", "type": "gauge",
            "labels": {"runbook": "backup"}}]


def test_check_mode_then_write_then_nothing_to_do(tmp_path):
    path = tmp_path / "m.prom"
    params = dict(path=str(path), metrics=METRICS, mode="0640")
    plan = run(params, check_mode=True)
    assert plan == {"changed": True, "path": str(path), "metrics": ["mcpops_runbook_last_run_ok"]} and not path.exists()
    assert run(params)["changed"] is True
    assert 'mcpops_runbook_last_run_ok{runbook="backup"} 1\n' in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert run(params)["changed"] is False


@pytest.mark.parametrize("mode", ["rw-r--r--", "0999", "abc"])
def test_a_mode_that_is_not_octal_is_refused(tmp_path, mode):
    with pytest.raises(TaskError, match="mode %r is not an octal file mode such as 0644" % mode):
        run(dict(path=str(tmp_path / "m.prom"), metrics=METRICS, mode=mode))


def test_bad_metrics_and_paths_are_refused(tmp_path):
    with pytest.raises(TaskError, match="must end in .prom"):
        run(dict(path=str(tmp_path / "m.txt"), metrics=METRICS, mode="0644"))
    with pytest.raises(TaskError, match="is not a Prometheus metric name"):
        run(dict(path=str(tmp_path / "m.prom"), metrics=[{"name": "bad-name", "value": 1}], mode="0644"))
    assert not (tmp_path / "m.prom").exists()
