"""gateway_service_facts, gateway_index_jobs and host_resources once through ansible (AnsiballZ packs their
module_utils): bad input refused, what they return, the token never printed."""

import os
import sys

from adhoc import API_CANARY, run_module


def test_host_resources_reports_the_volume_and_refuses_bad_thresholds(tmp_path):
    result = run_module("host_resources", {"paths": [str(tmp_path)], "min_free_percent": 0, "min_free_mb": 0})
    assert not result.get("failed"), result
    assert result["volumes"][0]["path"] == str(tmp_path) and result["problems"] == []
    assert result["load"]["1m"] >= 0 and result["memory"]["total_bytes"] > 0
    refused = run_module("host_resources", {"paths": [str(tmp_path)], "min_free_percent": 150})
    assert refused["failed"] and "0..100" in refused["msg"]


def test_host_resources_fails_naming_the_volume_under_the_threshold(tmp_path):
    # No volume has 100% free: the threshold always trips, and the message names the path and its mount.
    result = run_module("host_resources", {"paths": [str(tmp_path)], "min_free_percent": 100, "min_free_mb": 0})
    assert result["failed"] and str(tmp_path) in result["msg"] and "(mount " in result["msg"]
    assert "below the 100.0% threshold" in result["msg"]


def test_gateway_index_jobs_with_no_gateway_has_nothing_to_interrupt():
    result = run_module("gateway_index_jobs", {"api_url": "http://127.0.0.1:9", "api_token": API_CANARY, "timeout": 2})
    assert not result.get("failed"), result
    assert result["answered"] is False and result["interrupts"] == [] and result["changed"] is False


def test_gateway_index_jobs_refuses_a_zero_poll_interval():
    result = run_module("gateway_index_jobs", {"api_token": API_CANARY, "poll_interval": 0})
    assert result["failed"] and "poll_interval" in result["msg"]


def test_gateway_service_facts_without_supervisord_says_why(tmp_path):
    ctl = os.path.join(os.path.dirname(sys.executable), "supervisorctl")
    result = run_module("gateway_service_facts", {
        "platform": "supervisor", "supervisorctl_path": ctl,
        "supervisor_config": str(tmp_path / "none.conf")}, "--check")
    assert not result.get("failed") and result["changed"] is False
    status = result["status"]
    assert status["available"] is False and "supervisorctl" in status["error"]


def test_gateway_service_facts_refuses_an_unknown_platform():
    result = run_module("gateway_service_facts", {"platform": "upstart"})
    assert result["failed"] and "upstart" in result["msg"]
