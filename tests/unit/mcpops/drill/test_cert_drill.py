"""The drill's side of cert-renewal (mcpops.drill.cert_drill): the approver's inputs are cert-renewal's own extra vars,
typed by its metadata as `mcpops approve -e` types them; the certificate counts as renewed only when it is another one
with more than the rule's 14 days left."""

import datetime

import pytest

from mcpops.drill import cert_drill, scenarios
from mcpops.run.runbooks import find

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.timezone.utc)
FACTS = {"endpoint": "127.0.0.1:4443", "ca_file": "/lab/gateway-tls/ca.crt", "cert_file": "/lab/gateway-tls/server.crt",
         "key_file": "/lab/gateway-tls/server.key", "pid": 4242, "serial": "AB12"}


def test_the_approver_gives_cert_renewal_its_own_extra_vars():
    runbook = find("cert-renewal")
    pairs = cert_drill.renewal_inputs(FACTS, "/lab/gateway-tls/renewal/fullchain.pem",
                                      "/lab/gateway-tls/renewal/privkey.pem")
    assert pairs[::2] == ["-e"] * (len(pairs) // 2)
    values = runbook.parse_extra_vars(pairs[1::2])  # what `mcpops approve -e` does with them: none unknown
    assert values == {"cert_endpoint": "127.0.0.1:4443", "cert_ca_path": "/lab/gateway-tls/ca.crt",
                      "cert_path": "/lab/gateway-tls/server.crt", "key_path": "/lab/gateway-tls/server.key",
                      "new_cert": "/lab/gateway-tls/renewal/fullchain.pem",
                      "new_key": "/lab/gateway-tls/renewal/privkey.pem",
                      "tls_service_reload_method": "command", "tls_service_reload_command": ["kill", "-HUP", "4242"]}


def test_only_the_certificate_fault_gets_inputs_from_the_drill():
    [inc005] = scenarios.DRILLS["inc-005-rate-limit"]
    assert cert_drill.approver_inputs(lab=None, target=None, scenario=inc005) == []  # the lab is not even asked
    [renewal] = scenarios.DRILLS["cert-renewal"]
    assert renewal.fault == cert_drill.FAULT and renewal.symptom == cert_drill.SYMPTOM
    assert renewal.alert == "OnecGatewayCertificateExpiring" and renewal.labs == (scenarios.LOCAL,)
    assert "cert-renewal" not in scenarios.NOT_DRILLABLE


@pytest.mark.parametrize("serial, days, ok", [
    ("CD34", 90, True),     # renewed
    ("AB12", 90, False),    # the fault's certificate (a reload that did not take would still serve it)
    ("CD34", 10, False),    # another one, but the alert would still fire on it
    ("CD34", 14.5, True),   # over the rule's 14 days: the alert resolves
])
def test_renewed_means_another_certificate_with_more_than_the_rule_s_days(serial, days, ok):
    check = cert_drill.check_certificate_renewed("lab-gateway", "AB12", (serial, NOW + datetime.timedelta(days=days)),
                                                 now=NOW)
    assert check.ok is ok and check.name == "certificate_renewed" and check.target == "lab-gateway"
    assert serial in check.detail and "AB12" in check.detail


def test_an_endpoint_that_serves_nothing_is_not_renewed():
    check = cert_drill.check_certificate_renewed("lab-gateway", "AB12", None, now=NOW)
    assert not check.ok and "serves nothing" in check.detail
