"""Token counts and what they cost: list prices from genai-prices, looked up per provider.

Agents that state no dollars (Codex, Gemini CLI, and Claude Code until its final result)
are priced here. Rates are the base (short-context) rates, as in `routing.models`: an
agent's token totals add up many requests, so pricing the sum as one long request would
wrongly apply long-context tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from buildrunner.errors import ConfigError
from buildrunner.routing.models import price_of_unconfigured


@dataclass(frozen=True)
class TokenCounts:
    """Tokens in Anthropic's convention: `input` excludes cache reads and writes; `output` includes reasoning."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: "TokenCounts") -> "TokenCounts":
        return TokenCounts(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


@lru_cache(maxsize=256)
def _rates(provider: str, model_id: str) -> tuple[float, float, float, float] | None:
    try:
        info = price_of_unconfigured(model_id, provider=provider)
    except ConfigError:
        return None
    return info.input_per_mtok, info.output_per_mtok, info.cache_read_per_mtok, info.cache_write_per_mtok


def token_cost(provider: str, model_id: str, tokens: TokenCounts) -> float | None:
    """USD for `tokens` of `model_id` at list prices; None when genai-prices does not know the model."""
    if not tokens.total:
        return 0.0
    rates = _rates(provider, model_id)
    if rates is None:
        return None
    per_input, per_output, per_read, per_write = rates
    return (tokens.input * per_input + tokens.output * per_output + tokens.cache_read * per_read + tokens.cache_write * per_write) / 1_000_000
