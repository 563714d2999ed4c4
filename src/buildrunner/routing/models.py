"""The model catalogue: tiers from config, prices from genai-prices unless config pins them.

One place answers "which concrete model is `sonnet`", "what does it cost per million
tokens" and "what did this request cost"; everything else in routing asks here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from buildrunner.errors import ConfigError

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice

    from buildrunner.config import Config
    from buildrunner.project import Project
    from buildrunner.routing.settings import Tier, TierSettings

TIERS: tuple[Tier, ...] = ("haiku", "sonnet", "opus")
TIER_USE: dict[str, str] = {
    "haiku": "Simple tasks, refactoring, documentation",
    "sonnet": "Moderate complexity, feature development",
    "opus": "Critical bugs, complex architecture, production issues",
}
PROVIDER = "anthropic"
_PRICE_PROBE_TOKENS = 1000  # below every long-context tier, so we read the base rate


@dataclass(frozen=True)
class ModelInfo:
    """A tier and its concrete model, with prices in USD per million tokens."""

    tier: str
    model_id: str
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float
    cache_write_per_mtok: float
    typical_latency_ms: float
    max_complexity: int = 100
    time_factor: float = 1.0
    price_source: str = "genai-prices"
    latency_source: str = "config"
    provider: str = PROVIDER
    long_context_from: int | None = None  # input tokens from which genai-prices' higher rates apply (None: none, or prices pinned)
    cost_scale: float = 1.0  # what a task's attempts on this tier really cost over the token estimate (routing.calibration.cost_scale)


@lru_cache(maxsize=64)
def _genai_price(model_id: str, provider: str = PROVIDER) -> "ModelPrice":
    """genai-prices' price of `model_id` from its bundled snapshot (looked up once: a lookup takes a third of a ms)."""
    from genai_prices import Usage, calc_price

    try:
        return calc_price(Usage(input_tokens=_PRICE_PROBE_TOKENS), model_id, provider_id=provider).model_price
    except LookupError:
        raise ConfigError(
            f"model {model_id!r}: no price known to genai-prices",
            hint="fix routing.models.<tier>.model_id or set its *_per_mtok prices in .buildrunner/config.json",
        ) from None


def _genai_rates(model_id: str, provider: str = PROVIDER) -> tuple[float, float, float, float]:
    """(input, output, cache read, cache write) per MTok below any long-context tier (genai-prices counts cached
    tokens in `input_tokens`)."""
    from genai_prices import Usage

    price = _genai_price(model_id, provider)
    n = _PRICE_PROBE_TOKENS

    def rate(**tokens: int) -> float:
        return float(price.calc_price(Usage(**tokens))["total_price"]) * 1_000_000 / n

    return (
        rate(input_tokens=n),
        rate(output_tokens=n),
        rate(input_tokens=n, cache_read_tokens=n),
        rate(input_tokens=n, cache_write_tokens=n),
    )


def _long_context_from(model_id: str, provider: str = PROVIDER) -> int | None:
    """Input tokens from which genai-prices charges `model_id` a higher rate (Sonnet 4.5 over 200k), if it does."""
    from genai_prices.types import TieredPrices

    price = _genai_price(model_id, provider)
    starts = [
        tier.start
        for rates in (price.input_mtok, price.output_mtok, price.cache_read_mtok, price.cache_write_mtok)
        if isinstance(rates, TieredPrices)
        for tier in rates.tiers
    ]
    return min(starts) if starts else None


def _info(tier: str, settings: TierSettings) -> ModelInfo:
    pinned = (settings.input_per_mtok, settings.output_per_mtok, settings.cache_read_per_mtok, settings.cache_write_per_mtok)
    if all(p is not None for p in pinned):
        rates = tuple(float(p) for p in pinned)  # type: ignore[arg-type]
        source = "config"
    else:
        looked_up = _genai_rates(settings.model_id)
        rates = tuple(float(p) if p is not None else q for p, q in zip(pinned, looked_up))
        source = "config+genai-prices" if any(p is not None for p in pinned) else "genai-prices"
    return ModelInfo(
        tier=tier,
        model_id=settings.model_id,
        input_per_mtok=rates[0],
        output_per_mtok=rates[1],
        cache_read_per_mtok=rates[2],
        cache_write_per_mtok=rates[3],
        typical_latency_ms=settings.typical_latency_ms,
        max_complexity=settings.max_complexity,
        time_factor=settings.time_factor,
        price_source=source,
        long_context_from=_long_context_from(settings.model_id) if source == "genai-prices" else None,
    )


def _config(source: "Project | Config | None") -> "Config":
    if source is None:
        from buildrunner.project import Project

        return Project().config
    if hasattr(source, "routing"):
        return source  # type: ignore[return-value]
    return source.config


