"""Complexity signals as data (`signals.toml`), and the one engine that applies them.

The engine knows no word: it splits a description into prose, code and title, counts
what each signal describes (distinct words, pattern matches or characters) and turns a
count `n` into points as `weight x log2(1 + n)`. See the header of `signals.toml`.
"""

from __future__ import annotations

import bisect
import math
import re
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Iterator, Mapping

from buildrunner.errors import ConfigError
from buildrunner.routing.levels import top_of
from buildrunner.routing.vocabulary import SHOWN_TERMS, Vocabulary, shipped_vocabulary

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

SIGNALS_FILE = "signals.toml"
REGIONS = ("prose", "code", "title", "text")
ROLES = ("", "topic", "small change", "learned")
# The factor that says learned points were held off the simple level, or faded near its edge (see SignalSet.guarded).
SIMPLE_FLOOR_FACTOR = "simple needs a small change"
COUNTS = ("distinct", "matches", "characters", "misspellings")
# How far a shared sense's hit reaches beyond its phrase: (before, after) as regular expressions. "its sentence to the end":
# from the start of the phrase's sentence (a dot followed by a non-space, as in a file name, ends none) to the end.
REACHES = {"its sentence to the end": (r"(?:^|(?<=[.!?\n]))(?:[^.!?\n]|\.(?=\S))*?", r"(?s:.*)")}
PAST_CHANGE_REACH = 60  # characters before a hit that `past_change` reads
_OPENING = " \t\n-*#>"  # what may stand before a description's first clause: white space, a list bullet, a heading mark
LARGER_TASK_REACH = 300  # characters between a small change's hit and a `larger_task` clause for the hit to be its step
_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_TOKEN = re.compile(r"[\w-]+")
WIDENING_PREFIXES = ("multi", "cross", "inter")  # "multi-currency" is about currency; "non-", "pre-" or "re-" would change the word
# not after a letter, a dot, a slash or a hyphen, except the hyphen of a widening prefix (two fixed-width look-behinds:
# an alternation of look-behinds at the front of every word list made each list's scan 1.7 times slower)
_AFTER_WIDENING = r"(?<![\w./\\])(?<!(?<!(?<![\w./\\])(?:" + "|".join(WIDENING_PREFIXES) + r"))-)"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SPELT_WORD = re.compile(r"[A-Za-z]{5,}")  # a word a misspelling is told in: ASCII letters (an accent dropped is not one)
# Quoted texts compared pairwise for a misspelling: a ticket quotes a few; a pasted log quoting thousands is no wording
# change, and comparing all its pairs would take seconds.
MISSPELLING_TEXTS = 200
# A quoted text is also compared with each run of as many words inside a longer one of at most this many words (the log
# line reads "hearbeat ack received", the saved search looks for "heartbeat ack"): a message or a label, not a paragraph.
MISSPELLING_WINDOW_WORDS = 12


@dataclass(frozen=True)
class Text:
    """A description split into the regions signals count in."""

    text: str
    prose: str
    code: str
    title: str
    prose_words: int = 0
    tokens: frozenset[str] = frozenset()  # lower-cased words of the prose: a cheap test before a signal's regex runs

    @classmethod
    def of(cls, description: str, listings: Iterable[re.Pattern[str]] = (), hidden: Iterable[re.Pattern[str]] = ()) -> "Text":
        """Fenced blocks are code; so are `listings` lines (an environment dump, an interpreter session) outside
        them. `hidden` parts (template comments, links) are neither: nobody wrote them to describe the task."""
        code = _FENCE.findall(description)
        prose = _FENCE.sub(" ", description)
        for pattern in hidden:
            prose = pattern.sub(" ", prose)
        for pattern in listings:
            code += [m.group(0) for m in pattern.finditer(prose)]
            prose = pattern.sub(" ", prose)
        title = next((line for line in prose.strip().splitlines() if line.strip()), "")
        words = _TOKEN.findall(prose)
        return cls(
            text=description, prose=prose, code="\n".join(code), title=title,
            prose_words=len(words), tokens=frozenset(t for w in words for t in _tokens_of(w.lower())),
        )

    def region(self, name: str) -> str:
        return getattr(self, name)


def _tokens_of(word: str) -> tuple[str, ...]:
    """The word, and after a widening prefix the word it widens (the cheap test must not skip what the regex matches)."""
    prefix, dash, rest = word.partition("-")
    return (word, rest) if dash and rest and prefix in WIDENING_PREFIXES else (word,)


