"""A throw-away certificate authority for the lab and the tests, made with `cryptography` at start.

Nothing here is ever committed: every key is generated into a directory the caller owns (the lab's
state dir or a pytest tmp dir), private keys 0600. Keys are EC P-256 (fast to make, so a bench can
issue hundreds of leaves); `rsa_bits` gives an RSA key where a test wants one.
"""

import datetime as _dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ONE_DAY = _dt.timedelta(days=1)


def _now():
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def new_key(rsa_bits=None):
    if rsa_bits:
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcpops lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


class Issued:
    """A certificate with its key (and, for a leaf, the chain above it up to but not including the root)."""

    def __init__(self, cert, key, chain=()):
        self.cert, self.key, self.chain = cert, key, list(chain)

    @property
    def serial(self):
        return self.cert.serial_number

    def cert_pem(self, with_chain=True):
        certs = [self.cert] + (self.chain if with_chain else [])
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, cert_path, key_path, with_chain=True):
        """Write the cert (plus chain) and the key (0600); returns the two paths."""
        write_file(cert_path, self.cert_pem(with_chain), 0o644)
        write_file(key_path, self.key_pem(), 0o600)
        return str(cert_path), str(key_path)


def write_file(path, data, mode):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".%s.tmp" % path.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class TestCA:
    """A root (and optionally an intermediate) that issues leaves for loopback names."""

    __test__ = False  # not a pytest class

    def __init__(self, name="mcpops lab test root", days=3650, with_intermediate=True):
        self.root = self._make_ca(name, days, issuer=None)
        self.intermediate = (self._make_ca(name.replace("root", "intermediate"), days, issuer=self.root)
                             if with_intermediate else None)

    @staticmethod
    def _make_ca(common_name, days, issuer):
        key = new_key()
        now = _now()
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name))
                   .issuer_name(issuer.cert.subject if issuer else _name(common_name))
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - ONE_DAY)
                   .not_valid_after(now + _dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0),
                                  critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
        return Issued(cert, key)

    def save(self, directory):
        """Keep the CA (certs 0644, keys 0600) so that the lab can issue again after a restart."""
        directory = Path(directory)
        self.root.write(directory / "root.crt", directory / "root.key", with_chain=False)
        if self.intermediate:
            self.intermediate.write(directory / "intermediate.crt", directory / "intermediate.key", with_chain=False)

    @classmethod
    def load(cls, directory):
        directory = Path(directory)
        ca = cls.__new__(cls)
        ca.root = _load_issued(directory / "root.crt", directory / "root.key")
        inter = directory / "intermediate.crt"
        ca.intermediate = _load_issued(inter, directory / "intermediate.key") if inter.exists() else None
        return ca

    @property
    def issuer(self):
        return self.intermediate or self.root

    def root_pem(self):
        return self.root.cert_pem(with_chain=False)

    def write_root(self, path):
        write_file(path, self.root_pem(), 0o644)
        return str(path)

    def issue(self, names, *, days=90, not_before=None, not_after=None, key=None, rsa_bits=None):
        """A server leaf for `names` (DNS names or IPs), valid `days` from now unless dates are given."""
        key = key or new_key(rsa_bits)
        now = _now()
        not_before = not_before or now - ONE_DAY
        not_after = not_after or now + _dt.timedelta(days=days, hours=1)  # days_left reads `days`
        issuer = self.issuer
        cert = (x509.CertificateBuilder()
                .subject_name(_name(names[0]))
                .issuer_name(issuer.cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before)
                .not_valid_after(not_after)
                .add_extension(_san(names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                               critical=False)
                .sign(issuer.key, hashes.SHA256()))
        return Issued(cert, key, [self.intermediate.cert] if self.intermediate else [])


def _load_issued(cert_path, key_path):
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    return Issued(cert, key)


def self_signed(names, days=90):
    key = new_key()
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(_name(names[0])).issuer_name(_name(names[0]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - ONE_DAY).not_valid_after(now + _dt.timedelta(days=days))
            .add_extension(_san(names), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


# The certificate cases of the lab (issue 5): name -> what the server presents.
CASES = ("valid", "expiring", "expired", "wrong-host", "self-signed", "untrusted-root", "incomplete-chain")
EXPIRING_DAYS = 5


def make_cases(directory, host="127.0.0.1", ca=None):
    """Write one cert/key pair a case under `directory`; returns (ca, {case: {"cert", "key"}}, root path).

    Every case is issued for `host` except wrong-host (issued for another name); the trusted root is the
    lab CA's; untrusted-root is issued by a second CA whose root the server sends but nobody trusts;
    incomplete-chain is the lab CA's leaf without its intermediate."""
    directory = Path(directory)
    ca = ca or TestCA()
    stranger = TestCA(name="mcpops untrusted root", with_intermediate=False)
    now = _now()
    leaves = {
        "valid": (ca.issue([host, "localhost"]), True),
        "expiring": (ca.issue([host], not_after=now + _dt.timedelta(days=EXPIRING_DAYS, hours=1)), True),
        "expired": (ca.issue([host], not_before=now - _dt.timedelta(days=90), not_after=now - ONE_DAY * 2), True),
        "wrong-host": (ca.issue(["wrong-host.invalid"]), True),
        "self-signed": (self_signed([host]), True),
        "untrusted-root": (stranger.issue([host]), True),
        "incomplete-chain": (ca.issue([host]), False),
    }
    paths = {}
    for case, (issued, with_chain) in leaves.items():
        if case == "untrusted-root":
            issued.chain = [stranger.root.cert]  # the server sends its root: still not trusted here
        cert, key = issued.write(directory / ("%s.crt" % case), directory / ("%s.key" % case), with_chain)
        paths[case] = {"cert": cert, "key": key, "serial": issued.serial}
    root = ca.write_root(directory / "ca.crt")
    return ca, paths, root
