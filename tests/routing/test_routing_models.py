"""The tier catalogue: config tiers, genai-prices rates, overrides, resolution and request cost."""

from __future__ import annotations

import pytest

from buildrunner.errors import ConfigError
from buildrunner.project import Project
from buildrunner.routing.models import TIERS, catalogue, cost_of, resolve_model


def test_default_tiers_map_to_current_claude_models_priced_by_genai_prices(project: Project) -> None:
    models = catalogue(project)
    assert list(models) == list(TIERS) == ["haiku", "sonnet", "opus"]
    assert [m.model_id for m in models.values()] == ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"]
    sonnet = models["sonnet"]
    # Anthropic's published Sonnet 4.5 rates: $3 in, $15 out, cache read 0.1x, cache write 1.25x input.
    assert (sonnet.input_per_mtok, sonnet.output_per_mtok) == (3.0, 15.0)
    assert sonnet.cache_read_per_mtok == pytest.approx(0.3)
    assert sonnet.cache_write_per_mtok == pytest.approx(3.75)
    assert sonnet.price_source == "genai-prices"
    # Capability and price rise together, so "cheapest capable" is well defined.
    assert models["haiku"].output_per_mtok < models["sonnet"].output_per_mtok < models["opus"].output_per_mtok
    assert models["haiku"].max_complexity < models["sonnet"].max_complexity < models["opus"].max_complexity


def test_config_pins_prices_and_model_ids(write_config, tmp_project) -> None:
    write_config(
        {
            "routing": {
                "models": {
                    "haiku": {"model_id": "claude-3-5-haiku-latest", "max_complexity": 30, "typical_latency_ms": 400},
                    "opus": {"model_id": "claude-opus-4-5", "max_complexity": 100, "typical_latency_ms": 2500, "input_per_mtok": 4.0},
                }
            }
        }
    )
    models = catalogue(Project(tmp_project))
    assert models["haiku"].model_id == "claude-3-5-haiku-latest"
    assert models["haiku"].input_per_mtok == pytest.approx(0.8)  # genai-prices' Haiku 3.5 rate
    assert models["opus"].input_per_mtok == 4.0 and models["opus"].output_per_mtok == 25.0
    assert models["opus"].price_source == "config+genai-prices"
    assert models["opus"].typical_latency_ms == 2500
    assert models["sonnet"].model_id == "claude-sonnet-4-5"  # untouched tier keeps its default


def test_unpriced_model_id_asks_for_prices(write_config, tmp_project) -> None:
    write_config({"routing": {"models": {"sonnet": {"model_id": "house-model-7", "max_complexity": 80, "typical_latency_ms": 900}}}})
    with pytest.raises(ConfigError, match="house-model-7.*no price") as err:
        catalogue(Project(tmp_project))
    assert "per_mtok" in (err.value.hint or "")
    write_config(
        {
            "routing": {
                "models": {
                    "sonnet": {
                        "model_id": "house-model-7", "max_complexity": 80, "typical_latency_ms": 900,
                        "input_per_mtok": 1, "output_per_mtok": 2, "cache_read_per_mtok": 0.1, "cache_write_per_mtok": 1.5,
                    }
                }
            }
        }
    )
    assert catalogue(Project(tmp_project))["sonnet"].price_source == "config"


def test_unknown_tier_key_in_config_is_a_config_error(write_config, tmp_project) -> None:
    write_config({"routing": {"models": {"sonet": {"model_id": "x", "max_complexity": 1, "typical_latency_ms": 1}}}})
    with pytest.raises(ConfigError, match="sonet") as err:
        Project(tmp_project).config
    assert "sonnet" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("name", "tier"),
    [("haiku", "haiku"), ("Opus", "opus"), ("claude-sonnet-4-5", "sonnet"), ("claude-sonnet-4-5-20250929", "sonnet")],
)
def test_resolve_model_accepts_tiers_ids_and_dated_snapshots(project: Project, name: str, tier: str) -> None:
    assert resolve_model(name, project).tier == tier


@pytest.mark.parametrize("name", ["gpt-4o", "", "claude-sonnet-4-50", "sonnetx"])
def test_resolve_model_rejects_unknown_names_listing_the_known_ones(project: Project, name: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_model(name, project)
    assert "haiku, sonnet, opus" in (err.value.hint or "")
    assert "claude-opus-4-5" in (err.value.hint or "")


def test_cost_of_prices_each_kind_of_token(project: Project) -> None:
    sonnet = resolve_model("sonnet", project)
    assert cost_of(sonnet, 100_000, 0) == pytest.approx(0.3)  # $3 per million input tokens, under 200k
    assert cost_of(sonnet, 0, 1_000_000) == pytest.approx(15.0)
    assert cost_of(sonnet, 1500, 800) == pytest.approx((1500 * 3 + 800 * 15) / 1e6)
    assert cost_of(sonnet, 0, 0, cache_read_tokens=100_000, cache_write_tokens=50_000) == pytest.approx(0.03 + 0.1875)
    # Past 200k input tokens (cached ones count) Sonnet 4.5 is billed at its long-context rates: $6 and $22.50
    assert sonnet.long_context_from == 200_000
    assert cost_of(sonnet, 1_000_000, 0) == pytest.approx(6.0)
    assert cost_of(sonnet, 100_000, 1_000_000, cache_read_tokens=150_000) == pytest.approx(0.6 + 22.5 + 0.09)
    with pytest.raises(ConfigError, match="output_tokens=-1"):
        cost_of(sonnet, 10, -1)
