"""Masking: the only form in which a secret ever leaves the scanner.

Telemetry masks event text and the parallel runner masks captured task logs with
`mask_secrets`; every report shows `mask_value` of a secret, never the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from buildrunner.security.rules import Rule

MIN_VISIBLE_LENGTH = 12
FULL_ENDS_LENGTH = 16  # from this length 4 characters of each end show (the spec's example); below it 2 (a 12-character password showed 8)
HIDDEN = "****"


def mask_value(value: str) -> str:
    """First 4 + "..." + last 4 characters (2 and 2 of a value under FULL_ENDS_LENGTH, so at most a third of it shows);
    "****" when the value is too short to show any of it."""
    if len(value) < MIN_VISIBLE_LENGTH:
        return HIDDEN
    ends = 4 if len(value) >= FULL_ENDS_LENGTH else 2
    return f"{value[:ends]}...{value[-ends:]}"


def mask_spans(data: bytes, spans: list[tuple[int, int, str]]) -> str:
    """`data` decoded with each (start, end, masked) span replaced by `masked`, the secret's masked form."""
    out: list[str] = []
    pos = 0
    for start, end, masked in sorted(spans):
        if start < pos:
            start = pos
        if end <= start:
            continue
        out.append(data[pos:start].decode("utf-8", "replace"))
        out.append(masked)
        pos = end
    out.append(data[pos:].decode("utf-8", "replace"))
    return "".join(out)


def _mask_copies(text: str, secrets: set[str]) -> str:
    """Mask every remaining occurrence of `secrets` in one pass (Aho-Corasick, longest match first)."""
    if not secrets:
        return text
    import ahocorasick  # it and security.rules only when text is masked: most commands import this module and mask nothing

    automaton = ahocorasick.Automaton()
    for secret in secrets:
        automaton.add_word(secret, secret)
    automaton.make_automaton()
    out: list[str] = []
    pos = 0
    for end, secret in automaton.iter_long(text):
        start = end - len(secret) + 1
        out.append(text[pos:start])
        out.append(mask_value(secret))
        pos = end + 1
    if pos == 0:
        return text
    out.append(text[pos:])
    return "".join(out)


def masked_line(text: str, limit: int) -> str:
    """`text` on one line of at most `limit` characters, its secrets masked before it is cut (a secret cut short is
    one no rule knows, and would be kept nearly whole)."""
    line = mask_secrets(" ".join(str(text).split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def mask_secrets(text: str, rules: "Iterable[Rule] | None" = None) -> str:
    """`text` with every secret the shipped rules find replaced by its masked form.

    Never raises: if detection itself fails, the whole text is withheld rather
    than risk passing a secret through.
    """
    try:
        from buildrunner.security.rules import ruleset  # (which imports this module)

        data = text.encode("utf-8", "surrogatepass")
        hits = ruleset(rules).find(data)
        if not hits:
            return text
        masked = mask_spans(data, [(h.start, h.end, h.masked) for h in hits])
        return _mask_copies(masked, {h.secret for h in hits if len(h.secret) >= 4})
    except Exception:  # noqa: BLE001 - masking must never break the caller
        return "[text withheld: secret masking failed]"
