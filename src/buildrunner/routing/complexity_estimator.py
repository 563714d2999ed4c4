"""How hard is a task? A transparent score from the signals in `signals.toml`.

Every point of the score comes from a named factor with a weight, so `--verbose` and JSON
show exactly why a task landed where it did, down to the words that fired. This module
knows no word: signals are data (`signals.py` applies them); it adds context (files),
turns the score into level, tier, cost and time, and applies the project's calibration
(`routing.calibration`, written by `br routing calibrate`) when there is one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from buildrunner.errors import APIError, BuildRunnerError, ConfigError
from buildrunner.quality.sources import LANGUAGES
from buildrunner.routing.code_reach import code_reach
from buildrunner.routing.levels import level_for
from buildrunner.routing.signals import SIMPLE_FLOOR_FACTOR, Hit, SignalSet, hits, shipped_signals
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.routing.models import ModelInfo
    from buildrunner.routing.settings import RoutingSettings

AI_UNAVAILABLE = "AI estimation unavailable"  # opens the reasoning line of an estimate the AI could not make


@dataclass(frozen=True)
class ComplexityFactor:
    """One named signal and the points it added to (or took from) the score; `words` are what triggered it."""

    name: str
    weight: float
    detail: str = ""
    words: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "ComplexityFactor":
        """A factor as stored (JSON of `asdict`): with a routed task and with an outcome."""
        return cls(str(raw["name"]), float(raw["weight"]), str(raw.get("detail", "")), tuple(raw.get("words", ())))


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
    calibration: str | None = None  # what calibration was applied ("2026-11-27T10:00Z, 120 outcomes"), None for the defaults

    def to_json(self) -> str:
        """The result as stored with a task routed on it (`from_json` reads it back)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ComplexityResult":
        data = json.loads(text)
        factors = [ComplexityFactor.from_dict(f) for f in data.pop("factors", [])]
        return cls(**data, factors=factors)


def signals_for(routing: "RoutingSettings | None", origin: str = "") -> SignalSet:
    """The shipped signals with the calibrated weights, when the project has a calibration that refitted them
    (`origin`: the config file it came from, named if its weights no longer fit the signals)."""
    signals = shipped_signals()
    calibration = routing.calibration if routing is not None else None
    if calibration is None or not calibration.weights:
        return signals
    return signals.with_weights(calibration.weights, calibration.base, origin)


def _text_factors(fired: Iterable[Hit]) -> list[ComplexityFactor]:
    return [ComplexityFactor(h.signal.name, round(h.points, 1), h.detail, h.words) for h in fired]


CODE_REACH_FACTOR = "code reach"
MAX_DESCRIPTION_CHARS = 100_000
# ANSI CSI and OSC sequences, C0/C1 control characters but tab and line breaks, unpaired surrogates.
_UNPRINTABLE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _log_points(count: float, per_doubling: float, cap: float) -> float:
    """Diminishing returns: each doubling of `count` adds `per_doubling` points, up to `cap`."""
    return max(-cap, min(cap, per_doubling * math.log2(1 + count)))


def _context_factors(files: Sequence[str | Path] | None, context: Mapping[str, object] | str | None) -> list[ComplexityFactor]:
    out: list[ComplexityFactor] = []
    if files:
        paths = [Path(f) for f in files]
        sizes = [p.stat().st_size for p in paths if p.is_file()]
        languages = sorted({LANGUAGES[p.suffix.lower()] for p in paths if p.suffix.lower() in LANGUAGES})
        out.append(ComplexityFactor("files to change", round(_log_points(len(paths), 6.0, 24.0), 1), plural(len(paths), "file")))
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


def minutes_on(score: float, model: "ModelInfo") -> int:
    """Expected working time of a task of this score on `model` (`estimate` and `select` both say this)."""
    return max(1, int(round(minutes_for(score) * model.time_factor)))


def estimate_cost(score: float, model: "ModelInfo") -> float:
    """The token budget at this score priced on `model`, times what the project's attempts on its tier cost over
    that budget (`cost_scale`, 1 until `br routing calibrate` has measured it)."""
    from buildrunner.routing.models import cost_of

    input_tokens, output_tokens = tokens_for(score)
    return cost_of(model, input_tokens, output_tokens) * model.cost_scale


