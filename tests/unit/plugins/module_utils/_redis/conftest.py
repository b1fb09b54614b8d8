"""The _redis unit tests' private Redis (one for the folder), stopped by its PID at the end."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redis_testbed import start_server  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("redis-tls"))
    yield srv
    srv.stop()
