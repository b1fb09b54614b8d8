"""mcpops.lab.prebuild: each cached artifact ensured once, in order; a failure reported and the next one built."""

from mcpops.lab import prebuild

ENSURED = []


class Cached:
    def __init__(self, out=None):
        pass

    def ready(self):
        return True

    def ensure(self):
        ENSURED.append("cached")  # must not happen: a ready artifact is not rebuilt


class Missing(Cached):
    def ready(self):
        return False

    def ensure(self):
        ENSURED.append("missing")


class Broken(Missing):
    def ensure(self):
        raise RuntimeError("debootstrap not found")


def test_ready_artifacts_are_left_alone_missing_ones_built_and_a_failure_does_not_stop_the_rest():
    ENSURED.clear()
    lines = []
    builds = (("one", __name__, "Cached"), ("two", __name__, "Broken"), ("three", __name__, "Missing"))
    results = prebuild.prebuild(builds, out=lines.append)
    assert ENSURED == ["missing"]
    assert results["one"] == "cached"
    assert results["two"] == "failed: RuntimeError: debootstrap not found"
    assert results["three"].startswith("built in ")
    assert lines[-1].startswith("prebuild: three: built in ")


def test_an_unknown_build_name_is_refused(capsys):
    assert prebuild.main(["nonsense"]) == 2
    assert "unknown build nonsense" in capsys.readouterr().err


def test_the_builds_are_the_three_lab_caches_fleet_first():
    assert [b[0] for b in prebuild.BUILDS] == ["fleet image", "compose base image", "Kubernetes binaries"]
