"""Optional second opinion: ask a Claude model to score a task (needs ANTHROPIC_API_KEY and the `ai` extra).

Any failure raises `APIError` with a short reason; the estimator catches it and falls back
to the heuristic with a note, so AI estimation can never break routing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from buildrunner.errors import APIError
from buildrunner.routing.levels import LEVELS

API_KEY_ENV = "ANTHROPIC_API_KEY"
MAX_DESCRIPTION_CHARS = 12_000
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

# What each level means, in the level bands of routing/levels.py (one place for the cut points).
_LEVEL_GUIDE = {
    "simple": "a small local change any model can do (a typo, a rename, a docstring, a version bump, one obvious line)",
    "moderate": "an ordinary feature or bug within one area, with some reading and testing",
    "complex": "crosses components, or correctness is subtle (concurrency, security, data, money), or the cause is unknown",
    "critical": "design-level or high-risk work where a mistake is costly or irreversible (distributed systems, cryptography, production data)",
}


def _score_guide() -> str:
    bounds = [0, *(limit for limit, _ in LEVELS)]
    return "; ".join(f"{lo}-{min(hi, 101) - 1} {name}: {_LEVEL_GUIDE[name]}" for (lo, hi, name) in zip(bounds, bounds[1:], (n for _, n in LEVELS)))


SYSTEM_PROMPT = (
    "You estimate how hard a software engineering task is for an experienced developer (or a coding agent) who knows the codebase. "
    "Answer with one JSON object only: "
    '{"score": <integer 0-100>, "minutes": <integer>, "reasoning": [<up to 4 short strings>]}. '
    f"Score guide: {_score_guide()}. Under-rating is the costly mistake: when unsure between two levels, pick the higher."
)


@dataclass(frozen=True)
class AiEstimate:
    score: int
    reasoning: list[str]
    input_tokens: int
    output_tokens: int
    model_id: str
    usage: dict[str, Any]


def api_key_present() -> bool:
    return bool(os.environ.get(API_KEY_ENV, "").strip())


def _redact(message: str) -> str:
    """Error text fit to show: never the key itself."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    return message.replace(key, "***") if key else message


def ai_estimate(description: str, model_id: str, timeout_s: float) -> AiEstimate:
    """Score `description` with `model_id`; raises APIError with a one-line reason on any failure."""
    if not api_key_present():
        raise APIError(f"{API_KEY_ENV} is not set")
    try:
        import anthropic
    except ImportError:
        raise APIError("the anthropic SDK is not installed (pip install 'buildrunner[ai]')") from None
    try:
        client = anthropic.Anthropic(timeout=timeout_s, max_retries=0)
        message = client.messages.create(
            model=model_id,
            max_tokens=400,
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": f"Task:\n{description[:MAX_DESCRIPTION_CHARS]}"}],
        )
    except anthropic.APIError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise APIError(_redact(f"{type(exc).__name__}: {first}"[:200])) from None
    text = "".join(getattr(block, "text", "") for block in message.content)
    usage = message.usage.model_dump() if hasattr(message.usage, "model_dump") else dict(message.usage or {})
    score, reasoning = parse_answer(text)
    return AiEstimate(
        score=score,
        reasoning=reasoning,
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        model_id=model_id,
        usage=usage,
    )


def parse_answer(text: str) -> tuple[int, list[str]]:
    """The score and reasons from the model's reply; APIError when it is not the JSON we asked for."""
    match = _JSON_OBJECT.search(text or "")
    if not match:
        raise APIError("the model's answer held no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        raise APIError("the model's answer was not valid JSON") from None
    score = data.get("score") if isinstance(data, dict) else None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
        raise APIError(f"the model's score {score!r} is not a number from 0 to 100")
    reasons = data.get("reasoning") or []
    if not isinstance(reasons, list):
        reasons = [str(reasons)]
    return int(round(score)), [str(r)[:200] for r in reasons[:4]]
