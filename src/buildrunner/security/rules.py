"""Secret rules as data, compiled into one engine: Aho-Corasick keywords, then RE2.

The shipped rules live in `rules.toml`; users add theirs under `security.rules`.
Matching runs on raw bytes so offsets are byte offsets and invalid UTF-8 never
raises; only the matched secret is decoded (for masking and filtering).
"""

from __future__ import annotations

import base64
import bisect
import difflib
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterable

from buildrunner.errors import ConfigError
from buildrunner.security.masking import mask_value

if TYPE_CHECKING:
    from buildrunner.security.settings import SecuritySettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

SEVERITIES = ("high", "medium", "low")


# Escape sequences of string literals, logs and URLs (`\\n`, `\\t`, `\\u000a`, `\\x0a`, any `%XX`) and terminal colours
# (`ESC[32m`): in JSON, captured task output and query strings they stand for a break or for nothing, so a token
# written right after one starts a word there. When a rule that needs a word boundary has a keyword right after one,
# it also reads the text with each escape as spaces of its length (offsets kept). Only before a keyword: after a
# token, an escape's `\\`, `%` or ESC is a boundary already.
_ESCAPE_PATTERN = rb"\\(?:[nrtfvb0]|u00[0-9a-fA-F]{2}|x[0-9a-fA-F]{2})|%[0-9a-fA-F]{2}|\x1b\[[0-9;]{0,12}m"
_ESCAPE = re.compile(_ESCAPE_PATTERN)
_ESCAPE_ENDS = re.compile(rb"(?:" + _ESCAPE_PATTERN + rb")\Z")
_ESCAPE_LONGEST = 16  # ESC [ 12 digits or ; m
_ESCAPE_LAST = frozenset(b"0123456789abcdefnrtvxABCDEFm")  # the last byte of every escape
_WORD_BOUNDARY = re.compile(r"\\b|\(\?:\^\|\[\^")  # `\b`, or a guard such as `(?:^|[^A-Za-z0-9+/])`


def _escapes_as_spaces(data: bytes) -> bytes | None:
    """`data` with every escape sequence replaced by as many spaces; None when it holds none."""
    view, count = _ESCAPE.subn(lambda m: b" " * len(m.group()), data)
    return view if count else None


_C_LOG_C = [0.0] + [c * math.log2(c) for c in range(1, 4097)]


def shannon_entropy(value: str) -> float:
    """Bits per character: random keys score high, words and repeats low.

    H = log2(n) - sum(c * log2 c) / n, with c * log2 c from a table (this runs once per candidate).
    """
    n = len(value)
    if n == 0:
        return 0.0
    table = _C_LOG_C
    counts = Counter(value).values()
    total = sum(table[c] if c < 4097 else c * math.log2(c) for c in counts)
    return math.log2(n) - total / n


def _is_encoded_prose(value: str) -> bool:
    """Base64 of plain words ("not a password") is documentation, not a key."""
    if len(value) % 4 or len(value) < 12:
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    return " " in decoded and all(c.isalpha() or c in " .,'-" for c in decoded)