def _word_regex(words: Iterable[str]) -> re.Pattern[str]:
    """Whole words or phrases, case-insensitive; phrase spaces match any white space; `x*` matches x + any word ending."""
    parts = []
    for word in sorted(words, key=len, reverse=True):  # longest first, so "race conditions" wins over "race condition"
        stem = word.rstrip("*")
        body = r"\s+".join(map(re.escape, stem.split()))
        parts.append(body + (r"[\w-]*" if word.endswith("*") else ""))
    # Not inside a longer word, a dotted name (transaction.atomic), a path (auth/views.py) or a call (thread(), lock (x)):
    # those are code. A word before a parenthetical aside ("idempotent (the app retries)", "firmware (3.8)") is prose.
    # After a prefix that only widens it (multi-currency, cross-region, inter-service) the word is still the subject.
    return re.compile(
        _AFTER_WIDENING + r"(?:" + "|".join(parts) + r")(?![\w/\\-]|\.\w|\(|\s+\((?:[A-Za-z_][\w.]*)?\))", re.IGNORECASE
    )


def _first_words(words: Iterable[str]) -> frozenset[str]:
    """The first word of every entry, or nothing when a stem (`x*`) could match a word not listed."""
    entries = [str(w).lower() for w in words]
    if any(w.endswith("*") for w in entries):
        return frozenset()
    return frozenset(_TOKEN.findall(w)[0] for w in entries if _TOKEN.findall(w))


