"""A unit's processes from its cgroup: ControlGroup read from systemctl show, the cgroup dir found under a root,
the PIDs of it and its sub-cgroups."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.cgroup_procs import cgroup_dir, cgroup_pids, control_group


def test_control_group_from_systemctl_show():
    assert control_group("ControlGroup=/system.slice/cctelegram-mcp.service\n") == "/system.slice/cctelegram-mcp.service"
    assert control_group("ControlGroup=\n") == "" and control_group("") == ""


def test_pids_of_the_cgroup_and_below(tmp_path):
    unit = tmp_path / "system.slice" / "x.service"
    (unit / "sub").mkdir(parents=True)
    (unit / "cgroup.procs").write_text("12\n7\n")
    (unit / "sub" / "cgroup.procs").write_text("30\n0\n")  # 0: a process another PID namespace holds
    (tmp_path / "system.slice" / "cgroup.procs").write_text("999\n")  # the slice's own: not the unit's
    path = cgroup_dir("/system.slice/x.service", roots=(str(tmp_path / "none"), str(tmp_path)))
    assert path == str(unit)
    assert cgroup_pids(path) == [7, 12, 30]


def test_a_group_that_climbs_out_or_is_missing_has_no_dir(tmp_path):
    (tmp_path / "cgroup.procs").write_text("1\n")
    assert cgroup_dir("/../etc", roots=(str(tmp_path / "a"),)) is None
    assert cgroup_dir("relative", roots=(str(tmp_path),)) is None
    assert cgroup_dir("/nothing.service", roots=(str(tmp_path),)) is None
