"""The build discipline both cached images share (mcpops.lab.recipe_build)."""

import sys

import pytest

from mcpops.lab import recipe_build


class BuildFailed(Exception):
    pass


def test_the_hash_is_canonical_and_follows_every_field():
    assert recipe_build.recipe_hash({"a": 1, "b": [2]}) == recipe_build.recipe_hash({"b": [2], "a": 1})
    assert recipe_build.recipe_hash({"a": 1}) != recipe_build.recipe_hash({"a": 2})
    assert len(recipe_build.recipe_hash({})) == 16


def test_a_fresh_work_dir_clears_interrupted_builds_of_its_digest_only(tmp_path):
    (tmp_path / ".build-abc-1").mkdir()
    (tmp_path / ".build-abc-1" / "half").write_text("x")
    (tmp_path / ".build-other-2").mkdir()
    work = recipe_build.fresh_work_dir(tmp_path, "abc")
    assert work.is_dir() and work.name.startswith(".build-abc-")
    assert not (tmp_path / ".build-abc-1").exists()
    assert (tmp_path / ".build-other-2").exists()


def test_moving_into_place_replaces_a_half_built_entry(tmp_path):
    final = tmp_path / "abc"
    final.mkdir()
    (final / "leftover").write_text("half")
    work = recipe_build.fresh_work_dir(tmp_path, "abc")
    (work / "image.json").write_text("{}")
    recipe_build.move_into_place(work, final)
    assert sorted(p.name for p in final.iterdir()) == ["image.json"]
    assert not work.exists()


def test_a_failed_command_raises_the_callers_error_with_its_last_lines_and_hint(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('line one'); print('the reason'); sys.exit(3)"]
    with pytest.raises(BuildFailed) as caught:
        recipe_build.run_logged(argv, tmp_path / "log", 30, BuildFailed, "check the mirror")
    message = str(caught.value)
    assert "exited 3" in message and "the reason" in message and message.endswith("check the mirror")


def test_a_command_past_its_timeout_raises(tmp_path):
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(BuildFailed, match="did not finish within 1s"):
        recipe_build.run_logged(argv, tmp_path / "log", 1, BuildFailed)


def test_the_lock_is_taken_and_given_back(tmp_path):
    with recipe_build.build_lock(tmp_path):
        assert (tmp_path / ".build.lock").exists()
    with recipe_build.build_lock(tmp_path):  # given back: a second take does not block
        pass