@dataclass(frozen=True)
class Signal:
    """One entry of `signals.toml`."""

    name: str
    label: str
    why: str
    weight: float
    source: str
    regex: re.Pattern[str]
    words: tuple[str, ...] = ()
    region: str = "prose"
    count: str = "distinct"
    unit: float = 1.0
    firsts: frozenset[str] = frozenset()  # first words of the entries (exact ones only; empty: always run)
    needs: re.Pattern[str] | None = None  # what the region must contain before the (slower) pattern runs at all
    fitted: bool = False  # the weight was fitted to data (`source` says to which), not set by judgement
    role: str = ""  # "topic", "small change" (a change that alters no behaviour) or "learned"; see SignalSet.measure and .guarded
    vocabulary: Vocabulary | None = None  # a learned vocabulary instead of words or a pattern (routing/vocabulary.py)
    asked_only: bool = False  # a hit right after the set's `past_change` words is a change already made, not the work asked
    unless_followed_by: re.Pattern[str] | None = None  # a hit this matches right after is another sense of the word
    other_senses: re.Pattern[str] | None = None  # phrases in which the signal's words mean something else: hits inside do not count
    inside: tuple[str, ...] = ()  # names of signals whose hits read these words another way: hits inside theirs do not count
    inside_of: tuple["Signal", ...] = ()  # those signals (parse_signals fills them in once all are read)
    states_change: bool = False  # evidence that the description states the change to make (a target value, a fix)
    until_resolved: bool = False  # evidence of what is not known yet: counts nothing once the description settles it
    not_simple_alone: bool = False  # its points never take a task into the simple level by themselves (as "learned" ones; SignalSet.guarded)
    full_beside_small_change: bool = False  # a topic whose mistakes harm people: a small change to it is not a small matter
    quotes_the_text: bool = False  # what it matches is text to be changed ("change 'Pay now' to 'Place order'"): no topic reads it

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], origin: str, senses: Mapping[str, str] | None = None) -> "Signal":
        """One `[[signal]]` table; `senses` are the file's shared senses, which its `shared_senses` name."""
        name = str(raw.get("name", "")).strip()
        where = f"{origin}: signal {name or '?'!r}"
        words, pattern, vocabulary = raw.get("words"), raw.get("pattern"), raw.get("vocabulary")
        if not name or [words, pattern, vocabulary].count(None) != 2:
            raise ConfigError(f"{where}: needs a name and exactly one of words, pattern or vocabulary", hint="see the header of signals.toml")
        try:
            weight = float(raw["weight"])
            region = str(raw.get("in", "prose"))
            count = str(raw.get("count", "distinct"))
            unit = float(raw.get("unit", 1.0))
            regex = _word_regex(words) if words is not None else re.compile(str(pattern if pattern is not None else "(?!)"))
            needs = re.compile(str(raw["needs"]), re.IGNORECASE) if raw.get("needs") is not None else None
            unless = raw.get("unless_followed_by")
            unless_followed_by = re.compile(str(unless), re.IGNORECASE) if unless is not None else None
            own = raw.get("other_senses", [])
            if not isinstance(own, list) or not all(isinstance(p, str) for p in own):
                raise ValueError("other_senses must be a list of regular expressions")
            shared = raw.get("shared_senses", [])
            if not isinstance(shared, list) or not all(isinstance(n, str) for n in shared):
                raise ValueError("shared_senses must be a list of names from the file's [senses]")
            unknown = [n for n in shared if n not in (senses or {})]
            if unknown:
                raise ValueError(f"shared_senses: no sense {unknown[0]!r} in the file's [senses]")
            inside = raw.get("inside", [])
            if not isinstance(inside, list) or not all(isinstance(n, str) for n in inside):
                raise ValueError("inside must be a list of signal names")
            phrases = [*own, *((senses or {})[n] for n in shared)]
            other_senses = re.compile("|".join(f"(?:{p})" for p in phrases), re.IGNORECASE) if phrases else None
        except KeyError:
            raise ConfigError(f"{where}: no weight", hint="give every signal a weight (points for the first hit)") from None
        except (TypeError, ValueError, re.error) as exc:
            raise ConfigError(f"{where}: {exc}", hint="see the header of signals.toml") from None
        role = str(raw.get("role", ""))
        if role not in ROLES:
            raise ConfigError(f"{where}: role={role!r}", hint='role: "topic", "small change", "learned" or none')
        if region not in REGIONS or count not in COUNTS or unit <= 0:
            raise ConfigError(f"{where}: in={region!r}, count={count!r}, unit={unit}", hint=f"in: {', '.join(REGIONS)}; count: {', '.join(COUNTS)}; unit > 0")
        if pattern is None and (region != "prose" or count != "distinct"):
            raise ConfigError(f"{where}: word lists and vocabularies read the prose", hint="drop 'in' and 'count' or use a pattern")
        return cls(
            name=name, label=str(raw.get("label", name.capitalize())), why=str(raw.get("why", "")), weight=weight, source=str(raw.get("source", "")), regex=regex,
            words=tuple(str(w).lower() for w in words or ()), region=region, count=count, unit=unit,
            firsts=_first_words(words or ()), needs=needs, fitted=bool(raw.get("fitted", False)), role=role,
            vocabulary=shipped_vocabulary(str(vocabulary)) if vocabulary is not None else None,
            asked_only=bool(raw.get("asked_only", False)), unless_followed_by=unless_followed_by, other_senses=other_senses,
            states_change=bool(raw.get("states_change", False)), until_resolved=bool(raw.get("until_resolved", False)),
            not_simple_alone=role == "learned" or bool(raw.get("not_simple_alone", False)),
            full_beside_small_change=bool(raw.get("full_beside_small_change", False)),
            quotes_the_text=bool(raw.get("quotes_the_text", False)), inside=tuple(inside),
        )

    def measure(
        self, text: Text, topic_words: float = 0.0, past_change: tuple[re.Pattern[str], ...] = (), steps: Mapping[str, "Steps"] | None = None
    ) -> tuple[float, tuple[str, ...], tuple[float, ...]]:
        """(count, what matched, each word's share of the count): distinct matches (lower-cased, white space
        folded), every match (the words are still the distinct ones), or characters / unit; for a vocabulary,
        its value in levels, its strongest terms and their shares, then the offset's share (with the other terms, they sum to it).

        For a word list in a description longer than `topic_words` words, the count is what the words'
        share of the text supports: min(distinct, mentions x sqrt(topic_words / words)). A word that
        names the task in a one-liner is only a passing mention in a long report unless it recurs.
        An `asked_only` signal skips a hit that a `past_change` pattern matches just before ("after the provider bump"),
        and any signal a hit its `unless_followed_by` pattern matches just after (the word in another sense), or one
        inside a phrase of its `other_senses` ("a lock icon", "the comment thread") or of the signals it is `inside`. A
        "small change" signal skips a hit near one of `steps`' clauses for its region (see LargerTask): one step of a
        larger task asked before or after it.
        """
        if self.vocabulary is not None:
            reading = self.vocabulary.read(text.prose)
            shown = reading.contributions[:SHOWN_TERMS]
            return reading.value, tuple(t for t, _ in shown), tuple(c for _, c in shown) + (reading.offset,)
        if self.firsts and self.firsts.isdisjoint(text.tokens):
            return 0.0, (), ()
        region = text.region(self.region)
        if self.needs is not None and not self.needs.search(region):
            return 0.0, (), ()
        if self.count == "characters":
            return sum(len(m.group(0)) for m in self.regex.finditer(region)) / self.unit, (), ()
        region = self._in_own_sense(region)
        for outer in self.inside_of:
            region = _blank(region, outer.phrases(region))
        matches = self.regex.finditer(region)
        if self.asked_only and past_change:
            matches = (m for m in matches if not any(p.search(region, max(0, m.start() - PAST_CHANGE_REACH), m.start()) for p in past_change))
        if self.unless_followed_by is not None:
            other = self.unless_followed_by
            matches = (m for m in matches if not other.match(region[m.end() : m.end() + PAST_CHANGE_REACH]))
        step = steps.get(self.region) if steps is not None and self.role == "small change" else None
        if step is not None and step.starts:
            matches = (m for m in matches if not step.near(m.start(), m.end()))
        found = [m.group(1) if m.re.groups else m.group(0) for m in matches]
        if self.count == "misspellings":
            corrected = misspellings(found)
            return float(len(corrected)), tuple(corrected), ()
        distinct = sorted({" ".join(f.lower().split()) for f in found if f})
        if self.count == "matches":
            return float(len(found)), tuple(distinct), ()
        count = float(len(distinct))
        if self.words and topic_words and text.prose_words > topic_words:
            count = min(count, len(found) * math.sqrt(topic_words / text.prose_words))
        return count, tuple(distinct), ()

    def phrases(self, region: str) -> Iterator[tuple[int, int]]:
        """Where this signal's pattern reads `region` in its own sense (outside its `other_senses`), counted or not."""
        return (m.span() for m in self.regex.finditer(self._in_own_sense(region)))

    def _in_own_sense(self, region: str) -> str:
        """`region` with the phrases of the signal's `other_senses` blanked."""
        return _blank(region, (m.span() for m in self.other_senses.finditer(region))) if self.other_senses is not None else region

    def feature(self, count: float) -> float:
        """What the weight multiplies: log2(1 + count) for what is counted, the value itself for a vocabulary."""
        return count if self.vocabulary is not None else math.log2(1 + count)

    def points(self, count: float) -> float:
        return self.weight * self.feature(count)


