"""PostgreSQL's client programs: found where we say we look, and pointed at the server by PG* variables, the
password in PGPASSWORD only."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.client_tools import (
    ToolError,
    candidate_dirs,
    find_tool,
    last_lines,
    libpq_env,
)


def tool(directory, name, mode=0o755):
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return str(path)


def test_bin_dir_is_the_only_place_looked_at_when_given(tmp_path):
    assert candidate_dirs(str(tmp_path)) == [str(tmp_path)]
    path = tool(tmp_path / "bin", "pg_restore")
    assert find_tool("pg_restore", str(tmp_path / "bin")) == path


def test_a_file_that_is_not_executable_is_not_a_tool(tmp_path):
    tool(tmp_path / "bin", "psql", mode=0o644)
    with pytest.raises(ToolError) as err:
        find_tool("psql", str(tmp_path / "bin"))
    assert str(err.value).startswith("psql not found (looked in %s): install the PostgreSQL client" % (tmp_path / "bin"))


def test_path_is_searched_without_bin_dir(tmp_path, monkeypatch):
    path = tool(tmp_path / "onpath", "pg_restore")
    monkeypatch.setenv("PATH", str(tmp_path / "onpath"))
    assert candidate_dirs()[0] == str(tmp_path / "onpath")
    assert find_tool("pg_restore") == path


def test_libpq_env_from_the_connection_options(monkeypatch):
    monkeypatch.setenv("PGSERVICE", "stale")  # the operator's own PG* variables never leak into the tool's
    env = libpq_env(dict(login_host="db.internal", login_port=6432, login_user="ops", login_password="pw-canary",
                         login_db="postgres", ssl_mode="verify-full", ca_cert="/etc/ca.pem", connect_timeout=5),
                    dbname="scratch")
    assert {k: v for k, v in env.items() if k.startswith("PG")} == dict(
        PGHOST="db.internal", PGPORT="6432", PGUSER="ops", PGDATABASE="scratch", PGSSLMODE="verify-full",
        PGCONNECT_TIMEOUT="5", PGAPPNAME="mcpops.runbooks", PGSSLROOTCERT="/etc/ca.pem", PGPASSWORD="pw-canary")
    assert env["PATH"] == os.environ["PATH"]


def test_libpq_env_defaults_and_the_socket_winning_over_the_host():
    env = libpq_env(dict(login_host="db.internal", login_unix_socket="/run/postgresql"))
    assert env["PGHOST"] == "/run/postgresql" and env["PGPORT"] == "5432" and env["PGUSER"] == "postgres"
    assert env["PGDATABASE"] == "postgres" and "PGPASSWORD" not in env and "PGSSLROOTCERT" not in env


def test_last_lines_skips_blank_lines():
    assert last_lines("a\n\nb\n  \nc\n", 2) == "b\nc"
    assert last_lines("") == ""
