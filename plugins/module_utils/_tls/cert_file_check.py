# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One row for a PEM certificate or bundle on the host: its facts and whether it chains to a trust anchor.

The facts are the first certificate's; the bundle must chain, certificate by certificate, up to an anchor of
the trust store.

TrustAnchors is read once a run (ca_path, else the system CA file) and shared by every file.
"""

from __future__ import annotations

import os
import ssl

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import (
    cert_facts,
    is_expired,
    is_self_issued,
    load_pem_bundle,
    utcnow,
)


class TrustAnchors(object):
    def __init__(self, ca_path=None):
        self.source = ca_path or _default_cafile()
        self.by_subject = {}
        self.error = None
        paths = []
        if self.source and os.path.isdir(self.source):
            paths = [os.path.join(self.source, n) for n in sorted(os.listdir(self.source))]
        elif self.source:
            paths = [self.source]
        else:
            self.error = "no trust store: give ca_path"
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    certs = load_pem_bundle(fh.read())
            except (OSError, ValueError):
                if path == self.source:
                    self.error = "cannot read the trust store %s as PEM certificates" % path
                continue
            for cert in certs:
                self.by_subject.setdefault(cert.subject, []).append(cert)

    def issuer_of(self, cert):
        for anchor in self.by_subject.get(cert.issuer, []):
            if _issued_by(cert, anchor):
                return anchor
        return None


def _default_cafile():
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.exists(candidate):
            return candidate
    return paths.capath if paths.capath and os.path.isdir(paths.capath) else None


def _issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # ValueError, TypeError, InvalidSignature: not this issuer
        return False


def verify_bundle(certs, anchors):
    """(reason or None, words or None): does certs[0] chain through certs[1:] to a trust anchor?"""
    for child, parent in zip(certs, certs[1:]):
        if not _issued_by(child, parent):
            return st.INCOMPLETE_CHAIN, "%s is not issued by the next certificate of the bundle (%s)" % (
                child.subject.rfc4514_string(), parent.subject.rfc4514_string())
    top = certs[-1]
    if any(a == top for a in anchors.by_subject.get(top.subject, [])) or anchors.issuer_of(top) is not None:
        return None, None
    if anchors.error:
        return st.UNTRUSTED, anchors.error
    if is_self_issued(top):
        if len(certs) == 1:
            return st.SELF_SIGNED, "the certificate is self-signed and not in the trust store %s" % anchors.source
        return st.UNTRUSTED, "the bundle ends at a root that is not in the trust store %s" % anchors.source
    if len(certs) == 1:
        return st.INCOMPLETE_CHAIN, ("the file holds no intermediate and the issuer (%s) is not in the trust "
                                     "store %s" % (top.issuer.rfc4514_string(), anchors.source))
    return st.UNTRUSTED, "the issuer %s of the bundle's top certificate is not in the trust store %s" % (
        top.issuer.rfc4514_string(), anchors.source)


def check_file(path, anchors, now=None):
    row = st.new_row(path=path)
    try:
        with open(path, "rb") as fh:
            certs = load_pem_bundle(fh.read())
    except (OSError, ValueError) as exc:
        row["reason"] = st.UNREADABLE
        row["message"] = "cannot read %s as PEM certificates: %s" % (path, getattr(exc, "strerror", None) or exc)
        return row
    now = now or utcnow()
    row.update(cert_facts(certs[0], now))
    row["chain_length"] = len(certs)
    row["expired"] = is_expired(certs[0], now)
    reason, words = verify_bundle(certs, anchors)
    row["chain_verified"] = reason is None
    if reason:
        row["chain_error"] = words
        row["reason"], row["message"] = reason, words
    return row