def _blank(region: str, spans: Iterable[tuple[int, int]]) -> str:
    """`region` with each span replaced by as many spaces: offsets, and what surrounds a hit, stay as they were."""
    parts, last = [], 0
    for start, end in spans:  # in order and apart, as finditer gives them
        parts += [region[last:start], " " * (end - start)]
        last = end
    return "".join(parts) + region[last:] if parts else region


def misspellings(texts: Iterable[str]) -> list[str]:
    """Pairs of `texts` that are the same words but one, spelt one letter apart ("Depature" and "Departure"), as
    "depature / departure", distinct and sorted (among the first MISSPELLING_TEXTS distinct texts); a shorter text is
    compared with each run of its length in a longer one of up to MISSPELLING_WINDOW_WORDS words. One letter added,
    dropped, changed or two swapped, inside a word of five letters or more: at either end such an edit is as often
    another word (hspace and wspace, metre and meter, a plural), and a short word's neighbour is usually a word of its
    own (form, from)."""
    told = [t.split() for t in list(dict.fromkeys(t for t in texts if t))[:MISSPELLING_TEXTS]]
    pairs = set()
    for i, first in enumerate(told):
        for second in told[i + 1 :]:
            short, long = sorted((first, second), key=len)
            if len(long) > len(short) and len(long) > MISSPELLING_WINDOW_WORDS:
                continue
            for start in range(len(long) - len(short) + 1):
                differ = [(a.strip(".,:;!?()"), b.strip(".,:;!?()")) for a, b in zip(short, long[start:]) if a != b]
                if len(differ) == 1 and all(map(_SPELT_WORD.fullmatch, differ[0])) and _one_inner_edit(*differ[0]):
                    pairs.add(" / ".join(sorted(w.lower() for w in differ[0])))
    return sorted(pairs)


