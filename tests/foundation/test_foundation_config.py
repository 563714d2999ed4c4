"""Config: defaults < file < environment, sources, and one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from buildrunner.config import load_config
from buildrunner.errors import ConfigError
from buildrunner.paths import ProjectPaths


def write_config(root: Path, data: object) -> Path:
    path = root / ".buildrunner" / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_defaults_match_the_spec(tmp_project: Path) -> None:
    config = load_config(ProjectPaths(tmp_project), environ={}).config
    assert config.routing.default_model == "sonnet"
    assert (config.routing.cost_limits.daily, config.routing.cost_limits.weekly, config.routing.cost_limits.monthly) == (10.0, 50.0, 200.0)
    assert config.security.whitelist_file == ".buildrunner/security/whitelist.txt"
    assert config.telemetry.thresholds.success_rate_warning == 80
    assert config.telemetry.thresholds.latency_warning_ms == 2000
    assert config.parallel.default_workers == 3 and config.parallel.heartbeat_timeout == 30
    assert config.quality.thresholds.security == 90


def test_environment_overrides_file_and_sources_say_so(tmp_project: Path) -> None:
    config_file = write_config(tmp_project, {"routing": {"cost_limits": {"daily": 3, "weekly": 7}}, "telemetry": {"enabled": True}})
    loaded = load_config(ProjectPaths(tmp_project), environ={"BR_COST_LIMIT_DAILY": "1.5", "BR_TELEMETRY_ENABLED": "false"})
    assert loaded.config.routing.cost_limits.daily == 1.5
    assert loaded.config.routing.cost_limits.weekly == 7
    assert loaded.config.telemetry.enabled is False
    assert loaded.sources["routing.cost_limits.daily"] == "env BR_COST_LIMIT_DAILY"
    assert loaded.sources["routing.cost_limits.weekly"] == str(config_file)
    assert loaded.sources["routing.cost_limits.monthly"] == "default"
    assert loaded.sources["telemetry.enabled"] == "env BR_TELEMETRY_ENABLED"


def test_br_config_file_selects_another_file(tmp_project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"parallel": {"default_workers": 7}}), encoding="utf-8")
    paths = ProjectPaths(tmp_project)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BR_CONFIG_FILE", str(other))
        assert load_config(paths).config.parallel.default_workers == 7


@pytest.mark.parametrize(
    ("content", "env", "expected"),
    [
        ('{"routing":\n  {"default_model": "opus",}}', {}, ["line 2", "column"]),
        ({"routing": {"cost_limit": {"daily": 1}}}, {}, ["routing.cost_limit", "did you mean 'cost_limits'"]),
        ({"routing": {"cost_limits": {"daily": -5}}}, {}, ["routing.cost_limits.daily", "greater than or equal to 0"]),
        ({"parallel": {"default_workers": "many"}}, {}, ["parallel.default_workers", "valid integer"]),
        ({"routing": {"default_model": "gpt"}}, {}, ["routing.default_model", "haiku"]),
        ({}, {"BR_COST_LIMIT_WEEKLY": "lots"}, ["BR_COST_LIMIT_WEEKLY", "not a number"]),
        ({}, {"BR_TELEMETRY_ENABLED": "maybe"}, ["BR_TELEMETRY_ENABLED", "true or false"]),
        ({}, {"BR_COST_LIMIT_DAILY": "-1"}, ["BR_COST_LIMIT_DAILY", "greater than or equal to 0"]),
        ({}, {"BR_COST_LIMIT_DAILY": "inf"}, ["BR_COST_LIMIT_DAILY", "finite number"]),  # not an endless budget shown as $inf
        ({"parallel": {"default_workers": True}}, {}, ["parallel.default_workers", "input should be a valid integer, got true"]),  # not 1 worker
        ({"quality": {"thresholds": {"testing": False}}}, {}, ["quality.thresholds.testing", "input should be a valid number, got false"]),
        ('{"telemetry": {"thresholds": {"latency_warning_ms": NaN}}}', {}, ["telemetry.thresholds.latency_warning_ms", "finite number"]),
        ({"parallel": {"heartbeat_timeout": 3, "heartbeat_interval": 20}}, {}, ["heartbeat_interval 20 must be below heartbeat_timeout 3"]),
        ({"telemetry": {"thresholds": {"success_rate_warning": 0.8}}}, {}, ["success_rate_warning", "write 80 for 80 %"]),  # 0.8 % never fires
    ],
)
def test_bad_config_is_one_line_exit_2(run_br, tmp_project: Path, content: object, env: dict[str, str], expected: list[str]) -> None:
    write_config(tmp_project, content)
    result = run_br("config", "show", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in lines[0]
    source = next(iter(env)) if env else "config.json"
    assert source in lines[0]


def test_missing_br_config_file_is_a_config_error(tmp_project: Path, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BR_CONFIG_FILE", str(tmp_path / "nope.json"))
        with pytest.raises(ConfigError, match="BR_CONFIG_FILE"):
            load_config(ProjectPaths(tmp_project))


def test_br_config_file_naming_a_folder_says_so(tmp_project: Path, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BR_CONFIG_FILE", str(tmp_path))
        with pytest.raises(ConfigError, match="a folder, not a file"):
            load_config(ProjectPaths(tmp_project))


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_project: Path) -> None:
    """Windows editors start UTF-8 files with a BOM: the file was refused with Python's "decode using utf-8-sig"."""
    (tmp_project / ".buildrunner").mkdir(exist_ok=True)
    (tmp_project / ".buildrunner" / "config.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"parallel": {"default_workers": 5}}).encode())
    assert load_config(ProjectPaths(tmp_project)).config.parallel.default_workers == 5


def test_config_show_json_from_a_subfolder(run_br, tmp_project: Path) -> None:
    sub = tmp_project / "src" / "deep"
    sub.mkdir(parents=True)
    write_config(tmp_project, {"parallel": {"heartbeat_timeout": 12}})
    result = run_br("config", "show", "--format", "json", cwd=sub, env={"BR_COST_LIMIT_DAILY": "4"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["project_root"] == str(tmp_project)
    assert data["config"]["parallel"]["heartbeat_timeout"] == 12
    assert data["config"]["routing"]["cost_limits"]["daily"] == 4
    assert data["sources"]["routing.cost_limits.daily"] == "env BR_COST_LIMIT_DAILY"
    assert not (sub / ".buildrunner").exists()


def test_init_writes_defaults_and_git_ignores_the_store(run_br, tmp_project: Path) -> None:
    sub = tmp_project / "pkg"
    sub.mkdir()
    result = run_br("init", cwd=sub)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_project / ".buildrunner" / "config.json").read_text())
    assert config["routing"]["cost_limits"]["monthly"] == 200.0
    assert not (sub / ".buildrunner").exists()
    for name in (".buildrunner/buildrunner.db", ".buildrunner/buildrunner.db-wal", ".buildrunner/logs/s1/t.1.log", ".buildrunner/config.validated.json"):
        check = subprocess.run(["git", "check-ignore", "-q", name], cwd=tmp_project)
        assert check.returncode == 0, f"{name} is not ignored"
    assert subprocess.run(["git", "check-ignore", "-q", ".buildrunner/config.json"], cwd=tmp_project).returncode == 1


def test_init_is_a_library_call_that_says_what_it_wrote_and_keeps_the_users_ignore_lines(tmp_project: Path) -> None:
    from buildrunner.project_setup import init_project

    state = tmp_project / ".buildrunner"
    state.mkdir(exist_ok=True)
    (state / ".gitignore").write_text("my-notes.txt")  # the user's own line, with no newline at its end
    report = init_project(tmp_project)
    assert report.config_written and report.config_file == state / "config.json" and report.root == tmp_project
    assert report.plan_file == state / "plan.yaml" and report.plan_file.is_file()
    lines = (state / ".gitignore").read_text().splitlines()
    assert lines[0] == "my-notes.txt" and set(report.ignored) <= set(lines[1:])
    again = init_project(tmp_project)
    assert not again.config_written and again.ignored == [] and again.plan_file is None
    assert not list(state.glob(".*.tmp"))  # no temporary file left behind


def test_init_keeps_an_existing_config_unless_forced(run_br, tmp_project: Path) -> None:
    write_config(tmp_project, {"parallel": {"default_workers": 9}})
    assert run_br("init").returncode == 0
    assert json.loads((tmp_project / ".buildrunner" / "config.json").read_text())["parallel"]["default_workers"] == 9
    forced = run_br("init", "--force")
    assert forced.returncode == 0 and "the earlier one is kept as .buildrunner/config.json.bak" in forced.stderr
    assert json.loads((tmp_project / ".buildrunner" / "config.json").read_text())["parallel"]["default_workers"] == 3
    assert json.loads((tmp_project / ".buildrunner" / "config.json.bak").read_text())["parallel"]["default_workers"] == 9
    again = run_br("init", "--force")  # the defaults again: nothing of the user's to keep, the backup stays as it was
    assert "kept as" not in again.stderr
    assert json.loads((tmp_project / ".buildrunner" / "config.json.bak").read_text())["parallel"]["default_workers"] == 9


def test_config_show_after_init_says_which_values_differ_from_the_defaults(run_br, tmp_project: Path) -> None:
    assert run_br("init").returncode == 0
    fresh = run_br("config", "show")
    assert "none (every value is the default)" in fresh.stdout
    assert "config.json" not in "".join(line for line in fresh.stdout.splitlines()[4:])  # no value is "from the file"
    config_file = tmp_project / ".buildrunner" / "config.json"
    data = json.loads(config_file.read_text())
    data["routing"]["cost_limits"]["monthly"] = 150.0
    config_file.write_text(json.dumps(data))
    shown = run_br("config", "show", env={"BR_COST_LIMIT_DAILY": "4"})
    assert "2 of" in shown.stdout and "values differ from the defaults" in shown.stdout
    [monthly] = [line for line in shown.stdout.splitlines() if line.startswith("routing.cost_limits.monthly")]
    assert ".buildrunner/config.json (default 200.0)" in monthly
    [daily] = [line for line in shown.stdout.splitlines() if line.startswith("routing.cost_limits.daily")]
    assert "env BR_COST_LIMIT_DAILY (default 10.0)" in daily
    [weekly] = [line for line in shown.stdout.splitlines() if line.startswith("routing.cost_limits.weekly")]
    assert weekly.split()[-1] == "default"
    changed = json.loads(run_br("config", "show", "-f", "json").stdout)["changed"]
    assert changed == {"routing.cost_limits.monthly": {"value": 150.0, "default": 200.0, "source": str(config_file)}}


def test_the_defaults_snapshot_is_the_models_defaults() -> None:
    """`config_defaults.json` (read when the config is all defaults) is what the section models say, key order included."""
    from buildrunner.config import DEFAULTS_FILE
    from buildrunner.config_model import defaults_json

    assert DEFAULTS_FILE.read_text(encoding="utf-8") == defaults_json(), "a default changed: run `python -m buildrunner.config_model`"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"telemetry": {"enabled": "yes"}}', "telemetry.enabled: input should be a valid boolean, got \"yes\""),
        ('{"telemetry": {"enabled": 1}}', "telemetry.enabled: input should be a valid boolean, got 1"),
        ('{"routing": {"cost_limits": {"daily": "10"}}}', "routing.cost_limits.daily: input should be a valid number, got \"10\""),
        ('{"parallel": {"default_workers": 2.0}}', "parallel.default_workers: input should be a valid integer, got 2.0"),
        ('{"parallel": {"default_workers": 2, "default_workers": 4}}', "the key 'default_workers' is given twice in one object"),
        ("", "the file is empty"),
        ("  \n", "the file is empty"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_an_error_naming_the_file(tmp_project: Path, run_br, text: str, expected: str) -> None:
    """As the README says: a wrong type is an error (exit 2), never read as something else; nor is a key given twice
    (JSON keeps the last, silently) or an empty file (a truncated write would lose every setting)."""
    config_file = tmp_project / ".buildrunner" / "config.json"
    config_file.write_text(text)
    r = run_br("config", "show")
    assert r.returncode == 2 and f"{config_file}: {expected}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_environment_values_are_still_read_from_their_text(tmp_project: Path, run_br) -> None:
    shown = json.loads(run_br("config", "show", "-f", "json", env={"BR_COST_LIMIT_DAILY": "12", "BR_TELEMETRY_ENABLED": "no"}).stdout)
    assert shown["config"]["routing"]["cost_limits"]["daily"] == 12.0 and shown["config"]["telemetry"]["enabled"] is False


@pytest.mark.parametrize(
    "edit",
    [
        {},  # as `br init` wrote it
        {"routing": {"cost_limits": {"daily": 10}}},  # an int where the default is a float: a number is a number
        {"routing": {"cost_limits": {"daily": 2.5}}},
        {"agents": {"custom": {"mine": {"command": "mine --model {model_id}", "format": "claude"}}}},
    ],
)
def test_an_all_default_file_loads_as_the_models_validate_it(tmp_project: Path, edit: dict[str, Any]) -> None:
    """The fast path (every value its default) and the models give the same values, sources and typed config."""
    from buildrunner.config import default_config_dict
    from buildrunner.config_model import Config

    data = default_config_dict()
    for section, values in edit.items():
        _merge(data[section], values)
    config_file = write_config(tmp_project, data)
    loaded = load_config(ProjectPaths(tmp_project), environ={})
    expected = Config.model_validate(data)
    assert json.dumps(loaded.as_dict()) == json.dumps(expected.model_dump(mode="json"))
    assert loaded.config == expected
    assert loaded.sources["routing.cost_limits.daily"] == str(config_file)
    assert loaded.get("routing.cost_limits.daily") == expected.routing.cost_limits.daily


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and into[key]:
            _merge(into[key], value)
        else:
            into[key] = value


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"parallel": {"default_workers": 0}}, ["parallel.default_workers", "greater than or equal to 1"]),
        ({"quality": {"max_complexty": 10}}, ["quality.max_complexty", "did you mean 'max_complexity'"]),
        ({"telemetry": {"thresholds": {"success_rate_warning": "high"}}}, ["telemetry.thresholds.success_rate_warning", "valid number"]),
    ],
)
def test_one_bad_value_in_a_file_of_defaults_is_one_line_exit_2(run_br, tmp_project: Path, edit: dict[str, Any], expected: list[str]) -> None:
    from buildrunner.config import default_config_dict

    data = default_config_dict()
    for section, values in edit.items():
        _merge(data[section], values)
    write_config(tmp_project, data)
    for args in (("config", "show"), ("routing", "costs"), ("parallel", "list")):
        result = run_br(*args)
        assert result.returncode == 2, (args, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert "config.json" in line and all(fragment in line for fragment in expected), line


# Runs `br ARGS`, then says on stderr whether the command imported pydantic.
PYDANTIC_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('pydantic imported' if 'pydantic' in sys.modules else 'no pydantic'))\n"
    "from buildrunner.cli.main import run\n"
    "sys.argv = ['br', *sys.argv[1:]]\n"
    "run()\n"
)


