"""The node agent's kubelet API stand-in: which lines of a container log a `kubectl logs` query gets."""

import datetime

from mcpops.lab.kube.node_kubelet_api import log_file, select, stamped_lines

NOW = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.timezone.utc)
LOG = ("2026-12-05T10:00:00Z lab: container started\n"
       "{\"level\": \"info\", \"msg\": \"listening\"}\n"
       "2026-12-05T11:59:30Z lab: container exited 1 (bad image), simulated\n")


def test_a_line_without_a_stamp_takes_the_one_before_it():
    lines = stamped_lines(LOG)
    assert [t.hour for t, _ in lines] == [10, 10, 11]
    assert lines[1][1] == '{"level": "info", "msg": "listening"}'


def test_since_tail_and_timestamps_select_as_a_kubelet_would():
    lines = stamped_lines(LOG)
    assert select(lines, {}, NOW) == ["lab: container started", '{"level": "info", "msg": "listening"}',
                                      "lab: container exited 1 (bad image), simulated"]
    assert select(lines, {"sinceSeconds": "60"}, NOW) == ["lab: container exited 1 (bad image), simulated"]
    assert select(lines, {"sinceTime": "2026-12-05T09:00:00Z"}, NOW) == select(lines, {}, NOW)
    assert select(lines, {"tailLines": "2"}, NOW)[0] == '{"level": "info", "msg": "listening"}'
    assert select(lines, {"tailLines": "0"}, NOW) == []
    assert select(lines, {"timestamps": "true", "tailLines": "1"}, NOW) == [
        "2026-12-05T11:59:30.000000000Z lab: container exited 1 (bad image), simulated"]


def test_a_served_service_s_own_millisecond_stamp_places_its_line_and_stays_in_it():
    text = LOG + "2026-12-05T11:59:45.123Z ERROR GET /health 503 2.0ms hsm: unreachable\n"
    lines = stamped_lines(text)
    assert lines[-1] == (datetime.datetime(2026, 12, 5, 11, 59, 45, tzinfo=datetime.timezone.utc),
                         "2026-12-05T11:59:45.123Z ERROR GET /health 503 2.0ms hsm: unreachable")
    assert select(lines, {"sinceSeconds": "20"}, NOW) == [
        "2026-12-05T11:59:45.123Z ERROR GET /health 503 2.0ms hsm: unreachable"]

def test_only_kubernetes_names_make_a_log_path(tmp_path):
    assert log_file(tmp_path, "lego-mcp", "dash-1.x", "app") == tmp_path / "logs" / "lego-mcp_dash-1.x_app.log"
    assert log_file(tmp_path, "lego-mcp", "..%2f", "app") is None
    assert log_file(tmp_path, "lego-mcp", "a/b", "app") is None
    assert log_file(tmp_path, "Lego", "a", "app") is None
