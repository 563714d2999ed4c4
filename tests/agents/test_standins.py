"""The stand-in programs: each prints its vendor's recorded output exactly, and the adapters read them live."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from buildrunner.agents import get_agent
from buildrunner.config import Config

from .conftest import FIXTURES, VENDORS, scenarios

ARGV = {
    "claude": ["claude", "-p", "--output-format", "stream-json", "--verbose", "--model", "claude-sonnet-4-5"],
    "codex": ["codex", "exec", "--model", "gpt-5.1-codex", "--json", "-"],
    "gemini": ["gemini", "--model", "gemini-2.5-flash", "--output-format", "stream-json"],
}
JSON_ARGV = {"claude": [*ARGV["claude"][:3], "json", "--model", "claude-sonnet-4-5"], "gemini": [*ARGV["gemini"][:4], "json"]}


def argv_for(vendor: str, scenario: str) -> list[str]:
    return JSON_ARGV[vendor] if scenarios(vendor)[scenario].get("format") == "json" else ARGV[vendor]


@pytest.mark.parametrize(("vendor", "scenario"), [(v, s) for v in VENDORS for s, spec in scenarios(v).items() if not spec.get("hang")])
def test_a_stand_in_prints_its_fixture_byte_for_byte(vendor: str, scenario: str, standin_env: dict[str, str], tmp_path: Path) -> None:
    spec = scenarios(vendor)[scenario]
    env = {**standin_env, "BR_STANDIN_SCENARIO": scenario, "BR_STANDIN_DELAY": "0"}
    proc = subprocess.run(argv_for(vendor, scenario), input=b"do the work", env=env, cwd=tmp_path, capture_output=True, timeout=60)
    expected = (FIXTURES / vendor / spec["file"]).read_bytes() if spec.get("file") else b""
    assert proc.stdout == expected
    assert proc.returncode == spec["exit"]
    assert proc.stderr.decode() == spec.get("stderr", "")


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_prompt_can_choose_the_scenario_and_success_is_the_default(vendor: str, standin_env: dict[str, str], tmp_path: Path) -> None:
    marked = subprocess.run(ARGV[vendor], input=b"please [standin:truncated]", env=standin_env, cwd=tmp_path, capture_output=True, timeout=60)
    assert marked.stdout == (FIXTURES / vendor / scenarios(vendor)["truncated"]["file"]).read_bytes()
    plain = subprocess.run(ARGV[vendor], input=b"please", env=standin_env, cwd=tmp_path, capture_output=True, timeout=60)
    assert plain.stdout == (FIXTURES / vendor / scenarios(vendor)["success"]["file"]).read_bytes()
    unknown = subprocess.run(ARGV[vendor], input=b"x", env={**standin_env, "BR_STANDIN_SCENARIO": "nope"}, cwd=tmp_path, capture_output=True, timeout=60)
    assert unknown.returncode == 2 and b"unknown scenario 'nope'" in unknown.stderr


def test_a_stand_in_can_do_work_in_its_folder(standin_env: dict[str, str], tmp_path: Path) -> None:
    env = {**standin_env, "BR_STANDIN_WRITE": "docs/API.md"}
    proc = subprocess.run(ARGV["gemini"], input="Document the API ✓".encode(), env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert (tmp_path / "docs" / "API.md").read_bytes() == "Document the API ✓".encode()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["claude", "-p", "--output-format", "stream-json"], "requires --verbose"),
        (["claude", "-p", "--output-format", "stream-json", "--verbose", "--bogus"], "unrecognized arguments: --bogus"),
        (["codex", "--json", "-"], "only `codex exec`"),
        (["codex", "exec", "--model", "m", "-"], "use --json"),
    ],
)
def test_stand_ins_refuse_what_the_real_programs_refuse(argv: list[str], message: str, standin_env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(argv, input=b"x", env=standin_env, cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode != 0 and message in proc.stderr.decode()


def test_gemini_stand_in_without_a_prompt_is_an_input_error(standin_env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(ARGV["gemini"], stdin=subprocess.DEVNULL, env=standin_env, cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode == 42 and "No input provided via stdin" in proc.stderr.decode()


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_hung_agent_prints_then_waits_until_ended(vendor: str, standin_env: dict[str, str], tmp_path: Path) -> None:
    agent = get_agent(vendor, Config())
    model = agent.model_for("sonnet")
    inv = agent.invocation("work [standin:hang]", model)
    proc = subprocess.Popen(inv.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**standin_env, **inv.env}, cwd=tmp_path, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(inv.stdin.decode())
    proc.stdin.close()
    run = agent.start(model)
    expected = len((FIXTURES / vendor / scenarios(vendor)["hang"]["file"]).read_text().splitlines())
    for _ in range(expected):
        run.feed(proc.stdout.readline())
    assert proc.poll() is None  # everything printed, still running
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    result = run.finish(None)
    assert result.outcome == "failed" and "stopped before" in (result.reason or "")
    assert run.last_action is not None


@pytest.mark.parametrize("vendor", ["claude", "codex"])
def test_a_running_cap_stops_reading_and_ends_the_agent_mid_run(vendor: str, standin_env: dict[str, str], tmp_path: Path) -> None:
    """The executor's loop in miniature: read lines as they come, stop the process when the running cost crosses the cap."""
    cap = 0.10
    agent = get_agent(vendor, Config())
    model = agent.model_for("sonnet")
    inv = agent.invocation("long job [standin:cap]", model, max_cost_usd=cap)
    proc = subprocess.Popen(inv.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**standin_env, **inv.env}, cwd=tmp_path, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(inv.stdin.decode())
    proc.stdin.close()
    run = agent.start(model)
    read = 0
    for line in proc.stdout:
        read += 1
        run.feed(line)
        if run.cost_usd > cap:
            proc.kill()
            break
    proc.wait(timeout=60)
    total = len((FIXTURES / vendor / scenarios(vendor)["cap"]["file"]).read_text().splitlines())
    assert read < total
    result = run.finish(None)
    assert result.outcome == "failed" and "stopped before" in (result.reason or "")
    assert result.cost_usd > cap and result.cost_source == "tokens"


def test_gemini_refuses_an_untrusted_folder_and_the_adapter_trusts_the_task_folder(
    standin_env: dict[str, str], tmp_path: Path
) -> None:
    """Gemini CLI 0.41+ exits 55 headless in a folder not trusted, and a task's worktree is a new folder."""
    untrusted = {k: v for k, v in standin_env.items() if k != "GEMINI_CLI_TRUST_WORKSPACE"}
    refused = subprocess.run(ARGV["gemini"], input=b"x", env=untrusted, cwd=tmp_path, capture_output=True, timeout=60)
    assert refused.returncode == 55 and b"not running in a trusted directory" in refused.stderr
    agent = get_agent("gemini", Config())
    result = agent.start("gemini-2.5-flash").finish(55, refused.stderr.decode())
    assert "not trusted" in (result.reason or "") and "GEMINI_CLI_TRUST_WORKSPACE=true" in (result.reason or "")
    inv = agent.invocation("x", "gemini-2.5-flash")
    ran = subprocess.run(inv.argv, input=inv.stdin, env={**untrusted, **inv.env}, cwd=tmp_path, capture_output=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
