"""A learned vocabulary: what the words of many labelled task descriptions say about difficulty.

The hand-written signals (`signals.toml`) name the concepts that make work hard or easy; a word
list cannot know every domain's words for them ("fielded devices", "double-charged", "the
ledger"). This is the complement: a linear model over the prose's words (sublinear TF-IDF,
L2-normalised, ridge; words and pairs of adjacent words), fitted by `bench/routing_vocabulary.py` on the training corpus in
`bench/data/routing_training/` (task descriptions of many teams and domains, each labelled with
a difficulty level by reasoning) and shipped as data (`vocabulary.json`: each term's idf and
weight). Nothing under `tests/routing/data` is in the corpus: those sets judge it.

Applying it needs no library: for the terms of the prose found in the vocabulary,
x_t = (1 + ln tf_t) * idf_t, divided by the vector's L2 norm; the value is b + sum(w_t * x_t)
in difficulty levels relative to the corpus middle (0 when no word is known; with fewer than FULL_EVIDENCE_TERMS
distinct known words the reading, offset included, is shrunk in proportion toward 0: a word or two is little evidence). The signal that
reads it (`vocabulary = "vocabulary.json"` in `signals.toml`) turns levels into points.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from buildrunner.errors import ConfigError

_TERM = re.compile(r"[^\W\d_]{2,}")
_JOINED = re.compile(r"[ \t]+|[ \t]*-[ \t]*")  # what joins two words into a phrase: spaces or a hyphen, not punctuation or a line break
SHOWN_TERMS = 6  # terms named in a factor's detail, strongest first
# The L2 norm gives one known word the weight of a whole description: "add generics" read as "add" alone was two levels
# easier, "Need a new favicon" as "need" a critical task. With fewer distinct known words than this (pairs of words not
# counted), the reading (its offset too) is shrunk toward 0 in proportion. Judgement (2026-12-06): the training corpus cannot tell 3 from 10 (its texts
# mostly know 20+ terms; one file held out, 0.758 against 0.755), a reviewer's short tickets can (hard over trivial,
# AUC 0.71 at 3, 0.83 at 10), and the independent sets lose 0.007 of their mean Spearman.
FULL_EVIDENCE_TERMS = 10


def terms_of(prose: str) -> list[str]:
    """The prose's words, lower-cased, letters only (2+), then each pair of adjacent words ("race condition", "white
    label", "one line"): a pair says what neither word says alone. The fit script and the estimator share this."""
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _TERM.finditer(prose)]
    pairs = [f"{a} {b}" for (a, _, end), (b, start, _) in zip(words, words[1:]) if _JOINED.fullmatch(prose, end, start)]
    return [w for w, _, _ in words] + pairs


def is_word(term: str) -> bool:
    """A term of one word (the evidence counts words; a pair of them adds no evidence of its own)."""
    return " " not in term


@dataclass(frozen=True)
class Reading:
    """The vocabulary's value for one description and the terms behind it, strongest contribution first."""

    value: float
    contributions: tuple[tuple[str, float], ...] = ()
    offset: float = 0.0  # the vocabulary's offset, shrunk as the terms are: value = offset + the contributions


@dataclass(frozen=True)
class Vocabulary:
    """Terms with their idf and weight; `offset` places the corpus middle at 0."""

    terms: Mapping[str, tuple[float, float]]
    offset: float
    source: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], origin: str) -> "Vocabulary":
        try:
            terms = {str(t): (float(idf), float(w)) for t, (idf, w) in dict(raw["terms"]).items()}
            offset = float(raw["offset"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: not a vocabulary ({exc})", hint="regenerate it with bench/routing_vocabulary.py") from None
        if any(idf <= 0 or not math.isfinite(idf) or not math.isfinite(w) for idf, w in terms.values()):
            raise ConfigError(f"{origin}: an idf must be positive and every number finite", hint="regenerate it with bench/routing_vocabulary.py")
        return cls(terms=terms, offset=offset, source=str(raw.get("source", "")))

    def read(self, prose: str) -> Reading:
        counts = Counter(t for t in terms_of(prose) if t in self.terms)
        if not counts:
            return Reading(0.0)
        x = {t: (1.0 + math.log(n)) * self.terms[t][0] for t, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in x.values()))
        evidence = min(1.0, sum(1 for t in counts if is_word(t)) / FULL_EVIDENCE_TERMS)
        parts = sorted(((t, evidence * self.terms[t][1] * v / norm) for t, v in x.items()), key=lambda p: abs(p[1]), reverse=True)
        return Reading(evidence * self.offset + sum(c for _, c in parts), tuple(parts), evidence * self.offset)


def parse_vocabulary(text: str, origin: str) -> Vocabulary:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin}: invalid JSON: {exc}", hint="regenerate it with bench/routing_vocabulary.py") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: not a vocabulary (a JSON object is expected)", hint="regenerate it with bench/routing_vocabulary.py")
    return Vocabulary.from_dict(raw, origin)


@lru_cache(maxsize=4)
def shipped_vocabulary(name: str) -> Vocabulary:
    """A vocabulary file shipped in the package beside `signals.toml`."""
    try:
        text = resources.files("buildrunner.routing").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(f"signals.toml: vocabulary file {name!r} not found in the package", hint="reinstall BuildRunner") from None
    return parse_vocabulary(text, name)
