"""src/mcpops/run/tracing.py: MCPOPS_OTLP_ENDPOINT turns the otel_trace callback on next to the configured ones, and
the OTLP headers' values are secrets."""

from mcpops.run import tracing


def test_no_endpoint_no_tracing():
    assert tracing.tracing_env({}) == {}
    assert tracing.tracing_env({"MCPOPS_OTLP_ENDPOINT": "  "}) == {}


def test_the_callback_joins_those_of_ansible_cfg(tmp_path):
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n# the report\ncallbacks_enabled = mcpops.runbooks.incident_report  # inline\n")
    env = tracing.tracing_env({"MCPOPS_OTLP_ENDPOINT": "http://otel-collector:4318/"}, config=cfg)
    assert env["ANSIBLE_CALLBACKS_ENABLED"] == "mcpops.runbooks.incident_report,mcpops.runbooks.otel_trace"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318/"
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://otel-collector:4318/v1/traces"


def test_the_operators_callbacks_are_kept_and_ours_named_once():
    environ = {"MCPOPS_OTLP_ENDPOINT": "http://c:4318", "ANSIBLE_CALLBACKS_ENABLED": "a.b.c, mcpops.runbooks.otel_trace"}
    assert tracing.tracing_env(environ)["ANSIBLE_CALLBACKS_ENABLED"] == "a.b.c,mcpops.runbooks.otel_trace"


def test_the_repos_own_config_names_the_incident_report():
    assert tracing.configured_callbacks({}) == ["mcpops.runbooks.incident_report"]


def test_header_values_are_secrets():
    environ = {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc123,x-team=teamkey", "OTHER": "x=y",
               "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key= k3y ,broken"}
    assert tracing.header_secrets(environ) == ["Bearer%20abc123", "teamkey", "k3y"]
