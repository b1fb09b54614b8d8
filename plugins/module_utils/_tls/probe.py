# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connect to one TLS endpoint and report its certificate, its chain and why a client would refuse it.

The contexts are built once a run (TlsContexts) and shared by every connection: building one with a trust
store costs tens of milliseconds (the store is parsed each time), more than a loopback handshake.
`verifying` checks the chain against the trust store (hostnames are checked here, from the SANs, so
that a wrong-host certificate is told apart from an untrusted one); `inspecting` verifies nothing and
is used only for a server whose chain failed, to still read what it presents.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import (
    cert_facts,
    is_expired,
    is_not_yet_valid,
    is_self_issued,
    load_der,
    utcnow,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.hostname import hostname_matches

# OpenSSL X509_V_ERR_* codes that name the chain problem
_EXPIRED = 10
_NOT_YET_VALID = 9
_SELF_SIGNED_LEAF = 18
_SELF_SIGNED_IN_CHAIN = 19
_ISSUER_UNKNOWN_LOCALLY = 20
_LEAF_SIGNATURE_UNVERIFIABLE = 21
_ISSUER_UNKNOWN = 2
_HOSTNAME_MISMATCH = 62


def inspecting_context():
    """A client context that verifies nothing. A bare one: create_default_context() would parse the system
    trust store (20-35 ms, a third of a 50-endpoint run) for a context that never looks at it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TlsContexts(object):
    def __init__(self, ca_path=None):
        self.ca_path = ca_path
        in_dir = bool(ca_path) and os.path.isdir(ca_path)
        self.verifying = ssl.create_default_context(cafile=ca_path if ca_path and not in_dir else None,
                                                    capath=ca_path if in_dir else None)
        self.verifying.check_hostname = False  # checked from the SANs (hostname.py)
        self._inspecting = None
        self._lock = threading.Lock()

    @property
    def inspecting(self):
        """Built on the first chain that fails to verify: a run whose chains all verify never needs it."""
        with self._lock:
            if self._inspecting is None:
                self._inspecting = inspecting_context()
            return self._inspecting


def _chain(sock, verified):
    """DER of the chain: the one OpenSSL verified (leaf .. root) or the one the server sent.
    Public since Python 3.13; the same methods exist on the private _sslobj since 3.10."""
    name = "get_verified_chain" if verified else "get_unverified_chain"
    getter = getattr(sock, name, None) or getattr(getattr(sock, "_sslobj", None), name, None)
    if getter is None:
        return None
    try:
        certs = getter() or []
    except (ssl.SSLError, ValueError):
        return None
    import _ssl  # the C module behind ssl: its certificate objects and their DER encoding constant

    return [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in certs]


def _handshake(target, context, timeout):
    raw = socket.create_connection((target.host, target.port), timeout=timeout)
    try:
        raw.settimeout(timeout)
        server_name = None if _is_ip(target.server_name) else target.server_name
        return context.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _connection_error(exc, target, timeout):
    if isinstance(exc, ConnectionRefusedError):
        return st.REFUSED, "connection to %s refused: nothing listens there" % target.label
    if isinstance(exc, socket.timeout):
        return st.TIMEOUT, "no TLS answer from %s within %ss" % (target.label, timeout)
    if isinstance(exc, socket.gaierror):
        return st.UNREACHABLE, "cannot resolve %s: %s" % (target.host, exc)
    if isinstance(exc, (ConnectionResetError, ssl.SSLEOFError)):
        return st.HANDSHAKE, "%s closed the connection during the TLS handshake" % target.label
    if isinstance(exc, ssl.SSLError):
        return st.HANDSHAKE, "TLS handshake with %s failed: %s" % (target.label, exc.reason or exc)
    return st.UNREACHABLE, "cannot connect to %s: %s" % (target.label, exc)


def chain_reason(code, message, presented, leaf):
    """(reason, words) for an OpenSSL verification failure; presented = the certs the server sent."""
    if code == _EXPIRED:
        return st.EXPIRED, "a certificate in the chain has expired"
    if code == _NOT_YET_VALID:
        return st.NOT_YET_VALID, "a certificate in the chain is not valid yet"
    if code == _SELF_SIGNED_LEAF:
        return st.SELF_SIGNED, "the certificate is self-signed and not in the trust store"
    if code == _SELF_SIGNED_IN_CHAIN:
        return st.UNTRUSTED, "the chain ends at a root that is not in the trust store"
    if code in (_ISSUER_UNKNOWN_LOCALLY, _LEAF_SIGNATURE_UNVERIFIABLE, _ISSUER_UNKNOWN):
        if leaf is not None and len(presented) <= 1 and not is_self_issued(leaf):
            return st.INCOMPLETE_CHAIN, ("the server sends no intermediate and the leaf's issuer (%s) is not in the "
                                         "trust store: serve the full chain (fullchain.pem)"
                                         % leaf.issuer.rfc4514_string())
        top = presented[-1] if presented else None
        if top is not None and leaf is not None and top.issuer != leaf.issuer and not any(
                c.subject == leaf.issuer for c in presented[1:]):
            return st.INCOMPLETE_CHAIN, "the chain the server sends does not hold the leaf's issuer (%s)" % (
                leaf.issuer.rfc4514_string())
        return st.UNTRUSTED, "the issuer %s of the chain's top certificate is not in the trust store" % (
            top.issuer.rfc4514_string() if top is not None else "?")
    return st.UNTRUSTED, "certificate verification failed: %s" % message


def probe(target, contexts, timeout, now=None):
    """One row for one target; never raises for what the network or the server does."""
    row = st.new_row(verified_chain_length=None, elapsed_ms=None, **target.as_dict())
    started = time.monotonic()
    sock = None
    try:
        try:
            sock = _handshake(target, contexts.verifying, timeout)
            row["chain_verified"] = True
            verified = _chain(sock, True)
            row["verified_chain_length"] = len(verified) if verified is not None else None
        except ssl.SSLCertVerificationError as exc:
            row["chain_verified"] = False
            row["_verify"] = (exc.verify_code, exc.verify_message)
            sock = _handshake(target, contexts.inspecting, timeout)
        row["tls_version"] = sock.version()
        leaf_der = sock.getpeercert(binary_form=True)
        presented = _chain(sock, False)
        if presented is None:
            presented = [leaf_der]
    except (OSError, ValueError) as exc:
        row.pop("_verify", None)
        row["reason"], row["message"] = _connection_error(exc, target, timeout)
        row["elapsed_ms"] = int((time.monotonic() - started) * 1000)
        return row
    finally:
        if sock is not None:
            sock.close()
    now = now or utcnow()
    leaf = load_der(leaf_der)
    row.update(cert_facts(leaf, now))
    row["chain_length"] = len(presented)
    row["expired"] = is_expired(leaf, now)
    row["hostname_match"] = hostname_matches(target.server_name, row["sans"])
    verify = row.pop("_verify", None)
    if verify is not None:
        reason, words = chain_reason(verify[0], verify[1], [load_der(d) for d in presented], leaf)
        row["chain_error"] = "%s (OpenSSL %d: %s)" % (words, verify[0], verify[1])
        if reason != st.EXPIRED or not row["expired"]:  # an expired intermediate under a valid leaf is an error
            row["reason"], row["message"] = reason, words
    elif is_not_yet_valid(leaf, now):
        row["reason"], row["message"] = st.NOT_YET_VALID, "the certificate is not valid before %s" % row["not_before"]
    if row["reason"] is None and not row["hostname_match"]:
        row["reason"] = st.WRONG_HOST
        row["message"] = "the certificate does not cover %s (it names %s)" % (
            target.server_name, ", ".join(row["sans"]) or row["subject"])
    row["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    return row
