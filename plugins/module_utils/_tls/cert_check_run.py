# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_check's work: every target probed and every file read, classified, summed up, failed on fail_on.

The input is checked first; the targets are probed concurrently over TLS contexts shared by the whole run.

run(params, check_mode) returns the result dict or raises TaskError: for bad input (nothing was connected to),
for certificates at or past fail_on (with the result), or with library set when `cryptography` is missing.
No Ansible here.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import require_cryptography, utcnow
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_file_check import TrustAnchors, check_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.probe import TlsContexts, probe
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.target import TargetError, parse_targets

MAX_CONCURRENCY = 256


def check_input(params):
    """Parsed targets; raises TaskError before anything is touched."""
    if not params.get("targets") and not params.get("files"):
        raise TaskError("cert_check needs targets (host:port) or files (PEM paths) to check")
    try:
        targets = parse_targets(params.get("targets"))
        st.check_thresholds(params["warn_days"], params["critical_days"])
    except (TargetError, ValueError) as exc:
        raise TaskError("%s. Nothing was checked." % exc)
    if not 1 <= params["concurrency"] <= MAX_CONCURRENCY:
        raise TaskError("concurrency must be 1 to %d (got %d)" % (MAX_CONCURRENCY, params["concurrency"]))
    if params["timeout"] <= 0:
        raise TaskError("timeout must be more than 0 seconds (got %s)" % params["timeout"])
    ca_path = params.get("ca_path")
    if ca_path and not os.path.exists(ca_path):
        raise TaskError("ca_path %s does not exist on %s; give the CA bundle (PEM) or a hashed CA directory"
                        % (ca_path, os.uname()[1]))
    for path in params.get("files") or []:
        if not isinstance(path, str) or not path:
            raise TaskError("files: %r is not a path" % (path,))
    return targets


def run(params, check_mode=False):
    """Read-only: check mode changes nothing, as a real run changes nothing."""
    require_cryptography()
    targets = check_input(params)
    now = utcnow()
    rows = []
    if targets:
        contexts = TlsContexts(params.get("ca_path"))  # once a run, shared by every connection
        workers = min(params["concurrency"], len(targets))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(lambda t: probe(t, contexts, params["timeout"], now), targets))
    file_rows = []
    if params.get("files"):
        anchors = TrustAnchors(params.get("ca_path"))
        file_rows = [check_file(path, anchors, now) for path in params["files"]]
    for row in rows + file_rows:
        st.classify(row, params["warn_days"], params["critical_days"])
    result = {
        "changed": False,
        "checked_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "targets": rows,
        "files": file_rows,
        "summary": st.summarize(rows + file_rows),
    }
    bad = st.failing_rows(rows + file_rows, params["fail_on"])
    result["failed_checks"] = [st.describe(r) for r in bad]
    if bad:
        raise TaskError("%d of %d certificates are %s or worse (fail_on=%s): %s. Renew or fix them "
                        "(playbooks/cert-renewal.yml), or pass fail_on=never to only report."
                        % (len(bad), len(rows + file_rows), params["fail_on"], params["fail_on"],
                           "; ".join(result["failed_checks"])), result)
    return result
