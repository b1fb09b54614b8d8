"""The collection's alert rules (extensions/prometheus/): `promtool check rules` accepts every file, `promtool test
rules` passes every unit test (each rule fires and does not fire on series the tests write), and every rule
carries the labels the rulebook acts on, naming a runbook that exists."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "extensions" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.rules.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
SERVICES = ("onec-gateway", "connector-mcp", "loyalty-api", "cctelegram-mcp", "lego-mcp")


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.skip("promtool not found: install the Debian package prometheus (scripts/bootstrap does when root)")
    return path


def rules():
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield path.name, rule


def test_one_rule_file_and_one_test_file_per_service():
    assert [p.name for p in RULE_FILES] == sorted("%s.rules.yml" % s for s in SERVICES)
    assert [p.name for p in TEST_FILES] == sorted("%s.test.yml" % s for s in SERVICES)


def test_promtool_check_rules_accepts_every_file(promtool):
    proc = subprocess.run([promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_pass(promtool):
    proc = subprocess.run([promtool, "test", "rules", *map(str, TEST_FILES)], capture_output=True, text=True,
                          cwd=PROMETHEUS / "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_is_unit_tested():
    tested = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert {rule["alert"] for _, rule in rules()} == tested


def test_every_rule_names_an_existing_runbook_and_a_severity():
    runbooks = {p.stem for p in (REPO / "playbooks").glob("*.yml")
                if not p.is_symlink() and "mcpops_runbook:" in p.read_text()}
    for name, rule in rules():
        labels = rule["labels"]
        assert labels["runbook"] in runbooks, (name, rule["alert"])
        assert labels["severity"] in ("critical", "warning"), (name, rule["alert"])
        assert labels.get("auto_remediate", "true") == "true", (name, rule["alert"])  # "true" or absent
        assert "instance" not in labels  # it comes from the scrape target


def test_the_lab_copies_change_only_for():
    from mcpops.lab.fixtures.alerting_config import lab_rules
    for path in RULE_FILES:
        original = yaml.safe_load(path.read_text())
        copy = yaml.safe_load(lab_rules(path.read_text(), "2s"))
        for group, lab_group in zip(original["groups"], copy["groups"]):
            for rule, lab_rule in zip(group["rules"], lab_group["rules"]):
                assert lab_rule == dict(rule, **({"for": "2s"} if "for" in rule else {}))
