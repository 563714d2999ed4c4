"""Masking: the only form a secret is ever shown in (also used by telemetry and the parallel runner)."""

from __future__ import annotations

from security_helpers import rnd, samples

from buildrunner.security import mask_secrets, mask_value


def test_mask_value_keeps_four_and_four() -> None:
    assert mask_value("sk-" + "ant-abc123def456xyz") == "sk-a...6xyz"


def test_a_short_value_shows_two_characters_of_each_end() -> None:
    """A 12-character password showed 8 of its 12 characters ("Summ...24!x")."""
    assert mask_value("Summer2024!x") == "Su...!x"
    assert mask_value("a" * 11 + "b" * 4) == "aa...bb"
    assert mask_value("a" * 12 + "b" * 4) == "aaaa...bbbb"


def test_short_values_are_hidden_entirely() -> None:
    assert mask_value("hunter2") == "****"
    assert mask_value("a" * 11) == "****"
    assert mask_value("") == "****"


def test_mask_secrets_replaces_every_secret_and_keeps_the_rest() -> None:
    s = samples()
    text = "start\n" + s["github_token"] + "\nmiddle " + s["database_url"] + "\nend"
    masked = mask_secrets(text)
    assert masked.startswith("start\n") and masked.endswith("\nend") and "middle" in masked
    for line in (s["github_token"], s["database_url"]):
        secret = line.split('"')[1]
        assert secret not in masked
    assert "ghp_..." in masked


def test_mask_secrets_masks_multi_line_private_keys() -> None:
    key = samples()["private_key"]
    masked = mask_secrets("log line\n" + key + "\nafter")
    body_line = key.splitlines()[3]
    assert body_line not in masked and "after" in masked


def test_mask_secrets_returns_clean_text_unchanged() -> None:
    text = "nothing secret here: " + rnd(20)
    assert mask_secrets(text) == text


def test_mask_secrets_accepts_lone_surrogates_and_huge_text() -> None:
    assert mask_secrets("bad \udcff text") == "bad \udcff text"
    big = ("x" * 1000 + "\n") * 20_000 + samples()["gitlab_token"]
    assert "glpa..." in mask_secrets(big)[-200:]
