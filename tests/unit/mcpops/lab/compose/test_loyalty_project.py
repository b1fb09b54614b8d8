"""The Loyalty compose project's files, without an engine: every service on the host's loopback network with an
init, the api and worker images named by IMAGE_TAG, the build contexts (the bad release lacks its module), the env
file's round trip, and the faults' table."""

import yaml

from mcpops.lab.compose import loyalty_faults, loyalty_project as project


def test_compose_file_in_the_seed_shape():
    doc = yaml.safe_load(project.COMPOSE_YAML)
    assert doc["name"] == project.PROJECT
    services = doc["services"]
    assert sorted(services) == sorted(project.SERVICES)
    for name, service in services.items():
        assert (service["network_mode"], service["init"]) == ("host", True), name
    assert services["api"]["image"] == services["worker"]["image"] == "mcpops-lab/loyalty-api:${IMAGE_TAG}"
    assert services["api"]["environment"]["MCPOPS_SERVICE_LISTEN"] == "127.0.0.1:${API_PORT}"
    assert services["api"]["env_file"] == [project.ENV_FILE]
    assert services["postgres"]["volumes"] == ["./pgvol:/var/lib/postgresql/data"]


def test_build_context_carries_the_services_and_the_bad_one_lacks_a_module(tmp_path):
    good = project.build_context(tmp_path / "good", "mcpops-lab/base:abc", "1.4.0")
    bad = project.build_context(tmp_path / "bad", "mcpops-lab/base:abc", "1.5.0", (project.BAD_RELEASE_MISSING,))
    assert (good / "mcpops/lab/services/loyalty_api.py").is_file()
    assert (good / "mcpops/lab/services/resp.py").is_file() and not (bad / "mcpops/lab/services/resp.py").exists()
    dockerfile = (good / "Dockerfile").read_text()
    assert dockerfile.startswith("FROM mcpops-lab/base:abc\n") and "APP_VERSION=1.4.0" in dockerfile
    assert "RUN " not in dockerfile  # COPY only: a build needs no network


def test_env_file_round_trip_keeps_the_order():
    values = {"IMAGE_TAG": "1.4.0", "DATABASE_URL": "postgresql://u:p@127.0.0.1:5/loyalty", "WORKERS_ENABLED": "1"}
    text = project.render_env(values)
    assert text.startswith("#") and project.parse_env(text) == values
    assert list(project.parse_env(text)) == list(values)


def test_every_fault_has_a_repair_or_the_merchant_heal():
    for name, (inject, fix, _wait) in loyalty_faults.FAULTS.items():
        assert callable(inject), name
        assert fix is None and name.startswith("webhook-") or callable(fix), name

