"""`br parallel logs` shows an agent's JSON stream read into lines: what it did, said and spent."""

from __future__ import annotations

import pytest

from buildrunner.agents import get_agent
from buildrunner.agents.transcript import transcript
from buildrunner.config import Config
from buildrunner.money import usd

from .conftest import VENDORS, feed_all, fixture_lines, scenarios


def _read(vendor: str, scenario: str) -> list[str]:
    agent = get_agent(vendor, Config())
    return transcript(agent, agent.model_for("sonnet"), "".join(fixture_lines(vendor, scenario)))


@pytest.mark.parametrize(("vendor", "scenario"), [(v, s) for v in VENDORS for s in scenarios(v) if scenarios(v)[s].get("file")])
def test_a_transcript_holds_no_raw_json_and_ends_with_what_the_attempt_spent(vendor: str, scenario: str) -> None:
    lines = _read(vendor, scenario)
    assert not any(line.lstrip().startswith('{"') for line in lines if not line.startswith("? "))  # only a line that is not the format is quoted
    agent = get_agent(vendor, Config())
    run = agent.start(agent.model_for("sonnet"))
    feed_all(run, fixture_lines(vendor, scenario))
    assert lines[-1].startswith(f"spent {usd(run.cost_usd)}")


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_successful_run_reads_as_its_session_its_tool_calls_and_its_result(vendor: str) -> None:
    lines = _read(vendor, "success")
    assert lines[0].startswith(f"{vendor} session ")
    assert any(line.startswith("> ") for line in lines)  # each tool call, one line
    assert sum(line.startswith("result: done") for line in lines) == 1


@pytest.mark.parametrize("scenario", ["stray-line", "not-json", "truncated"])
def test_output_outside_the_format_is_quoted_not_hidden(scenario: str) -> None:
    """A banner, plain text or a stream cut mid-line: the reader says what it could not read."""
    assert any(line.startswith(("! ", "? ")) for line in _read("claude", scenario))
