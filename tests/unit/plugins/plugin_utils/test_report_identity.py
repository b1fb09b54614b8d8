"""plugin_utils/report_identity.py: the identity the operator_identity role stated, picked from task results, as
report.json's operator_identity and report.md rows; masked like the rest of the report."""

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_identity import RunIdentity
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_markdown import identity_rows
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker


def stated(account, operator, source="mcpops_operator"):
    return {"ansible_facts": {"operator_identity_stated": {
        "break_glass_account": account, "operator": operator, "operator_source": source,
        "anonymous": not (account and operator)}}, "changed": False}


def test_the_stated_identity_is_named_once_for_all_hosts():
    identity = RunIdentity()
    identity.seen("gw1", {"changed": True, "revoked": []})  # other results carry nothing
    identity.seen("gw1", stated("svc_mcpops_breakglass_01", "Иван Петров", "AWX launcher (awx_user_name)"))
    identity.seen("gw2", stated("svc_mcpops_breakglass_01", "Иван Петров", "AWX launcher (awx_user_name)"))
    section = identity.as_dict()
    assert section == {"stated": True, "identities": [{
        "break_glass_account": "svc_mcpops_breakglass_01", "operator": "Иван Петров",
        "operator_source": "AWX launcher (awx_user_name)", "anonymous": False, "hosts": ["gw1", "gw2"]}]}
    # a word-made account name is not taken for a secret by the report's masker
    assert SecretMasker().value(section) == section
    rows = identity_rows({"operator_identity": section, "runbook": {"changes": True}})
    assert rows == ["| acted as | break-glass account `svc_mcpops_breakglass_01`, operator `Иван Петров` "
                    "(AWX launcher (awx_user_name)) |"]


def test_hosts_with_different_accounts_are_listed_apart():
    identity = RunIdentity()
    identity.seen("gw2", stated("bg-east", "alice"))
    identity.seen("gw1", stated("bg-west", "alice"))
    rows = identity_rows({"operator_identity": identity.as_dict()})
    assert rows == ["| acted as | break-glass account `bg-west`, operator `alice` (mcpops_operator) on gw1 |",
                    "| acted as | break-glass account `bg-east`, operator `alice` (mcpops_operator) on gw2 |"]


def test_an_allowed_anonymous_run_says_so_plainly():
    identity = RunIdentity()
    identity.seen("gw1", stated(None, "bob", "controller user (USER)"))
    section = identity.as_dict()
    assert section["identities"][0]["anonymous"] is True
    assert identity_rows({"operator_identity": section}) == [
        "| acted as | **no break-glass account** (allowed by mcpops_allow_no_break_glass), operator `bob` "
        "(controller user (USER)) |"]


def test_a_changing_run_that_never_stated_it_says_so_and_a_read_only_one_says_nothing():
    section = RunIdentity().as_dict()
    assert section == {"stated": False, "identities": []}
    assert "not stated" in identity_rows({"operator_identity": section, "runbook": {"changes": True}})[0]
    assert identity_rows({"operator_identity": section, "runbook": {"changes": False}}) == []
    assert identity_rows({}) == []  # a report.json written before this existed


def test_a_pipe_or_newline_cannot_break_the_table():
    identity = RunIdentity()
    identity.seen("gw1", stated("a|b", "c\nd"))
    assert identity_rows({"operator_identity": identity.as_dict()})[0].count("|") == 4