def catalogue(source: "Project | Config | None" = None, observed_latency: dict[str, float] | None = None) -> dict[str, ModelInfo]:
    """The tiers, cheapest first, for a project or a config (default: the current project).

    A calibration (`routing.calibration`) replaces the tiers' configured `max_complexity` and scales their cost
    estimates to what the project's attempts cost.

    `observed_latency` (tier -> ms, e.g. from `CostTracker.observed_latency()`) replaces the
    configured typical latency where telemetry has data.
    """
    routing = _config(source).routing
    calibrated = routing.calibration.max_complexity if routing.calibration is not None else {}
    cost_scale = routing.calibration.cost_scale if routing.calibration is not None else {}
    out: dict[str, ModelInfo] = {}
    for tier in TIERS:
        info = _info(tier, getattr(routing.models, tier))
        if tier in calibrated:
            info = replace(info, max_complexity=calibrated[tier])
        if tier in cost_scale:
            info = replace(info, cost_scale=cost_scale[tier])
        if observed_latency and observed_latency.get(tier):
            info = replace(info, typical_latency_ms=float(observed_latency[tier]), latency_source="telemetry")
        out[tier] = info
    return out


def resolve_model(name: str, source: "Project | Config | None" = None) -> ModelInfo:
    """A tier name or a concrete model id (a dated snapshot of a configured id too) -> its ModelInfo."""
    return _resolve(name, catalogue(source))


def _resolve(name: str, models: dict[str, ModelInfo]) -> ModelInfo:
    key = (name or "").strip().lower()
    if key in models:
        return models[key]
    for info in models.values():
        if key == info.model_id.lower() or key.startswith(info.model_id.lower() + "-"):
            return info
    raise ConfigError(f"unknown model {name!r}", hint=known_models_hint(models))


def known_models_hint(models: dict[str, ModelInfo]) -> str:
    return "use one of: " + ", ".join([*models, *(m.model_id for m in models.values())])


def tier_of(model_id: str, models: dict[str, ModelInfo]) -> ModelInfo | None:
    """The configured tier a concrete model id belongs to, if any."""
    try:
        return _resolve(model_id, models)
    except ConfigError:
        return None


@lru_cache(maxsize=64)
def provider_of(model_id: str) -> str | None:
    """The provider genai-prices knows `model_id` under, if any (a Codex or Gemini model recorded without its agent)."""
    from genai_prices import Usage, calc_price

    try:
        return str(calc_price(Usage(input_tokens=_PRICE_PROBE_TOKENS), model_id).provider.id)
    except LookupError:
        return None


def price_of_unconfigured(model_id: str, provider: str = PROVIDER) -> ModelInfo:
    """Prices for a model id no tier names (a sub-agent's model in a Claude Code result, a Codex or Gemini model)."""
    rates = _genai_rates(model_id, provider)
    return ModelInfo(model_id, model_id, *rates, typical_latency_ms=0.0, provider=provider, long_context_from=_long_context_from(model_id, provider))


def priced_as(info: ModelInfo, provider: str, model_id: str) -> ModelInfo:
    """The tier `info` as another agent runs it (Codex's or Gemini's model for the tier): that model's id and list
    prices, the tier's judgement (max_complexity, time) kept; the tier's own prices when genai-prices does not
    know the model."""
    if model_id == info.model_id:
        return info
    try:
        priced = price_of_unconfigured(model_id, provider=provider)
    except ConfigError:
        return replace(info, model_id=model_id, price_source=f"{info.tier}'s prices (genai-prices does not know {model_id})")
    return replace(
        info, model_id=model_id, input_per_mtok=priced.input_per_mtok, output_per_mtok=priced.output_per_mtok,
        cache_read_per_mtok=priced.cache_read_per_mtok, cache_write_per_mtok=priced.cache_write_per_mtok,
        provider=provider, long_context_from=priced.long_context_from if info.price_source == "genai-prices" else None,
    )


def cost_of(
    model: ModelInfo,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    *,
    one_request: bool = True,
) -> float:
    """USD for one request; input tokens exclude cache reads and writes (Anthropic's convention). A request past the
    model's long-context threshold is priced by genai-prices at its higher rates (Sonnet 4.5 doubles input over 200k);
    `one_request=False` (counts summed over many requests) keeps the base rates."""
    for label, value in (
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("cache_read_tokens", cache_read_tokens),
        ("cache_write_tokens", cache_write_tokens),
    ):
        if value < 0:
            raise ConfigError(f"{label}={value}: token counts cannot be negative", hint="pass 0 or a positive count")
    if one_request and model.long_context_from is not None and input_tokens + cache_read_tokens + cache_write_tokens >= model.long_context_from:
        from genai_prices import Usage

        usage = Usage(
            input_tokens=input_tokens + cache_read_tokens + cache_write_tokens, output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
        )
        return float(_genai_price(model.model_id, model.provider).calc_price(usage)["total_price"])
    return (
        input_tokens * model.input_per_mtok
        + output_tokens * model.output_per_mtok
        + cache_read_tokens * model.cache_read_per_mtok
        + cache_write_tokens * model.cache_write_per_mtok
    ) / 1_000_000