@dataclass(frozen=True)
class Rule:
    """One detection rule (see the header of `rules.toml` for the fields)."""

    id: str
    regex: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    allow: tuple[str, ...] = ()
    placeholders: bool = True
    severity: str = "high"
    generic: bool = False
    keep: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    decoded: str = ""
    mask_shows: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str) -> "Rule":
        try:
            rule = cls(
                id=str(raw["id"]),
                regex=str(raw["regex"]),
                description=str(raw.get("description", "")),
                keywords=tuple(str(k).lower() for k in raw.get("keywords", ())),
                entropy=None if raw.get("entropy") is None else float(raw["entropy"]),
                allow=tuple(str(a) for a in raw.get("allow", ())),
                placeholders=bool(raw.get("placeholders", True)),
                severity=str(raw.get("severity", "high")),
                generic=bool(raw.get("generic", False)),
                keep=tuple(str(k) for k in raw.get("keep", ())),
                paths=tuple(str(p) for p in raw.get("paths", ())),
                decoded=str(raw.get("decoded") or ""),
                mask_shows=str(raw.get("mask_shows") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: bad secret rule {raw.get('id', '?')!r}: {exc}", hint="each rule needs id and regex") from None
        if rule.severity not in SEVERITIES:
            raise ConfigError(f"{source}: rule {rule.id}: severity {rule.severity!r}", hint="use high, medium or low")
        return rule


@dataclass(frozen=True)
class Hit:
    """A raw detection: the byte offsets of the secret and its (decoded) value."""

    rule: Rule
    start: int
    end: int
    secret: str

    @property
    def masked(self) -> str:
        """How the secret is shown: `mask_value`, or what the rule's `mask_shows` picks out of it (a private key's
        BEGIN line) followed by ` …`."""
        return masked_form(self.rule, self.secret)


def masked_form(rule: Rule, secret: str) -> str:
    if rule.mask_shows:
        shown = _compiled_pattern(rule.mask_shows).search(secret.encode("utf-8", "surrogatepass"))
        if shown is not None and shown.group():
            return shown.group().decode("utf-8", "replace") + " …"
    return mask_value(secret)


@lru_cache(maxsize=64)
def _compiled_pattern(pattern: str) -> Any:
    import re2  # re2 and pyahocorasick load when rules are compiled: `br parallel cleanup`, a commit with nothing staged compile none

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern.encode(), options)


def _decoded_part(value: str, pattern: Any) -> str | None:
    """When `value` is base64 (standard or URL-safe, padding optional) of printable text `pattern` matches: the part of
    that text to judge (the pattern's first group, or all of it); else None."""
    raw = value.strip().encode("ascii", "replace")
    raw += b"=" * (-len(raw) % 4)
    try:
        text = base64.b64decode(raw.replace(b"-", b"+").replace(b"_", b"/"), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    match = pattern.search(text.encode()) if text.isprintable() else None
    if match is None:
        return None
    part = match.group(1) if pattern.groups and match.group(1) is not None else match.group()
    return part.decode("utf-8", "replace")


@dataclass(frozen=True)
class Filters:
    """The value filters every rule shares (`[filters]` in `rules.toml`): RE2 regexes, any of which rules a value out."""

    placeholder: tuple[str, ...] = ()
    not_a_value: tuple[str, ...] = ()
    public_example: tuple[str, ...] = ()
    still_a_value: tuple[str, ...] = ()

    def plus_placeholders(self, extra: Iterable[str]) -> "Filters":
        extra = tuple(extra)
        return replace(self, placeholder=self.placeholder + extra) if extra else self


@lru_cache(maxsize=1)
def _shipped_data() -> tuple[tuple[Rule, ...], Filters]:
    text = resources.files("buildrunner.security").joinpath("rules.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    filters = data.get("filters", {})
    return (
        tuple(Rule.from_dict(raw, "rules.toml") for raw in data["rule"]),
        Filters(**{f.name: tuple(filters.get(f.name, ())) for f in fields(Filters)}),
    )


def _shipped() -> tuple[Rule, ...]:
    return _shipped_data()[0]


def shipped_rules() -> list[Rule]:
    return list(_shipped())


def shipped_filters() -> Filters:
    return _shipped_data()[1]


def filters_for(settings: "SecuritySettings | None") -> Filters:
    """The shipped filters plus the user's `security.placeholders`."""
    return shipped_filters().plus_placeholders(settings.placeholders if settings is not None else ())


def unknown_rule(rule_ids: Iterable[str]) -> str | None:
    """What is wrong when one of `rule_ids` is no shipped rule's id (a typo would leave the rule on, silently)."""
    known = {r.id for r in _shipped()}
    unknown = sorted(set(rule_ids) - known)
    if not unknown:
        return None
    close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
    advice = f"did you mean {close[0]!r}?" if close else "rule ids are the names in brackets in `br security scan` findings, e.g. aws_access_key_id"
    return f"{unknown[0]!r} is not a shipped rule id; {advice}"


def rules_for(settings: "SecuritySettings | None") -> list[Rule]:
    """The shipped rules minus the disabled ones, plus the user's, in that order."""
    rules = shipped_rules()
    if settings is None:
        return rules
    disabled = set(settings.disabled_rules)  # each a shipped rule's id: SecuritySettings checks (unknown_rule)
    rules = [r for r in rules if r.id not in disabled]
    user = [Rule.from_dict(r.model_dump(), "config security.rules") for r in settings.rules]
    generic = [r for r in rules if r.generic]
    return [r for r in rules if not r.generic] + user + generic


# A regex that can match across a line break: `[\s\S]`, `\n`, or the dot-all flag; not `\n` in a class that excludes it
# (`[^\n|;&]` keeps a match on its line).
_SPANS_LINES = re.compile(r"\[\\s\\S\]|\[\\S\\s\]|\\n|\(\?[a-z]*s[a-z]*\)")
_NEGATED_CLASS = re.compile(r"\[\^(?:\\.|[^\]\\])*\]")


@dataclass
class RuleSet:
    """Compiled rules: the one engine every secret search goes through."""

    rules: list[Rule]
    filters: Filters = field(default_factory=shipped_filters)
    _regexes: list[Any] = field(init=False, repr=False)
    _allows: list[list[Any]] = field(init=False, repr=False)
    _keeps: list[Any] = field(init=False, repr=False)
    _always: list[int] = field(init=False, repr=False)
    _automaton: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import ahocorasick
        import re2

        options = re2.Options()
        options.max_mem = 64 << 20
        options.log_errors = False
        self._regexes = []
        for rule in self.rules:
            try:
                self._regexes.append(re2.compile(rule.regex.encode(), options))
            except re2.error as exc:
                raise ConfigError(f"secret rule {rule.id}: regex does not compile in RE2: {exc}", hint="fix the regex (RE2 syntax: no backreferences or lookaround)") from None
        self._allows = [[re2.compile(a, options) for a in rule.allow] for rule in self.rules]
        self._keeps = [_any_of(rule.keep + self.filters.still_a_value, options) for rule in self.rules]
        self._decoded = [re2.compile(rule.decoded.encode(), options) if rule.decoded else None for rule in self.rules]
        self._paths = {i: re2.compile("|".join(f"(?:{p})" for p in rule.paths).encode(), options) for i, rule in enumerate(self.rules) if rule.paths}
        self._placeholder = _any_of(self.filters.placeholder, options)
        self._not_a_value = _any_of(self.filters.not_a_value, options)
        self._public_example = _any_of(self.filters.public_example, options)
        self._always = [i for i, r in enumerate(self.rules) if not r.keywords]
        self._bounded = frozenset(i for i, r in enumerate(self.rules) if _WORD_BOUNDARY.search(r.regex))
        by_keyword: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            for kw in rule.keywords:
                by_keyword.setdefault(kw, []).append(i)
        automaton = ahocorasick.Automaton()
        for kw, idxs in by_keyword.items():
            automaton.add_word(kw, (tuple(idxs), len(kw)))
        if by_keyword:
            automaton.make_automaton()
        self._automaton = automaton if by_keyword else None

    @cached_property
    def line_spanning_keywords(self) -> tuple[bytes, ...]:
        """Keywords of the rules that can match across a line break (a PEM key): where streamed output waits for more.

        Worked out once per rule set: every attempt's output stream asks. Rules for some kinds of files only (`paths`)
        do not run on a stream, so they hold nothing back."""
        spanning = [rule for rule in self.rules if _SPANS_LINES.search(_NEGATED_CLASS.sub("", rule.regex)) and not rule.paths]
        return tuple(dict.fromkeys(keyword.encode() for rule in spanning for keyword in rule.keywords))

    def _not_for(self, path: str | None) -> set[int]:
        """The rules with `paths` that `path` (posix, relative) matches none of: all of them for text of no known file."""
        if not self._paths:
            return set()
        if path is None or path.startswith("<"):
            return set(self._paths)
        try:
            name = path.encode("utf-8", "surrogateescape")  # a file name that is not UTF-8 comes as surrogate escapes
        except UnicodeEncodeError:
            name = path.encode("utf-8", "surrogatepass")
        return {i for i, regex in self._paths.items() if not regex.search(name)}

    def _triggered(self, data: bytes, path: str | None = None) -> tuple[list[int], set[int]]:
        """The rules whose keywords `data` holds (and those without keywords); and which of the word-bounded ones have a
        keyword glued to an escape sequence (`\\nAKIA...`). Rules for other kinds of files than `path` are left out."""
        found = set(self._always)
        glued: set[int] = set()
        if self._automaton is not None:
            # latin-1 maps each byte to one character, so any bytes decode and offsets agree.
            for end, (idxs, length) in self._automaton.iter(data.lower().decode("latin-1")):
                found.update(idxs)
                start = end - length + 1
                if start and data[start - 1] in _ESCAPE_LAST and _ESCAPE_ENDS.search(data, max(0, start - _ESCAPE_LONGEST), start):
                    glued.update(i for i in idxs if i in self._bounded)
        skipped = self._not_for(path)
        return sorted(found - skipped), glued - skipped

    def _is_real(self, i: int, secret: str) -> bool:
        rule = self.rules[i]
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return False
        if self._public_example is not None and self._public_example.search(secret):
            return False
        decoded = self._decoded[i]
        if decoded is not None:  # judge what the base64 holds: user:password's password
            part = _decoded_part(secret, decoded)
            if part is None:
                return False
            secret = part
        if rule.placeholders and self._placeholder is not None and self._placeholder.search(secret):
            return False
        if rule.generic and ((self._not_a_value is not None and self._not_a_value.search(secret)) or _is_encoded_prose(secret)):
            kept = self._keeps[i]
            if kept is None or not kept.search(secret):
                return False
        return not any(a.search(secret) for a in self._allows[i])

    def find(self, data: bytes, path: str | None = None) -> list[Hit]:
        """Every secret in `data`, without overlaps (earlier rules win), in file order.

        `path` names the file `data` is (posix, relative to the project): rules with `paths` run only on the files they
        name, so with no path (masking text of no known format) they do not run.
        A token glued to an escape sequence (`"line\\nAKIA..."` in JSON) is found too: see `_ESCAPE`."""
        found = _Found()
        triggered, glued = self._triggered(data, path)
        for i in triggered:
            self._match(i, data, data, found)
        view = _escapes_as_spaces(data) if glued else None
        if view is not None:
            for i in sorted(glued):
                self._match(i, view, data, found)
        found.hits.sort(key=lambda h: h.start)
        return found.hits

    def _match(self, i: int, text: bytes, data: bytes, found: "_Found") -> None:
        """Rule `i`'s matches in `text` (`data` or its escapes-as-spaces view) that are secrets of `data`."""
        regex = self._regexes[i]
        groups = range(1, regex.groups + 1)
        for m in regex.finditer(text):
            span = m.span()
            for g in groups:
                if m.span(g)[0] >= 0:
                    span = m.span(g)
                    break
            start, end = span
            if end <= start or (text is not data and text[start:end] != data[start:end]):  # a view's match holds no escape
                continue
            pos = bisect.bisect_left(found.starts, start)
            if (pos > 0 and found.ends[pos - 1] > start) or (pos < len(found.starts) and found.starts[pos] < end):
                continue
            secret = data[start:end].decode("utf-8", "replace")
            real = found.verdicts.get((i, secret))
            if real is None:
                real = found.verdicts[(i, secret)] = self._is_real(i, secret)
            if not real:
                continue
            found.starts.insert(pos, start)
            found.ends.insert(pos, end)
            found.hits.append(Hit(self.rules[i], start, end, secret))


@dataclass
class _Found:
    """What one `find` has accepted so far: disjoint secret spans, sorted, and each value's verdict (judged once)."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    verdicts: dict[tuple[int, str], bool] = field(default_factory=dict)


def _any_of(patterns: tuple[str, ...], options: Any) -> Any:
    """One RE2 regex matching any of `patterns` (each keeps its own flags), or None for none."""
    import re2

    if not patterns:
        return None
    try:
        return re2.compile("|".join(f"(?:{p})" for p in patterns), options)
    except re2.error as exc:
        raise ConfigError(f"a placeholder filter does not compile in RE2: {exc}", hint="fix the regex in security.placeholders") from None


@lru_cache(maxsize=8)
def _compiled(rules: tuple[Rule, ...], filters: Filters) -> RuleSet:
    return RuleSet(list(rules), filters)


def ruleset(rules: Iterable[Rule] | None = None, filters: Filters | None = None) -> RuleSet:
    """A compiled RuleSet, cached per distinct rule list and filters (compiling costs milliseconds)."""
    if rules is None and filters is None:
        return _shipped_ruleset()
    return _compiled(tuple(rules) if rules is not None else _shipped(), filters or shipped_filters())


@lru_cache(maxsize=1)
def _shipped_ruleset() -> RuleSet:
    """The shipped rules, compiled once: masking asks for them per string, and hashing 40 rules to find them in the
    cache cost two thirds of masking a short line (telemetry's ingest of unique text was 5-6k events/s)."""
    return _compiled(_shipped(), shipped_filters())
