"""Agents: the fixtures of each vendor's documented output, the stand-in programs, and list prices computed here.

Prices in these tests come straight from genai-prices' `calc_price` (not from buildrunner's
pricing code), so a wrong token mapping or rate in the adapters shows up as a wrong cost.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from buildrunner.agents.base import AgentEvent, AgentRun

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
STANDINS = HERE / "standins"
PROVIDERS = {"claude": "anthropic", "codex": "openai", "gemini": "google"}
VENDORS = tuple(PROVIDERS)


def scenarios(vendor: str) -> dict[str, dict[str, Any]]:
    return json.loads((FIXTURES / vendor / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]


def fixture_lines(vendor: str, scenario: str) -> list[str]:
    """The fixture's lines as a reader gets them from the pipe: with their newline, the last maybe without."""
    spec = scenarios(vendor)[scenario]
    if not spec.get("file"):
        return []
    return (FIXTURES / vendor / spec["file"]).read_text(encoding="utf-8").splitlines(keepends=True)


def json_lines(vendor: str, scenario: str) -> list[dict[str, Any]]:
    """The fixture's complete JSON lines, parsed here (for expected values)."""
    out = []
    for line in fixture_lines(vendor, scenario):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def feed_all(run: AgentRun, lines: list[str]) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    for line in lines:
        events.extend(run.feed(line))
    return events


def list_price(provider: str, model: str, *, total_input: int = 0, cache_read: int = 0, cache_write: int = 0, output: int = 0) -> float:
    """USD at genai-prices' list price for one request's tokens (`total_input` includes cache reads and writes)."""
    usage = Usage(input_tokens=total_input, cache_read_tokens=cache_read, cache_write_tokens=cache_write, output_tokens=output)
    return float(calc_price(usage, model, provider_id=provider).total_price)


def base_rate_price(provider: str, model: str, *, total_input: int = 0, cache_read: int = 0, output: int = 0) -> float:
    """Like list_price, at the base (short-context) rates: for token totals summed over many requests."""
    per = 1000

    def rate(**tokens: int) -> float:
        return float(calc_price(Usage(**tokens), model, provider_id=provider).total_price) / per

    fresh = total_input - cache_read
    return fresh * rate(input_tokens=per) + cache_read * rate(input_tokens=per, cache_read_tokens=per) + output * rate(output_tokens=per)


def cents(value: float) -> int:
    return round(value * 100)


@pytest.fixture
def standin_env() -> dict[str, str]:
    """An environment whose PATH finds the stand-in `claude`, `codex` and `gemini` first, in a folder Gemini trusts
    (as the adapter's invocation makes it; test_standins checks the refusal without it)."""
    return {**os.environ, "PATH": os.pathsep.join([str(STANDINS), os.environ.get("PATH", "")]), "GEMINI_CLI_TRUST_WORKSPACE": "true"}
