"""Property-based: the scanner never raises and never lets a secret through unmasked."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_helpers import samples

from buildrunner.project import Project
from buildrunner.security import SecretScanner, SQLInjectionDetector, mask_secrets
from buildrunner.security.rules import ruleset

SCANNER = SecretScanner(Project(Path(__file__).parent))
DETECTOR = SQLInjectionDetector(Project(Path(__file__).parent))
SECRETS = list(samples().values())
HOSTILE = st.sampled_from(["(" * 500, "a" * 5000 + "!", "-----BEGIN PRIVATE KEY-----", "\r\n", "\x00", "\ud800", "${", "sk-", "'\"`", "password = "])


def _secrets_in(text: str) -> list[str]:
    return [h.secret for h in ruleset().find(text.encode("utf-8", "surrogatepass"))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(), st.sampled_from(SECRETS), HOSTILE), max_size=8), st.sampled_from(["", " ", "\n", "\r\n", "\t", '"']))
def test_scan_content_never_raises_and_never_emits_a_secret(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    matches = SCANNER.scan_content(text, "prop.txt")
    shown = "\n".join(f"{m.masked_value} {m.context}" for m in matches)
    for secret in _secrets_in(text):
        assert secret not in shown


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(SECRETS))
def test_scan_bytes_handles_any_bytes(noise: bytes, secret_line: str) -> None:
    data = noise + b"\n" + secret_line.encode() + b"\n" + noise
    matches = SCANNER.scan_bytes(data, "blob.bin")
    assert matches, "the embedded secret is found whatever surrounds it"
    for m in matches:
        for secret in _secrets_in(data.decode("utf-8", "replace")):
            assert secret not in m.context


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=80), st.sampled_from(SECRETS)), max_size=6))
def test_mask_secrets_removes_every_secret(parts: list[str]) -> None:
    text = " ".join(parts)
    masked = mask_secrets(text)
    for secret in _secrets_in(text):
        if len(secret) >= 12:
            assert secret not in masked


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_sql_detector_never_raises_on_any_text(code: str) -> None:
    for language in ("python", "javascript", "typescript"):
        DETECTOR.check_code(code, language=language)


# Self-identifying tokens: the value starts with the rule's keyword (`ghp_...`, `AKIA...`), so no context is needed
# (a Telegram bot token's keyword, `:A`, is in its middle: what precedes it is its bot's number).
TOKENS = [
    hit.secret for line in SECRETS for hit in ruleset().find(line.encode())
    if any(hit.secret.lower().startswith(keyword) for keyword in hit.rule.keywords) and not any(c.isspace() for c in hit.secret)
]
ESCAPES = st.sampled_from(["\\n", "\\r\\n", "\\t", "\\u000a", "\\x0a", "%0A", "%0d%0a", "%20", "%22", "%3D", "%26", "\\0", "\x1b[32m", "\x1b[1;31m"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TOKENS), ESCAPES, ESCAPES, st.sampled_from(["", "line1", '{"msg": "x', "a=1&b="]))
def test_a_token_glued_to_an_escape_sequence_is_found_and_masked(token: str, before: str, after: str, lead: str) -> None:
    """JSON output and query strings write a break as `\\n` or `%0A`: the token after one still starts a word.

    A captured agent log line `{"output": "line1\\nAKIA..."}` must not keep the key whole (gitleaks' `\\b` misses it)."""
    text = f"{lead}{before}{token}{after}tail"
    assert token in [h.secret for h in ruleset().find(text.encode())]
    assert token not in mask_secrets(text)


def test_reading_escapes_as_breaks_finds_no_secret_in_ordinary_escaped_text() -> None:
    """The second reading runs where a keyword follows an escape; it only adds boundaries: names, placeholders and
    prose right after `\\n`, `%0A` or a colour stay clean."""
    text = (
        'print("Usage:\\ntoken_count: int = 5\\npassword_hint=see the docs")\n'
        'url = "a?next=%2Fhome%0Aapi_key=${API_KEY}"\n'
        "log = '\x1b[32mtoken refreshed\x1b[0m'\n"
    )
    data = text.encode()
    assert ruleset()._triggered(data)[1], "a keyword right after an escape: the second reading runs"
    assert ruleset().find(data) == []