def test_commands_on_a_default_config_do_not_import_pydantic(run_br, tmp_project: Path) -> None:
    """Start-up: with only defaults set, reading commands neither validate the config nor convert options with pydantic."""
    assert run_br("init").returncode == 0
    for args in (["config", "show"], ["routing", "costs"], ["routing", "costs", "-f", "json", "-p", "week"], ["telemetry", "summary", "--hours", "5"], ["parallel", "list"]):
        result = subprocess.run([sys.executable, "-c", PYDANTIC_PROBE, *args], cwd=tmp_project, capture_output=True, text=True, env={**os.environ, "BR_COST_LIMIT_WEEKLY": "50.0"})
        assert result.returncode == 0, result.stderr
        assert result.stderr.endswith("no pydantic"), (args, result.stderr)


def test_a_changed_config_is_validated_once_then_read_as_validated_until_it_changes(run_br, tmp_project: Path) -> None:
    """Start-up with a project's own settings: pydantic validates them once; a later edit or variable is validated again."""
    write_config(tmp_project, {"routing": {"cost_limits": {"daily": 5.0}}})

    def br(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", PYDANTIC_PROBE, *args], cwd=tmp_project, capture_output=True, text=True, env={**os.environ, **env})

    first = br("config", "show", "-f", "json")
    assert first.returncode == 0 and first.stderr.endswith("pydantic imported")
    again = br("config", "show", "-f", "json")
    assert again.returncode == 0 and again.stderr.endswith("no pydantic") and again.stdout == first.stdout
    assert json.loads(again.stdout)["config"]["routing"]["cost_limits"]["daily"] == 5.0
    assert br("routing", "costs").stderr.endswith("no pydantic")
    by_env = br("config", "show", "-f", "json", BR_COST_LIMIT_DAILY="7")  # different values: validated, and shown
    assert by_env.stderr.endswith("pydantic imported") and json.loads(by_env.stdout)["config"]["routing"]["cost_limits"]["daily"] == 7.0
    write_config(tmp_project, {"routing": {"cost_limits": {"daily": -1}}})  # an edit that breaks it is caught at once
    bad = br("routing", "costs")
    assert bad.returncode == 2 and "routing.cost_limits.daily" in bad.stderr
    kept = tmp_project / ".buildrunner" / "config.validated.json"
    assert kept.stat().st_mode & 0o077 == 0
    write_config(tmp_project, {"routing": {"cost_limits": {"daily": 5.0}}})
    assert br("config", "show").returncode == 0  # validated and kept again
    planted = json.loads(kept.read_text())
    planted["data"]["routing"]["cost_limits"]["daily"] = 999.0
    kept.write_text(json.dumps(planted))
    kept.chmod(0o666)  # writable by others: never trusted
    shown = br("config", "show", "-f", "json")
    assert shown.stderr.endswith("pydantic imported") and json.loads(shown.stdout)["config"]["routing"]["cost_limits"]["daily"] == 5.0


def test_config_show_never_prints_a_collectors_credentials(run_br, tmp_project: Path) -> None:
    """OTLP headers carry a collector's keys (Langfuse: Basic auth of its public and secret key): config output is
    what people paste into bug reports, so header values and URL passwords show as ***."""
    api_key = "sk-lf-" + "7f3a9c2e4b1d4e8a9f2c1a2b"
    basic = "cGstbGYtMTIzOnNrLWxmLWFiYw" + "=="
    write_config(tmp_project, {"telemetry": {"otlp": {"endpoint": "https://ops:" + "hunter22" + "@otel.test:4318", "headers": {"Authorization": f"Basic {basic}", "x-api-key": api_key}}}})
    for fmt in ("text", "json"):
        result = run_br("config", "show", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert api_key not in result.stdout and basic not in result.stdout and "hunter22" not in result.stdout
        assert "Basic ***" in result.stdout and "https://***:***@otel.test" in result.stdout
    shown = json.loads(run_br("config", "show", "--format", "json").stdout)
    assert shown["config"]["telemetry"]["otlp"]["headers"] == {"Authorization": "Basic ***", "x-api-key": "***"}
    fury = "1b2c3d4e5f6a" + "7b8c9d0e"  # Gemfury's token-as-user-name index URL, and a key in a query
    write_config(tmp_project, {"quality": {"index_url": f"https://{fury}@pypi.fury.io/acme/"}, "telemetry": {"otlp": {"endpoint": f"https://otel.test/v1?api_key={fury}&region=eu"}}})
    text = run_br("config", "show").stdout
    assert fury not in text and "https://***@pypi.fury.io/acme/" in text and "api_key=***&region=***" in text
    assert shown["changed"]["telemetry.otlp.headers.x-api-key"]["value"] == "***"


def test_init_keeps_the_users_own_ignore_lines_and_adds_only_what_is_missing(run_br, tmp_project: Path) -> None:
    assert run_br("init").returncode == 0
    ignore = tmp_project / ".buildrunner" / ".gitignore"
    ignore.write_text(ignore.read_text().replace("logs/\n", "") + "mysecret.env")  # one entry dropped, one of the user's, no newline
    assert run_br("init").returncode == 0
    lines = ignore.read_text().splitlines()
    assert "mysecret.env" in lines and "logs/" in lines and len(lines) == len(set(lines))
    (tmp_project / ".buildrunner" / "mysecret.env").write_text("x")
    assert subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_project, capture_output=True, text=True).stdout.count("mysecret") == 0


def test_a_file_where_the_state_folder_goes_is_a_clear_error(run_br, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path / "other", check=True)
    (tmp_path / "other" / ".buildrunner").write_text("")
    result = run_br("init", cwd=tmp_path / "other")
    assert result.returncode == 2 and ".buildrunner: is a file, not a folder" in result.stderr and "Traceback" not in result.stderr
