"""PINs typed at a terminal prompt (never on a command line), and a token dir that already holds a token refused."""

import sys

import pytest

from mcpops.lab.hsm.softhsm_token import TokenError, answer_prompts, init_token

PROMPTER = ("import getpass, sys\n"
            "a = getpass.getpass('Please enter PIN: ')\n"
            "b = getpass.getpass('Please reenter PIN: ')\n"
            "print('same' if a == b == sys.argv[1] else 'different')\n")


def test_each_prompt_gets_its_answer_and_the_transcript_holds_no_pin():
    rc, transcript = answer_prompts([sys.executable, "-c", PROMPTER, "s3cret-pin"], ["s3cret-pin", "s3cret-pin"],
                                    env=None, timeout=20)
    assert rc == 0 and "same" in transcript and transcript.count("s3cret-pin") == 0


def test_a_second_init_is_refused(tmp_path):
    (tmp_path / "tokens" / "some-token").mkdir(parents=True)
    with pytest.raises(TokenError, match="already holds a token"):
        init_token(tmp_path)
