"""How hard is a task? A transparent heuristic over general software-engineering signals.

Every point of the score comes from a named factor with a weight, so `--verbose` and
JSON show exactly why a task landed where it did. Words are matched as whole words
(``address`` never counts as ``add``) in the prose only (code blocks are counted as code);
function calls, questions and issue references are counted from the text's structure.
Nothing here knows any project, repository or benchmark item by name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from buildrunner.errors import APIError, BuildRunnerError, ConfigError
from buildrunner.routing.levels import level_for

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.routing.models import ModelInfo
    from buildrunner.routing.settings import RoutingSettings

BASE_SCORE = 17.9


@dataclass(frozen=True)
class ComplexityFactor:
    """One named signal and the points it added to (or took from) the score."""

    name: str
    weight: float
    detail: str = ""


@dataclass
class ComplexityResult:
    task_description: str
    complexity_level: str
    complexity_score: int
    recommended_model: str
    estimated_cost: float
    estimated_time_minutes: int
    factors: list[ComplexityFactor] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    source: str = "heuristic"


# --- signals ---------------------------------------------------------------------------------

_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_CALL = re.compile(r"\b([A-Za-z_][\w.]*)\s*\(")
_REFERENCE = re.compile(r"#\d+\b|/issues/\d+|/pull/\d+|\bticket\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"\b(?:because|since|therefore|however|although|but)\b", re.IGNORECASE)


_TOKEN = re.compile(r"[\w-]+")  # maximal runs: a token equals a word only where a whole-word match would


@dataclass(frozen=True)
class _Vocabulary:
    """Words and phrases matched as whole words, case-insensitively (phrase spaces match any whitespace)."""

    words: frozenset[str]
    phrases: tuple[tuple[str, re.Pattern[str]], ...]

    def hits(self, t: "_Text") -> set[str]:
        found = set(self.words & t.words)
        for first, pattern in self.phrases:
            if first in t.words:  # cheap prefilter before the regex
                found.update(" ".join(m.group(0).lower().split()) for m in pattern.finditer(t.prose))
        return found


def _phrases(*items: str) -> _Vocabulary:
    multi = [p for p in items if " " in p]
    return _Vocabulary(
        words=frozenset(p.lower() for p in items if " " not in p),
        phrases=tuple(
            (p.split()[0].lower(), re.compile(r"(?<![\w-])" + r"\s+".join(map(re.escape, p.split())) + r"(?![\w-])", re.IGNORECASE))
            for p in multi
        ),
    )


@dataclass(frozen=True)
class _Text:
    """The description split into what the counters read."""

    whole: str
    prose: str
    code: str
    words: frozenset[str]


def _split(text: str) -> _Text:
    blocks = _FENCE.findall(text)
    prose = _FENCE.sub(" ", text)
    return _Text(whole=text, prose=prose, code="".join(blocks), words=frozenset(w.lower() for w in _TOKEN.findall(prose)))


def _occurrences(pattern: re.Pattern[str], unit: str) -> Callable[[_Text], tuple[int, str]]:
    def count(t: _Text) -> tuple[int, str]:
        n = len(pattern.findall(t.prose))
        return n, f"{n} {unit}"

    return count


def _long_words(t: _Text) -> tuple[int, str]:
    n = sum(1 for w in t.words if len(w) >= 9 and w.isascii() and w.isalpha())
    return n, f"{n} distinct long words"


def _functions(t: _Text) -> tuple[int, str]:
    n = len({m for m in _CALL.findall(t.whole) if len(m) > 2})
    return n, f"{n} distinct calls"


def _code_size(t: _Text) -> tuple[int, str]:
    return len(t.code), f"{len(t.code)} characters of code"


def _questions(t: _Text) -> tuple[int, str]:
    n = t.prose.count("?")
    return n, f"{n} questions"


@dataclass(frozen=True)
class _Signal:
    """A factor of the score: `points` x ln(1 + count), so repeats give diminishing returns.

    `count` is a vocabulary (distinct words of it in the prose) or a counting function.
    """

    name: str
    points: float
    count: "_Vocabulary | Callable[[_Text], tuple[int, str]]"
    reason: str

    def measure(self, t: _Text) -> tuple[int, str]:
        if isinstance(self.count, _Vocabulary):
            hits = sorted(self.count.hits(t))
            return len(hits), ", ".join(hits[:6])
        return self.count(t)


# Points per unit of ln(1 + count). Fitted once by ridge regression on general signals
# (bench/routing_accuracy.py checks them on two held-out halves); the vocabularies are
# ordinary software-engineering words, not phrases from any benchmark.
SIGNALS: tuple[_Signal, ...] = (
    _Signal("vocabulary breadth", 1.8, _long_words, "Long, many-concept description"),
    _Signal(
        "several entities",
        9.9,
        _phrases("both", "each", "all", "every", "multiple", "several", "various", "many", "another", "other", "across"),
        "Involves several entities or places",
    ),
    _Signal(
        "data and queries",
        9.6,
        _phrases(
            "query", "queries", "sql", "filter", "filtering", "ordering", "order by", "join", "joins", "subquery",
            "aggregate", "aggregation", "annotate", "annotation", "column", "columns", "table", "tables", "index",
            "database", "schema", "migration", "migrations", "orm", "relation", "foreign key",
        ),
        "Data model or query semantics",
    ),
    _Signal(
        "math and numerics",
        10.3,
        _phrases(
            "matrix", "precision", "integer", "symbolic", "expression", "expressions", "equation", "numerical",
            "array", "dtype", "simplify", "solve", "evaluate", "integral", "derivative", "polynomial", "symbol", "symbols",
        ),
        "Numerical or symbolic reasoning",
    ),
    _Signal(
        "class hierarchy",
        18.6,
        _phrases("inherit", "inherits", "inherited", "inheritance", "subclass", "subclasses", "parent", "child", "abstract", "proxy"),
        "Crosses a class hierarchy",
    ),
    _Signal(
        "user-facing change",
        10.7,
        _phrases("documentation", "docs", "docstring", "doc", "example", "examples"),
        "User-visible behaviour (docs and examples follow)",
    ),
    _Signal(
        "new capability",
        9.0,
        _phrases("add", "adding", "new", "feature", "support", "implement", "allow", "option", "enhancement", "proposal", "would be nice"),
        "Adds new behaviour, not only a fix",
    ),
    _Signal("open questions", 6.5, _questions, "Open questions in the description"),
    _Signal("functions mentioned", 3.6, _functions, "Several functions involved"),
    _Signal("code in description", 1.4, _code_size, "Code to read"),
    _Signal("reasoning", 1.4, _occurrences(_CONNECTIVE, "connectives"), "Argued, conditional behaviour"),
    _Signal("related history", 6.6, _occurrences(_REFERENCE, "references"), "Linked to earlier issues or changes"),
    # Set by judgement, not fitted (the calibration set rarely uses these words): well-known
    # sources of difficulty and risk in plan-style task descriptions.
    _Signal(
        "security-sensitive",
        12.0,
        _phrases(
            "authentication", "authorization", "auth", "jwt", "oauth", "sso", "login", "password", "passwords",
            "permission", "permissions", "encryption", "encrypt", "decrypt", "crypto", "cryptography", "csrf", "xss",
            "injection", "vulnerability", "vulnerabilities", "secrets",
        ),
        "Requires security considerations",
    ),
    _Signal(
        "concurrency",
        16.0,
        _phrases(
            "concurrency", "concurrent", "thread", "threads", "threading", "async", "asynchronous", "race condition",
            "deadlock", "locking", "parallel", "distributed", "idempotent",
        ),
        "Concurrency or distributed behaviour",
    ),
    _Signal(
        "architecture",
        20.0,
        _phrases(
            "architecture", "architectural", "redesign", "rewrite", "migrate",
            "microservice", "microservices", "infrastructure", "scalability", "end-to-end",
        ),
        "Structural or cross-cutting change",
    ),
    _Signal(
        "production risk",
        20.0,
        _phrases(
            "production", "outage", "data loss", "corruption", "critical", "incident", "rollback", "downtime",
            "memory leak", "performance", "latency", "payment", "payments", "billing",
        ),
        "Production or data risk",
    ),
    _Signal(
        "unknown cause",
        10.0,
        _phrases(
            "investigate", "intermittent", "intermittently", "flaky", "sporadic", "sporadically", "root cause",
            "hard to reproduce", "cannot reproduce", "non-deterministic", "nondeterministic", "heisenbug",
        ),
        "Cause not yet known",
    ),
    _Signal(
        "small edit",
        -8.0,
        _phrases(
            "typo", "typos", "spelling", "misspelled", "wording", "readme", "comment", "comments", "rename",
            "cosmetic", "whitespace", "one-line", "trivial", "bump",
        ),
        "Small, local edit",
    ),
    _Signal(
        "simple data types",
        -8.9,
        _phrases("dict", "str", "int", "list", "none", "string", "bool", "tuple", "float"),
        "About plain values and types (local change)",
    ),
    _Signal(
        "concrete failure",
        -5.6,
        _phrases("error", "errors", "exception", "exceptions", "raises", "raised", "traceback", "crash", "crashes", "fails", "failure", "failing"),
        "A concrete failure to reproduce",
    ),
    _Signal(
        "environment details",
        -6.1,
        _phrases("version", "python", "windows", "linux", "mac", "os", "installed", "pip", "operating system"),
        "Environment given (reproducible report)",
    ),
    _Signal(
        "fix suggested",
        -7.9,
        _phrases("fix", "fixed", "patch", "pr", "workaround", "solution", "change", "replace", "pull request", "should be"),
        "A fix is already suggested",
    ),
)

_LANGUAGES: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".jsx": "JavaScript", ".ts": "TypeScript",
    ".tsx": "TypeScript", ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".rb": "Ruby",
    ".php": "PHP", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".hpp": "C++", ".cs": "C#",
    ".swift": "Swift", ".scala": "Scala", ".sql": "SQL", ".sh": "Shell",
}


def signal_counts(description: str) -> dict[str, int]:
    """Raw counts per signal (for calibration scripts and tests)."""
    text = _split(description)
    return {s.name: s.measure(text)[0] for s in SIGNALS}


def _text_factors(description: str) -> list[ComplexityFactor]:
    text = _split(description)
    out = []
    for signal in SIGNALS:
        n, detail = signal.measure(text)
        if n:
            out.append(ComplexityFactor(signal.name, round(signal.points * math.log1p(n), 1), detail))
    return out


def _log_points(count: float, per_doubling: float, cap: float) -> float:
    """Diminishing returns: each doubling of `count` adds `per_doubling` points, up to `cap`."""
    return max(-cap, min(cap, per_doubling * math.log2(1 + count)))


def _context_factors(files: Sequence[str | Path] | None, context: Mapping[str, object] | str | None) -> list[ComplexityFactor]:
    out: list[ComplexityFactor] = []
    if files:
        paths = [Path(f) for f in files]
        sizes = [p.stat().st_size for p in paths if p.is_file()]
        languages = sorted({_LANGUAGES[p.suffix.lower()] for p in paths if p.suffix.lower() in _LANGUAGES})
        out.append(ComplexityFactor("files to change", round(_log_points(len(paths), 6.0, 24.0), 1), f"{len(paths)} files"))
        if sizes:
            out.append(ComplexityFactor("code size", round(_log_points(sum(sizes) / 4000, 3.0, 12.0), 1), f"{sum(sizes)} bytes"))
        if len(languages) > 1:
            out.append(ComplexityFactor("languages", 5.0 * (len(languages) - 1), ", ".join(languages)))
    if context:
        size = len(context) if isinstance(context, str) else sum(len(str(v)) for v in context.values())
        out.append(ComplexityFactor("context size", round(_log_points(size / 2000, 2.0, 8.0), 1), f"{size} characters of context"))
    return out


# (score, minutes) anchors; time grows geometrically between them. 30 and 75 are where the
# calibration set's quickest quarter ends and its hardest few percent begin.
TIME_ANCHORS: tuple[tuple[float, float], ...] = ((0, 4), (30, 15), (75, 60), (90, 240), (100, 480))


def minutes_for(score: float) -> int:
    """Expected working time for a score (log-linear between the anchors)."""
    score = min(100.0, max(0.0, score))
    for (s0, m0), (s1, m1) in zip(TIME_ANCHORS, TIME_ANCHORS[1:]):
        if score <= s1:
            return int(round(m0 * (m1 / m0) ** ((score - s0) / (s1 - s0))))
    return int(TIME_ANCHORS[-1][1])


def tokens_for(score: float) -> tuple[int, int]:
    """(input, output) tokens an agent is expected to spend on a task of this score."""
    return int(5_000 + 400 * score), int(1_000 + 50 * score)


def tier_order(tiers: Sequence[str], routing: "RoutingSettings | None") -> list[str]:
    """The order to try tiers in: cheapest first; with cost optimisation off, the default tier, those above it,
    then those below it from the most capable down."""
    if routing is None or routing.cost_optimization or routing.default_model not in tiers:
        return list(tiers)
    start = list(tiers).index(routing.default_model)
    return [*tiers[start:], *reversed(tiers[:start])]


def recommend(score: int, models: Mapping[str, "ModelInfo"], routing: "RoutingSettings | None" = None) -> "ModelInfo":
    """The first tier in `tier_order` trusted with this score (the most capable one if none is)."""
    capable = [m for m in models.values() if m.max_complexity >= score] or list(models.values())[-1:]
    order = tier_order(list(models), routing)
    return min(capable, key=lambda m: order.index(m.tier))


def estimate_cost(score: float, model: "ModelInfo") -> float:
    from buildrunner.routing.models import cost_of

    input_tokens, output_tokens = tokens_for(score)
    return cost_of(model, input_tokens, output_tokens)


def _reasoning(factors: Iterable[ComplexityFactor], level: str) -> list[str]:
    reasons = {signal.name: signal.reason for signal in SIGNALS}
    ranked = sorted(factors, key=lambda f: abs(f.weight), reverse=True)
    lines = [f"{reasons.get(f.name, f.name.capitalize())} ({f.detail})" for f in ranked if f.name != "baseline" and abs(f.weight) >= 2][:4]
    lines.append(f"{level.capitalize()} technical complexity overall")
    return lines


class ComplexityEstimator:
    """Scores a task description 0-100 and turns the score into level, model, cost and time."""

    def __init__(self, project: "Project | None" = None, *, use_ai: bool | None = None) -> None:
        self._project = project
        self._use_ai = use_ai
        self._catalogue: dict[str, ModelInfo] | None = None

    def _models(self) -> dict[str, "ModelInfo"]:
        from buildrunner.routing.models import catalogue

        if self._catalogue is None:
            self._catalogue = catalogue(self._proj())
        return self._catalogue

    def score(self, description: str, files: Sequence[str | Path] | None = None, context: Mapping[str, object] | str | None = None) -> tuple[int, list[ComplexityFactor]]:
        """The heuristic score and its factors (no prices needed)."""
        text = _check_description(description)
        factors = [ComplexityFactor("baseline", BASE_SCORE, "every task starts here")]
        factors += _text_factors(text) + _context_factors(files, context)
        raw = sum(f.weight for f in factors)
        return int(round(min(100.0, max(0.0, raw)))), factors

    def estimate(
        self,
        description: str,
        files: Sequence[str | Path] | None = None,
        context: Mapping[str, object] | str | None = None,
    ) -> ComplexityResult:
        """Heuristic estimate; with AI enabled (and a key), the model's score replaces it, else a note says why not."""
        score, factors = self.score(description, files, context)
        if not self._ai_enabled():
            return self.result_for(description, score, factors)
        from buildrunner.routing.ai_estimator import ai_estimate

        models = self._models()
        settings = self._settings()
        ai_model = models[settings.ai_model]
        try:
            answer = ai_estimate(description, ai_model.model_id, settings.ai_timeout_s)
        except APIError as exc:
            result = self.result_for(description, score, factors)
            result.reasoning.append(f"AI estimation unavailable ({exc.message}); heuristic used")
            return result
        delta = round(answer.score - sum(f.weight for f in factors), 1)
        factors.append(ComplexityFactor("ai estimate", delta, f"{ai_model.tier} scored {answer.score}"))
        reasoning = [*answer.reasoning, f"AI estimate by {answer.model_id} (heuristic said {score})"]
        try:
            self._record_ai_cost(answer.model_id, answer.usage)
        except BuildRunnerError as exc:  # the estimate stands; only its bookkeeping failed
            reasoning.append(f"cost of the AI estimate not recorded ({exc.message})")
        return self.result_for(description, answer.score, factors, reasoning=reasoning, source="ai")

    def _proj(self) -> "Project":
        if self._project is None:
            from buildrunner.project import Project

            self._project = Project()
        return self._project

    def _settings(self) -> "RoutingSettings":
        return self._proj().config.routing

    def _ai_enabled(self) -> bool:
        return self._use_ai if self._use_ai is not None else self._settings().ai_estimation

    def _record_ai_cost(self, model_id: str, usage: dict[str, object]) -> None:
        """The estimate itself cost money: record it like any other request."""
        from buildrunner.routing.cost_tracker import CostTracker

        CostTracker(self._proj()).track_anthropic_usage(model_id, usage)

    def result_for(self, description: str, score: int, factors: list[ComplexityFactor], reasoning: list[str] | None = None, source: str = "heuristic") -> ComplexityResult:
        """Level, recommended tier, cost and time for an already-computed score."""
        models = self._models()
        model = recommend(score, models, self._proj().config.routing)
        level = level_for(score)
        return ComplexityResult(
            task_description=description.strip(),
            complexity_level=level,
            complexity_score=score,
            recommended_model=model.tier,
            estimated_cost=round(estimate_cost(score, model), 4),
            estimated_time_minutes=minutes_for(score),
            factors=factors,
            reasoning=reasoning or _reasoning(factors, level),
            source=source,
        )


def _check_description(description: str) -> str:
    if not isinstance(description, str) or not description.strip():
        raise ConfigError("task description is empty", hint='describe the task, e.g. br routing estimate "Fix the login redirect"')
    return description
