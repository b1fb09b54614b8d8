"""Shared by every test layer: a playbook run by a test writes its incident report under pytest's temp dir,
never into the checkout's runs/ (which is the operators')."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _runs_dir_outside_the_checkout(tmp_path_factory):
    if os.environ.get("MCPOPS_RUNS_DIR"):
        yield
        return
    os.environ["MCPOPS_RUNS_DIR"] = str(tmp_path_factory.mktemp("runs"))
    try:
        yield
    finally:
        os.environ.pop("MCPOPS_RUNS_DIR", None)
