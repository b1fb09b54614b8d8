"""A conf file replaced only when nginx -t takes the new text: kept mode, the old bytes back on a refusal or a test
that could not run, links followed to the file they name, one writer per directory."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import validated_write as vw
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError


class FakeNginx:
    """nginx -t that refuses any text with BAD in the file, as nginx would refuse an unknown directive."""

    def __init__(self, path):
        self.path = path
        self.seen = []

    def test(self):
        text = open(self.path).read()
        self.seen.append(text)
        return ("BAD" not in text), ("nginx: [emerg] unknown directive \"BAD\"" if "BAD" in text else "")


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "site.conf"
    path.write_bytes(b"server_tokens off;\n")
    os.chmod(path, 0o640)
    return path


def test_a_taken_text_stays_with_its_mode_and_a_refused_one_is_undone(conf):
    nginx = FakeNginx(str(conf))
    vw.write_checked(str(conf), b"server_tokens off;\n", b"server_tokens on;\n", nginx)
    assert conf.read_bytes() == b"server_tokens on;\n" and oct(conf.stat().st_mode & 0o777) == "0o640"
    with pytest.raises(vw.Rejected) as err:
        vw.write_checked(str(conf), b"server_tokens on;\n", b"BAD on;\n", nginx)
    assert 'unknown directive "BAD"' in err.value.said and nginx.seen[-1] == "BAD on;\n"
    assert conf.read_bytes() == b"server_tokens on;\n"
    assert sorted(os.listdir(conf.parent)) == ["site.conf"]


def test_a_test_that_cannot_run_puts_the_old_bytes_back(conf):
    class Broken:
        def test(self):
            raise OSError("nginx vanished")

    with pytest.raises(OSError):
        vw.write_checked(str(conf), b"server_tokens off;\n", b"server_tokens on;\n", Broken())
    assert conf.read_bytes() == b"server_tokens off;\n"


def test_links_are_followed_and_non_files_refused(conf, tmp_path):
    link = tmp_path / "enabled.conf"
    os.symlink(conf.name, link)
    assert vw.conf_file(str(link)) == str(conf)
    with pytest.raises(ConfError, match="is not a regular file"):
        vw.conf_file(str(tmp_path))
    with pytest.raises(ConfError, match="is not a regular file"):
        vw.conf_file(str(tmp_path / "missing.conf"))


def test_one_writer_per_directory(conf):
    with vw.DirectoryLock(str(conf)):
        with pytest.raises(ConfError, match="another run is editing"):
            with vw.DirectoryLock(str(conf), wait=0.1):
                pass
    with vw.DirectoryLock(str(conf), wait=0.1):
        pass