def _one_inner_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` (case aside) differ by one edit that leaves their first and last letters alone."""
    a, b = a.lower(), b.lower()
    if a == b or a[0] != b[0] or a[-1] != b[-1]:
        return False
    if len(a) == len(b):
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1 and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]])
    short, long = sorted((a, b), key=len)
    return len(long) - len(short) == 1 and any(long[:i] + long[i + 1 :] == short for i in range(1, len(long) - 1))


@dataclass(frozen=True)
class LargerTask:
    """Clauses that ask for work of their own (`patterns`, each with a group "work": "Implement per-tenant rate
    limiting in gateway/ratelimit.py"; a clause whose verb is the group "weak", such as add or make, only when it also
    names one of the `topics` words, or opens the description and adds a thing none of the `small_objects` names: "Add
    a dark mode toggle and update the README", not "Add a favicon and ..."). A small change's hit within
    LARGER_TASK_REACH characters after or before such a clause, when the clause holds none of the `small` words, is one
    step of a larger task ("... and describe the limits in the README"; "Change the logo colour and move session storage
    to Redis"), not the task. `topics` also holds the file's `larger_task_objects`: code whose behaviour a weak verb's
    clause changes ("make the server enforce it")."""

    patterns: tuple[re.Pattern[str], ...]
    small: re.Pattern[str] | None
    topics: re.Pattern[str] | None
    small_objects: re.Pattern[str] | None = None

    def clauses(self, region: str) -> "Steps":
        """The clauses of `region` that ask for other work: found once per description, looked up per hit."""
        spans = []
        opening = len(region) - len(region.lstrip(_OPENING))  # where the description's first clause can start
        for pattern in self.patterns:
            for match in pattern.finditer(region + "\n"):  # the text's end ends its last clause
                work = match.group("work")
                if self.small is not None and self.small.search(work):
                    continue
                weak = "weak" in pattern.groupindex and match.group("weak")
                if weak and not (self.topics is not None and self.topics.search(work)) and not self._opens_with_work(match.start("work") <= opening, work):
                    continue
                spans.append(match.span("work"))
        return Steps(sorted(b for b, _ in spans), sorted(e for _, e in spans))

    def _opens_with_work(self, first: bool, clause: str) -> bool:
        """Whether a weak verb's clause, `first` in the description, adds a thing: not a file or pattern added to a list
        ("Add .DS_Store and *.log to .gitignore", "add vivado *.jou and *.log to .gitignore": a glob anywhere in the
        clause), nor one of the `small_objects` ("Add a favicon and update the README")."""
        words = clause.split()
        if not first or len(words) < 2 or any(c in words[1] for c in "./") or any("*" in w for w in words[1:]):
            return False
        return self.small_objects is None or not self.small_objects.search(clause)


@dataclass(frozen=True)
class Steps:
    """Where a description's clauses that ask for other work start and end (each sorted)."""

    starts: list[int]
    ends: list[int]

    def near(self, start: int, end: int) -> bool:
        """Whether a clause ends before `start` or begins after `end`, within LARGER_TASK_REACH characters."""
        i = bisect.bisect_right(self.ends, start)
        if i and start - self.ends[i - 1] <= LARGER_TASK_REACH:
            return True
        j = bisect.bisect_left(self.starts, end)
        return j < len(self.starts) and self.starts[j] - end <= LARGER_TASK_REACH


@dataclass(frozen=True)
class SignalSet:
    """The base score and the signals, in file order."""

    base: float
    signals: tuple[Signal, ...]
    base_source: str = ""
    listings: tuple[re.Pattern[str], ...] = ()
    hidden: tuple[re.Pattern[str], ...] = ()
    topic_words: float = 0.0
    small_change_topic_factor: float = 1.0
    settled_topic_factor: float = 1.0
    learned_room: float = 0.0
    past_change: tuple[re.Pattern[str], ...] = ()
    dismissed: tuple[re.Pattern[str], ...] = ()
    resolved: tuple[re.Pattern[str], ...] = ()
    larger_task: LargerTask | None = None

    def names(self) -> list[str]:
        return [s.name for s in self.signals]

    def with_weights(self, weights: Mapping[str, float], base: float | None = None, origin: str = "") -> "SignalSet":
        """The same signals with some weights (and the base) replaced, e.g. by a calibration (`origin`: the file that holds it)."""
        unknown = set(weights) - set(self.names())
        if unknown:
            raise ConfigError(
                f"{origin + ': ' if origin else ''}routing.calibration.weights: unknown signal {sorted(unknown)[0]!r}",
                hint="remove routing.calibration from that file (br routing calibrate writes a new one when it does better on the project's outcomes)",
            )
        return replace(
            self,
            base=self.base if base is None else base,
            signals=tuple(replace(s, weight=float(weights.get(s.name, s.weight))) for s in self.signals),
        )

    def guarded(self, raw: float, held: float) -> float:
        """The raw score, except that the points of the `held_off` signals (`held`, their sum: the learned vocabulary,
        a stated target value) never take a task into the simple level by themselves: haiku needs a small change the
        judgement signals see. A learned vocabulary ranks well on average, but a hard task told in easy words is the
        costly mistake; a target value says what to change, not that the change is small. Within
        `learned_room` points above the edge their pull fades rather than stopping dead there: the room left shrinks
        as 1 / (1 + distance / room), slowly enough that tasks the learned words would all have put far under the edge
        keep their order in whole points (an exponential squeezed them all onto the edge's own point)."""
        edge = float(top_of("simple") + 1)
        judgement = raw - held
        # compared as the score is given (a whole number): judgement alone at 29.6 is a 30, not simple
        if held >= 0 or round(judgement) < edge:
            return raw
        room = min(judgement - edge, self.learned_room)
        if room <= 0:
            return max(raw, edge)
        return raw if raw >= edge + room else edge + room / (1.0 + (edge + room - raw) / room)

    def held_off(self) -> frozenset[str]:
        """The signals whose points never make a task simple by themselves (see `guarded`)."""
        return frozenset(s.name for s in self.signals if s.not_simple_alone)

    def text(self, description: str) -> Text:
        return Text.of(description, self.listings, self.hidden)

    def measure(self, description: str) -> list[tuple[Signal, float, tuple[str, ...], tuple[float, ...], float, str]]:
        """(signal, count, what matched, the words' shares, scale, why scaled) for every signal, in file order.

        `scale` is `small_change_topic_factor` for a "topic" signal when a "small change" signal fired in a
        description of at most `topic_words` words: a typo in the OAuth guide is a typo, whatever the guide is
        about; but "update the runbook" as one step of a long plan does not make the plan a docs task. When the
        description is `settled` (the cause found and the change stated), at any length, a topic counts at
        `settled_topic_factor` and the `until_resolved` signals (what was not known) count nothing."""
        text = self.text(description)
        steps = None
        if self.larger_task is not None:  # found once per region the small changes read, not once per signal
            steps = {r: self.larger_task.clauses(text.region(r)) for r in {s.region for s in self.signals if s.role == "small change"}}
        topical = self.undismissed(text)
        counts = [(s, *s.measure(topical if s.role == "topic" else text, self.topic_words, self.past_change, steps)) for s in self.signals]
        fired = [s for s, count, _, _ in counts if count > 0]
        settled_by = self.settled(text, fired)
        settled = f"the cause is found ({settled_by!r}) and the change stated" if settled_by else ""
        small = "a small change to this subject" if self.small_change(text, [s.role for s in fired], steps) else ""
        # a topic counts at the lower factor of the reasons that apply, and says which
        topic = min(
            [(1.0, "")] + [(factor, why) for factor, why in ((self.small_change_topic_factor, small), (self.settled_topic_factor, settled)) if why]
        )

        def scaled(signal: Signal) -> tuple[float, str]:
            if signal.until_resolved and settled:
                return 0.0, settled
            if signal.role != "topic":
                return 1.0, ""
            if signal.full_beside_small_change and small and topic[1] == small:
                return (self.settled_topic_factor, settled) if settled else (1.0, "")
            return topic

        return [(s, count, words, shares, *scaled(s)) for s, count, words, shares in counts]

    def undismissed(self, text: Text) -> Text:
        """`text` with the `dismissed` parts of its prose blanked (offsets kept), as the "topic" signals read it: a
        suspicion the report rules out ("At first I suspected a race between the threads, but it is not thread-related")
        or an explicit denial ("there is no risk to the production database") is not what the work is about; nor is the
        text a `quotes_the_text` signal matched ("Change 'Continue to payment' to 'Review order'": words to change)."""
        prose = text.prose
        quoted = (s.regex for s in self.signals if s.quotes_the_text and s.region == "prose")
        for pattern in (*self.dismissed, *quoted):
            prose = pattern.sub(lambda m: " " * len(m.group(0)), prose)
        return text if prose == text.prose else replace(text, prose=prose)

    def small_change(self, text: Text, fired_roles: Iterable[str], steps: Mapping[str, Steps] | None = None) -> bool:
        """Whether the task is a change that alters no behaviour: a "small change" signal fired in a description
        of at most `topic_words` words (in a long plan, one such step does not make the plan one), or in the first
        and the last sentences of a longer one that asks for no other work (`steps`: the `larger_task` clauses found):
        an alarmed report that opens on a wrong runbook line and ends asking to fix it is still the runbook line, however
        long its account of the outage; a report that only opens on a word such as "paragraph" is not."""
        if "small change" not in fired_roles:
            return False
        if not self.topic_words or text.prose_words <= self.topic_words:
            return True
        if self.larger_task is None:
            return False
        if steps is None:
            steps = {"prose": self.larger_task.clauses(text.prose)}
        if any(found.starts for found in steps.values()):
            return False
        sentences = [s for s in _SENTENCE_END.split(text.prose.strip()) if s.strip()]
        return len(sentences) > 1 and all(self._small_change_in(sentences[i]) for i in (0, -1))

    def _small_change_in(self, sentence: str) -> bool:
        found = self.text(sentence)
        return any(s.role == "small change" and s.measure(found, self.topic_words, self.past_change)[0] > 0 for s in self.signals)

    def settled(self, text: Text, fired: Iterable[Signal]) -> str:
        """The words that say the description's cause was found (a `resolved` pattern: "Root cause: ...", "turns
        out that") when it also states the change to make (a `states_change` signal fired), else "": what the
        report feared before it is the context of the work, not the work."""
        if not any(s.states_change for s in fired):
            return ""
        found = (m for m in (p.search(text.prose) for p in self.resolved) if m)
        return next((" ".join(m.group(0).lower().split()) for m in found), "")


@dataclass(frozen=True)
class Hit:
    """A signal that fired: how often, on which words, for how many points."""

    signal: Signal
    count: float
    words: tuple[str, ...]
    points: float
    scale: float = 1.0  # below 1 when SignalSet.measure counts this signal less (a small change to a topic, a settled report)
    scaled_because: str = ""  # why the scale is not 1
    shares: tuple[float, ...] = ()  # for a vocabulary: each shown word's part of the count, then the offset's

    @property
    def detail(self) -> str:
        return self._found() + (f"; x{self.scale:g}: {self.scaled_because}" if self.scale != 1.0 else "")

    def _found(self) -> str:
        if self.signal.vocabulary is not None:
            return self._learned()
        if self.words:
            return ", ".join(self.words[:8]) + (f" (+{len(self.words) - 8} more)" if len(self.words) > 8 else "")
        if self.signal.count == "characters":
            return f"{int(round(self.count * self.signal.unit))} characters"
        return f"{int(self.count)} found"


    def _learned(self) -> str:
        """Each shown word's points, the other known words' together, and the offset (the same for every description
        with enough known words, less for one with few): they add up to the factor."""
        *shares, offset = self.shares or (0.0,)
        points = self.signal.weight * self.scale
        others = self.count - offset - sum(shares)
        *words, other, offset_points = _tenths([points * v for v in (*shares, others, offset)])
        parts = [f"{w} {v:+.1f}" for w, v in zip(self.words, words)]
        if other:
            parts.append(f"other words {other:+.1f}")
        return ", ".join(parts) + f"; offset {offset_points:+.1f}"


def _tenths(values: list[float]) -> list[float]:
    """`values` rounded to tenths so that they add up to their sum rounded to tenths (largest remainder): the parts a
    factor's detail lists add up to the points it shows."""
    tenths = [v * 10 for v in values]
    rounded = [math.floor(t) for t in tenths]
    short = round(sum(tenths)) - sum(rounded)
    for i in sorted(range(len(values)), key=lambda i: tenths[i] - rounded[i], reverse=True)[: max(0, short)]:
        rounded[i] += 1
    return [r / 10 for r in rounded]


def _words(data: Mapping[str, Any], key: str, origin: str, example: str, what: str = "words") -> list[str]:
    """A top-level list of strings (absent: none)."""
    words = data.get(key, [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ConfigError(f"{origin}: {key} must be a list of {what}", hint=f"e.g. {key} = {example}")
    return words


_FRAGMENT = re.compile(r"\{\{([^{}\n]+)\}\}")


def _with_fragments(data: dict[str, Any], origin: str) -> dict[str, Any]:
    """`data` with every `{{name}}` in its strings replaced by `(?:...)` around the [fragments] entry of that name:
    a piece several regular expressions share (a list of units, the verbs of an upgrade) is written once."""
    fragments = data.get("fragments", {})
    hint = "[fragments]: a name = a regular expression; use it as {{name}} in a pattern"
    if not isinstance(fragments, dict) or not all(isinstance(f, str) for f in fragments.values()):
        raise ConfigError(f"{origin}: [fragments] must name regular expressions", hint=hint)
    nested = next((n for n, f in fragments.items() if _FRAGMENT.search(f)), None)
    if nested is not None:
        raise ConfigError(f"{origin}: [fragments] {nested!r} uses another fragment", hint="write a fragment out in full")

    def fragment(match: re.Match[str]) -> str:
        if match.group(1) not in fragments:
            raise ConfigError(f"{origin}: {match.group(0)}: no fragment {match.group(1)!r} in [fragments]", hint=hint)
        return f"(?:{fragments[match.group(1)]})"

    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return _FRAGMENT.sub(fragment, value)
        if isinstance(value, list):
            return [expand(v) for v in value]
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        return value

    return {k: expand(v) for k, v in data.items() if k != "fragments"}


def _senses(data: Mapping[str, Any], origin: str) -> dict[str, str]:
    """The file's [senses] as regular expressions: a phrase, or a table whose `reaches` widens its phrase's hit
    to the text around it (REACHES: from the phrase's sentence to the end of the description)."""
    senses = data.get("senses", {})
    hint = f'a name = a regular expression, or a table with phrase = a regular expression and reaches = {" or ".join(map(repr, REACHES))}'
    if not isinstance(senses, dict):
        raise ConfigError(f"{origin}: [senses] must name regular expressions", hint=hint)
    out = {}
    for name, sense in senses.items():
        if isinstance(sense, str):
            out[name] = sense
        elif isinstance(sense, dict) and isinstance(sense.get("phrase"), str) and sense.get("reaches") in REACHES and len(sense) == 2:
            start, end = REACHES[sense["reaches"]]
            out[name] = f"{start}(?:{sense['phrase']}){end}"
        else:
            raise ConfigError(f"{origin}: [senses] {name!r} is neither a regular expression nor a phrase with its reach", hint=hint)
    return out


def parse_signals(text: str, origin: str) -> SignalSet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}", hint="fix the syntax") from None
    data = _with_fragments(data, origin)
    senses = _senses(data, origin)
    signals = tuple(Signal.from_dict(raw, origin, senses) for raw in data.get("signal", []))
    names = [s.name for s in signals]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{origin}: signal {duplicate!r} appears twice", hint="give each signal its own name")
    by_name = {s.name: s for s in signals}
    for s in signals:
        outer = [by_name.get(n) for n in s.inside]
        if None in outer or any(o.words or o.vocabulary is not None for o in outer if o is not None):
            raise ConfigError(f"{origin}: signal {s.name!r}: inside = {list(s.inside)}", hint="name pattern signals of this file")
    signals = tuple(replace(s, inside_of=tuple(by_name[n] for n in s.inside)) if s.inside else s for s in signals)
    listings = _patterns(data, "listing", origin)
    hidden = _patterns(data, "hidden", origin)
    try:
        topic_words = float(data.get("topic_words", 0.0))
        learned_room = float(data.get("learned_room", 0.0))
        factors = {key: float(data.get(key, 1.0)) for key in ("small_change_topic_factor", "settled_topic_factor")}
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: topic_words, learned_room, small_change_topic_factor and settled_topic_factor must be numbers", hint="e.g. topic_words = 40"
        ) from None
    for key, factor in factors.items():
        if not 0.0 <= factor <= 1.0:
            raise ConfigError(f"{origin}: {key} = {factor}", hint="a factor between 0 and 1")
    if not 0.0 <= learned_room <= 100.0:
        raise ConfigError(f"{origin}: learned_room = {learned_room}", hint="points above the simple level's edge, between 0 and 100")
    larger = _patterns(data, "larger_task", origin)
    if any("work" not in p.groupindex for p in larger):
        raise ConfigError(f"{origin}: larger_task: every pattern needs a group named 'work'", hint="(?P<work>...) around the clause that asks for work")
    small_words = [w for s in signals if s.role == "small change" for w in s.words]
    topic_names = _words(data, "larger_task_topics", origin, '["concurrency", "money"]', "signal names")
    unknown = sorted(set(topic_names) - {s.name for s in signals})
    if unknown:
        raise ConfigError(f"{origin}: larger_task_topics: no signal {unknown[0]!r}", hint="name signals of this file")
    step_topics = [w for s in signals if s.name in topic_names for w in s.words] + _words(data, "larger_task_objects", origin, '["the server", "the code"]')
    small_objects = _words(data, "larger_task_small_objects", origin, '["favicon", "logo"]')
    return SignalSet(
        base=float(data.get("base", 0.0)), signals=signals, base_source=str(data.get("base_source", "")),
        listings=listings, hidden=hidden, topic_words=topic_words, learned_room=learned_room, **factors,
        past_change=_patterns(data, "past_change", origin), resolved=_patterns(data, "resolved", origin), dismissed=_patterns(data, "dismissed", origin),
        larger_task=LargerTask(larger, _word_regex(small_words) if small_words else None, _word_regex(step_topics) if step_topics else None,
                               _word_regex(small_objects) if small_objects else None) if larger else None,
    )


def _patterns(data: Mapping[str, Any], key: str, origin: str) -> tuple[re.Pattern[str], ...]:
    """A key holding one regular expression or a list of them."""
    raw = data.get(key) or []
    try:
        return tuple(re.compile(str(p)) for p in ([raw] if isinstance(raw, str) else raw))
    except re.error as exc:
        raise ConfigError(f"{origin}: {key}: {exc}", hint="fix the regular expression") from None


@lru_cache(maxsize=1)
def shipped_signals() -> SignalSet:
    """The signals shipped in the package (`routing/signals.toml`)."""
    text = resources.files("buildrunner.routing").joinpath(SIGNALS_FILE).read_text(encoding="utf-8")
    return parse_signals(text, SIGNALS_FILE)


def hits(signals: SignalSet, description: str) -> list[Hit]:
    """Every signal that fired on `description`, in file order."""
    return [
        Hit(signal, count, words, signal.points(count) * scale, scale, because, shares)
        for signal, count, words, shares, scale, because in signals.measure(description)
        if count != 0
    ]


def features(signals: SignalSet, description: str) -> list[float]:
    """Each signal's feature (times its scale), in file order: the score is base + weights . features (for fitting)."""
    return [signal.feature(count) * scale for signal, count, _, _, scale, _ in signals.measure(description)]
