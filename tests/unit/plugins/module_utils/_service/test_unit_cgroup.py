"""unit_cgroup: unit names, the control group systemd gives a unit (named, or derived from its slice once systemd
dropped it), the hierarchy directories on v2 and hybrid hosts, and membership read from /proc/<pid>/cgroup."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import unit_cgroup as uc


def test_unit_name_adds_service_and_refuses_what_systemd_would_not_take():
    assert uc.unit_name("cctelegram-bridge") == "cctelegram-bridge.service"
    assert uc.unit_name("getty@tty1.service") == "getty@tty1.service"
    for bad in ("", "a b", "x;rm", "-h", "a\n", None):
        with pytest.raises(TaskError):
            uc.unit_name(bad)


def test_slice_path_nests_dashed_slices():
    assert uc.slice_path("system.slice", "x.service") == "/system.slice/x.service"
    assert uc.slice_path("a-b.slice", "x.service") == "/a.slice/a-b.slice/x.service"
    assert uc.slice_path("-.slice", "x.service") == "/x.service"


def show(text, rc=0):
    return lambda argv: (rc, text, "boom")


def test_unit_state_named_group_and_derived_group():
    state = uc.unit_state("x.service", show("LoadState=loaded\nActiveState=failed\nMainPID=0\nControlGroup=/system.slice/x.service\n"))
    assert state == dict(active_state="failed", load_state="loaded", main_pid=0, control_group="/system.slice/x.service")
    state = uc.unit_state("x.service", show("LoadState=loaded\nActiveState=inactive\nMainPID=0\nControlGroup=\nSlice=app-web.slice\n"))
    assert state["control_group"] == "/app.slice/app-web.slice/x.service"


def test_unit_state_refuses_an_unknown_unit_and_a_failed_systemctl():
    with pytest.raises(TaskError, match="not-found, not a loaded unit"):
        uc.unit_state("nope.service", show("LoadState=not-found\nActiveState=inactive\n"))
    with pytest.raises(TaskError, match="systemctl show x.service failed"):
        uc.unit_state("x.service", show("", rc=1))


def test_group_dirs_unified_and_hybrid(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.procs").write_text("")
    assert uc.group_dirs(str(v2), "/system.slice/x.service") == [str(v2 / "system.slice/x.service")]
    hybrid = tmp_path / "hybrid"
    for name in ("unified", "systemd"):
        (hybrid / name).mkdir(parents=True)
        (hybrid / name / "cgroup.procs").write_text("")
    assert uc.group_dirs(str(hybrid), "/s/x.service") == [str(hybrid / "unified/s/x.service"), str(hybrid / "systemd/s/x.service")]
    with pytest.raises(TaskError, match="not a plain path"):
        uc.group_dirs(str(v2), "/system.slice/../../etc")
    with pytest.raises(TaskError, match="no cgroup hierarchy"):
        uc.group_dirs(str(tmp_path / "none"), "/x.service")


def test_group_pids_reads_the_group_and_its_subgroups(tmp_path):
    group = tmp_path / "x.service"
    (group / "sub").mkdir(parents=True)
    (group / "cgroup.procs").write_text("12\n7\n")
    (group / "sub" / "cgroup.procs").write_text("30\n")
    assert uc.group_pids([str(group), str(tmp_path / "gone")]) == [7, 12, 30]


def test_in_group_reads_proc(tmp_path):
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "cgroup").write_text("4:memory:/\n1:name=systemd:/system.slice/x.service/sub\n0::/system.slice/x.service/sub\n")
    (tmp_path / "6").mkdir()
    (tmp_path / "6" / "cgroup").write_text("0::/system.slice/x.service2\n")
    assert uc.in_group(5, "/system.slice/x.service", str(tmp_path)) is True
    assert uc.in_group(6, "/system.slice/x.service", str(tmp_path)) is False  # a prefix of the name is not the group
    assert uc.in_group(7, "/system.slice/x.service", str(tmp_path)) is False  # gone
