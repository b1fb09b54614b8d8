"""Putting a pair in place: each file's mode and owner kept, a key never world-readable, a backup that can be put
back, and a directory that is not a backup refused."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_swap import (
    CertSwapError,
    backup_pair,
    install_pair,
    read_backup,
    read_optional,
)


def mode(path):
    return os.stat(path).st_mode & 0o777


def test_new_files_get_0644_and_0600(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    install_pair(str(cert), str(key), b"CERT", b"KEY")
    assert (cert.read_bytes(), key.read_bytes()) == (b"CERT", b"KEY")
    assert (mode(cert), mode(key)) == (0o644, 0o600)


def test_modes_are_kept_but_a_key_loses_world_access(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(b"old")
    key.write_bytes(b"old")
    os.chmod(cert, 0o640)
    os.chmod(key, 0o644)
    install_pair(str(cert), str(key), b"CERT2", b"KEY2")
    assert (mode(cert), mode(key)) == (0o640, 0o640)
    assert not [n for n in os.listdir(tmp_path) if n not in ("c.pem", "k.pem")]  # no temp file left


def test_backup_and_read_back(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    install_pair(str(cert), str(key), b"CERT", b"KEY")
    backup = backup_pair(str(cert), str(key), str(tmp_path / "backups"), "ABC")
    assert os.path.basename(backup).split("-")[1] == "ABC" and mode(tmp_path / "backups") == 0o700
    assert mode(os.path.join(backup, "key.pem")) == 0o600
    data = read_backup(backup)
    assert data[:2] == (b"CERT", b"KEY")
    assert data[2]["cert_path"] == str(cert) and data[2]["serial"] == "ABC"
    with open(os.path.join(backup, "backup.json")) as fh:
        assert "KEY" not in json.dumps(json.load(fh))


def test_what_is_not_a_backup_or_not_readable(tmp_path):
    with pytest.raises(CertSwapError, match="is not a certificate backup made by cert_install"):
        read_backup(str(tmp_path))
    assert read_optional(str(tmp_path / "none")) is None
    with pytest.raises(CertSwapError, match="cannot read"):
        backup_pair(str(tmp_path / "none.pem"), str(tmp_path / "none.key"), str(tmp_path / "b"), "X")
