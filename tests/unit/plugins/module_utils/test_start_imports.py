"""What a module's start imports (issue 20: each module adds <= 30 ms of its own imports above basic). On a host the
AnsiballZ payload keeps no .pyc, so every file a module imports at start is compiled from source on every run: the
code that only some runs use is imported inside the functions that use it. Each case imports an entry point in a
fresh Python and names what must not be loaded yet; the behaviour of the lazily loaded code is the other tests'."""

import json
import os
import subprocess
import sys

import pytest

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "collections"))
MU = "ansible_collections.mcpops.runbooks.plugins.module_utils."


def loaded_after(module):
    """sys.modules of a fresh Python after importing module (and nothing else of ours)."""
    code = ("import json, sys; sys.path.insert(0, %r); import %s; print(json.dumps(sorted(sys.modules)))"
            % (COLLECTIONS, module))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize("entry, not_yet", [
    # a create: no restore, prune, swap, verification, sealing or API client; new ids without secrets (base64, hmac)
    ("_backup.gateway_backup_run", ["_backup.store_create", "_backup.store_restore", "_backup.store_prune",
                                    "_backup.restore_state", "_backup.data_swap", "_backup.verify",
                                    "_backup.sealed_backup", "_gateway.client", "secrets"]),
    # a listing never creates, restores or prunes
    ("_backup.gateway_backup_info_run", ["_backup.store_create", "_backup.store_restore", "_backup.store_prune",
                                         "_backup.file_copy", "secrets"]),
    # the quick check runs the profile's checks its own way: service_health's run is not its
    ("_service.loyalty_quick_check_run", ["_health.service_health_run"]),
    # the gateway client: the HTTP stack on the first request, the kept-alive transport for KeepAliveGatewayClient
    ("_gateway.client", ["_common.keepalive_transport", "ssl", "http.client", "urllib.request"]),
    # a public key from a PEM file sends no request
    ("_auditchain.audit_chain_verify_run", ["ssl", "urllib.request", "http.client"]),
])
def test_the_start_leaves_for_later_what_only_some_runs_use(entry, not_yet):
    loaded = loaded_after(MU + entry)
    assert MU + entry in loaded
    early = [name for name in not_yet if (MU + name if name.startswith("_") else name) in loaded]
    assert early == []


def test_the_old_import_paths_still_work():
    from ansible_collections.mcpops.runbooks.plugins.module_utils._common import secret_redaction
    from ansible_collections.mcpops.runbooks.plugins.module_utils._health import base_url, service_health_run

    assert service_health_run.check_base_url is base_url.check_base_url
    assert service_health_run.secret_values is secret_redaction.secret_values