def _reasoning(factors: Iterable[ComplexityFactor], level: str) -> list[str]:
    reasons = {signal.name: signal.label for signal in shipped_signals().signals}
    ranked = sorted(factors, key=lambda f: abs(f.weight), reverse=True)
    lines = [f"{reasons.get(f.name, f.name.capitalize())} ({f.detail})" for f in ranked if f.name != "baseline" and abs(f.weight) >= 3][:4]
    if not lines and not any(f.weight for f in ranked if f.name != "baseline"):
        lines.append(f"No signal of difficulty or ease recognised: {level} by default")
    else:
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
        return self._score(_check_description(description), files, context)

    def _score(self, text: str, files: Sequence[str | Path] | None, context: Mapping[str, object] | str | None) -> tuple[int, list[ComplexityFactor]]:
        """`score` of a description `_check_description` has read already."""
        signals = signals_for(self._settings(), str(self._proj().paths.config_file))
        factors = [ComplexityFactor("baseline", signals.base, "every task starts here")]
        fired = hits(signals, text)
        factors += _text_factors(fired) + _context_factors(files, context) + self._code_factors(signals, text, fired)
        raw = sum(f.weight for f in factors)
        held_off = signals.held_off()
        guarded = signals.guarded(raw, sum(f.weight for f in factors if f.name in held_off))
        lift = round(guarded - raw, 1)
        if lift:
            floor = "learned words or a stated target value alone never make a task simple (haiku needs a small change the signals see); near that edge their pull fades"
            factors.append(ComplexityFactor(SIMPLE_FLOOR_FACTOR, lift, floor))
        return int(round(min(100.0, max(0.0, guarded)))), factors

    def estimate(
        self,
        description: str,
        files: Sequence[str | Path] | None = None,
        context: Mapping[str, object] | str | None = None,
    ) -> ComplexityResult:
        """Heuristic estimate; with AI enabled (and a key), the model's score replaces it, else a note says why not."""
        result = self._estimate(_check_description(description), files, context)
        if isinstance(description, str) and len(description) > MAX_DESCRIPTION_CHARS:
            result.reasoning.append(f"Only the first {MAX_DESCRIPTION_CHARS:,} characters of the description were read")
        return result

    def _estimate(self, description: str, files: Sequence[str | Path] | None, context: Mapping[str, object] | str | None) -> ComplexityResult:
        score, factors = self._score(description, files, context)
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
            result.reasoning.append(f"{AI_UNAVAILABLE} ({exc.message}); heuristic used")
            return result
        delta = round(answer.score - sum(f.weight for f in factors), 1)
        factors.append(ComplexityFactor("ai estimate", delta, f"{ai_model.tier} scored {answer.score}"))
        reasoning = [*answer.reasoning, f"AI estimate by {answer.model_id} (heuristic said {score})"]
        try:
            self._record_ai_cost(answer.model_id, answer.usage)
        except BuildRunnerError as exc:  # the estimate stands; only its bookkeeping failed
            reasoning.append(f"cost of the AI estimate not recorded ({exc.message})")
        return self.result_for(description, answer.score, factors, reasoning=reasoning, source="ai")

    def _code_factors(self, signals: SignalSet, description: str, fired: Sequence[Hit]) -> list[ComplexityFactor]:
        """How widely the project's code that the prose names is used (nothing when it names none). A change that
        alters no behaviour (a docstring, a typo, a rename) does not ripple to the code using it: shown at 0."""
        project = self._proj()
        if not self._settings().code_reach or not project.paths.found:  # outside a project (a home folder) there is no project code
            return []
        text = signals.text(description)
        reach = code_reach(project.paths.root, text.prose, project.config.quality.exclude)
        if reach is None:
            return []
        names = tuple(n.name for n in reach.names)
        if signals.small_change(text, [h.signal.role for h in fired]):
            return [ComplexityFactor(CODE_REACH_FACTOR, 0.0, reach.detail() + "; a change that alters no behaviour does not reach them", names)]
        return [ComplexityFactor(CODE_REACH_FACTOR, round(reach.points, 1), reach.detail(), names)]

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
        routing = self._settings()
        model = recommend(score, models, routing)
        level = level_for(score)
        return ComplexityResult(
            task_description=description.strip(),
            complexity_level=level,
            complexity_score=score,
            recommended_model=model.tier,
            estimated_cost=round(estimate_cost(score, model), 4),
            estimated_time_minutes=minutes_on(score, model),
            factors=factors,
            reasoning=reasoning or _reasoning(factors, level),
            source=source,
            calibration=routing.calibration.summary() if routing.calibration is not None else None,
        )


def _check_description(description: str) -> str:
    """The description as it is read: terminal escape sequences, control characters and unpaired surrogates (bytes
    that were not text) taken out, so they reach neither the signals nor a terminal that echoes the task; and at
    most MAX_DESCRIPTION_CHARS of it (a log pasted after a ticket is not more of the task)."""
    if not isinstance(description, str) or not description.strip():
        raise ConfigError("task description is empty", hint='describe the task, e.g. br routing estimate "Fix the login redirect"')
    text = _UNPRINTABLE.sub("", description[:MAX_DESCRIPTION_CHARS])
    if not text.strip():
        raise ConfigError("task description has no text, only control characters", hint='describe the task, e.g. br routing estimate "Fix the login redirect"')
    return text
