"""Textfile metrics (module_utils/_host/textfile.py): the text parses as Prometheus parses it, the file
is replaced atomically, check mode writes nothing."""

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.mcpops.runbooks.plugins.module_utils._host.textfile import (
    TextfileError,
    render,
    check_metrics,
    write_metrics,
)

METRICS = [
    {"name": "mcpops_last_backup_age_seconds", "value": 42, "help": "Seconds since\nthe backup",
     "labels": {"host": 'gw "1"\\a', "runbook": "backup-scheduled"}},
    {"name": "mcpops_last_backup_age_seconds", "value": "7.5", "labels": {"host": "gw2", "runbook": "backup-scheduled"}},
    {"name": "mcpops_runbook_last_run_ok", "value": True},
    {"name": "mcpops_cert_days_left", "value": float("nan"), "type": "gauge"},
]


def samples(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_render_parses_with_prometheus_client():
    text = render(check_metrics(METRICS))
    parsed = samples(text)
    assert parsed[("mcpops_last_backup_age_seconds", (("host", 'gw "1"\\a'), ("runbook", "backup-scheduled")))] == 42
    assert parsed[("mcpops_last_backup_age_seconds", (("host", "gw2"), ("runbook", "backup-scheduled")))] == 7.5
    assert parsed[("mcpops_runbook_last_run_ok", ())] == 1
    assert text.count("# TYPE mcpops_last_backup_age_seconds gauge") == 1
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["mcpops_last_backup_age_seconds"].documentation == "Seconds since\nthe backup"


@pytest.mark.parametrize("metrics, words", [
    ([], "metrics is empty"),
    ([{"name": "9bad", "value": 1}], "not a Prometheus metric name"),
    ([{"name": "ok", "value": "many"}], "is not a number"),
    ([{"name": "ok", "value": 1, "labels": {"__x": "y"}}], "not a label name"),
    ([{"name": "ok", "value": 1}, {"name": "ok", "value": 2, "type": "counter"}], "both gauge and counter"),
])
def test_bad_metrics_are_refused(metrics, words):
    with pytest.raises(TextfileError, match=words):
        check_metrics(metrics)


def test_write_is_atomic_idempotent_and_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "mcpops.prom"
    assert write_metrics(str(path), METRICS, check_mode=True)["changed"] is True
    assert not path.exists()
    result = write_metrics(str(path), METRICS)
    assert result["changed"] is True and result["metrics"] == [
        "mcpops_last_backup_age_seconds", "mcpops_runbook_last_run_ok", "mcpops_cert_days_left"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    inode = os.stat(path).st_ino
    assert write_metrics(str(path), METRICS)["changed"] is False
    assert os.stat(path).st_ino == inode  # unchanged text: not rewritten
    write_metrics(str(path), METRICS[:1])
    assert os.stat(path).st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mcpops.prom"]  # no temp file left


def test_path_must_be_a_prom_file_in_an_existing_dir(tmp_path):
    with pytest.raises(TextfileError, match="must end in .prom"):
        write_metrics(str(tmp_path / "x.txt"), METRICS)
    with pytest.raises(TextfileError, match="does not exist"):
        write_metrics(str(tmp_path / "missing" / "x.prom"), METRICS)
