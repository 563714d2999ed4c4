"""Conventions every command shares: one-line usage errors, -C, nothing-to-show is not an error, JSON everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildrunner.project import Project
from buildrunner.telemetry.event_collector import EventCollector


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("telemetry", "summary", "--hours", "abc"), "--hours"),
        (("telemetry", "summary", "--bogus"), "--bogus"),
        (("parallel", "nosuch"), "nosuch"),
        (("parallel", "logs"), "session_id"),
        (("parallel", "status", "-f", "xml"), "xml"),
        (("nosuch",), "nosuch"),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_say_where_help_is(run_br, args: tuple[str, ...], fragment: str) -> None:
    r = run_br(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and fragment.lower() in lines[0].lower() and "--help`)" in lines[0]
    assert "╭" not in r.stderr and "Usage:" not in r.stderr


def test_a_group_alone_shows_its_help(run_br) -> None:
    r = run_br("parallel")
    assert r.returncode == 0 and "Usage: br parallel" in r.stdout and "Example:" in r.stdout


def test_dash_c_runs_as_if_started_in_that_folder(run_br, tmp_project: Path, tmp_path: Path) -> None:
    """`-C DIR --directory sub` scans DIR/sub, as `git -C DIR` would, whatever the order of the options."""
    sub = tmp_project / "sub"
    sub.mkdir()
    token = "ghp_" + "Z8kq2LmP4xR7vT1nB6cW9dF3hJ5sY0aE2uQi"
    (sub / "settings.py").write_text(f'GITHUB_TOKEN = "{token}"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("-C", str(tmp_project), "--directory", "sub"), ("--directory", "sub", "--project", str(tmp_project))):
        r = run_br("security", "scan", *args, "--format", "json", cwd=elsewhere)
        assert r.returncode == 3, r.stderr
        assert "settings.py" in r.stdout and token not in r.stdout
    r = run_br("-C", str(tmp_project), "security", "scan", "--directory", "sub", "--format", "json", cwd=elsewhere)  # before the command, as git -C
    assert r.returncode == 3 and "settings.py" in r.stdout, r.stderr
    missing = run_br("-C", str(tmp_path / "nowhere"), "security", "scan")
    assert missing.returncode == 6 and "nowhere: no such project directory" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    r = run_br("telemetry", "export", "out.csv", "-C", "proj", cwd=tmp_project.parent)
    assert r.returncode == 0, r.stderr
    assert (tmp_project / "out.csv").is_file() and not (tmp_project.parent / "out.csv").exists()


def test_no_sessions_yet_is_nothing_to_show_not_an_error(run_br) -> None:
    for command in ("status", "list", "workers"):
        r = run_br("parallel", command)
        assert r.returncode == 0, (command, r.stderr)
        assert "No sessions" in r.stderr and r.stdout == ""
    assert json.loads(run_br("parallel", "status", "-f", "json").stdout) is None
    assert json.loads(run_br("parallel", "list", "-f", "json").stdout) == []
    missing = run_br("parallel", "status", "session-0000")
    assert missing.returncode == 6 and "not found" in missing.stderr


def test_parallel_logs_as_json(run_br, tmp_project: Path) -> None:
    (tmp_project / "plan.yaml").write_text("tasks:\n  - id: hello\n    command: echo hello from the task\n")
    started = run_br("parallel", "start", "logs", "--config", "plan.yaml", "--workers", "1", "--wait")
    assert started.returncode == 0, started.stderr
    sid = json.loads(run_br("parallel", "list", "-f", "json").stdout)[0]["session_id"]
    r = run_br("parallel", "logs", sid, "hello", "--format", "json")
    assert r.returncode == 0, r.stderr
    [entry] = json.loads(r.stdout)
    assert (entry["session_id"], entry["task_id"], entry["attempt"], entry["status"]) == (sid, "hello", 1, "completed")
    assert "hello from the task" in entry["output"] and entry["log_path"].endswith(".log")


def test_events_say_on_stderr_when_the_limit_cut_them(project: Project, run_br) -> None:
    EventCollector(project).collect_batch([{"type": "task_started", "task_id": f"t{i}"} for i in range(7)])
    cut = run_br("telemetry", "events", "--format", "json", "--limit", "5")
    assert len(json.loads(cut.stdout)) == 5
    assert "newest 5 events" in cut.stderr and "--limit" in cut.stderr
    whole = run_br("telemetry", "events", "--format", "json", "--limit", "7")
    assert len(json.loads(whole.stdout)) == 7 and whole.stderr == ""
    text = run_br("telemetry", "events", "--limit", "3")
    assert "newest 3 events" in text.stderr


READ_ONLY = [
    ("routing", "costs"), ("routing", "costs", "--format", "json"), ("routing", "models"), ("routing", "estimate", "Fix the login redirect"),
    ("telemetry", "summary"), ("telemetry", "events"), ("telemetry", "alerts"), ("telemetry", "performance"), ("telemetry", "prune"),
    ("parallel", "status"), ("parallel", "list"), ("parallel", "workers"), ("config", "show"),
    ("routing", "calibrate", "--dry-run"), ("routing", "calibrate"),
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_read_only_commands_outside_a_project_create_nothing_and_say_so(run_br, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    sub = plain / "sub"
    sub.mkdir(parents=True)
    for args in READ_ONLY:
        r = run_br(*args, cwd=sub)
        assert r.returncode == 0, (args, r.stderr)
        assert "no BuildRunner project in" in r.stderr and "br init" in r.stderr, args
        assert _tree(plain) == ["sub"], (args, _tree(plain))
    assert run_br("telemetry", "export", "-", "--type", "costs", cwd=sub).returncode == 0
    assert _tree(plain) == ["sub"]


def test_session_commands_outside_a_project_create_nothing(run_br, tmp_path: Path) -> None:
    """Only `start` makes a session: the commands that act on one find nothing outside a project and leave no store."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for args in (("pause", "x"), ("resume", "x"), ("stop", "x"), ("merge", "x"), ("worker", "x")):
        r = run_br("parallel", *args, cwd=plain)
        assert r.returncode == 6 and "not found" in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert _tree(plain) == [], (args, _tree(plain))
    assert run_br("parallel", "cleanup", cwd=plain).returncode == 0
    assert _tree(plain) == []


def test_read_only_commands_in_a_new_repository_create_no_database(run_br, tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for args in READ_ONLY:
        r = run_br(*args, cwd=repo)
        assert r.returncode == 0, (args, r.stderr)
        assert "no BuildRunner project" not in r.stderr
    assert not (repo / ".buildrunner").exists()
    (repo / "plan.yaml").write_text("tasks:\n  - id: a\n    command: 'true'\n")
    assert run_br("parallel", "start", "s", "--config", "plan.yaml", "--workers", "1", "--wait", cwd=repo).returncode == 0
    assert (repo / ".buildrunner" / "buildrunner.db").is_file()  # writing commands still make the store
    assert json.loads(run_br("parallel", "list", "-f", "json", cwd=repo).stdout)[0]["name"] == "s"


def test_arguments_are_named_as_the_spec_names_them(run_br) -> None:
    """TASK_DESCRIPTION and SESSION_ID, in help and errors, whichever Typer release renders them."""
    assert "Missing argument 'TASK_DESCRIPTION'" in run_br("routing", "estimate").stderr
    assert "TASK_DESCRIPTION" in run_br("routing", "estimate", "--help").stdout.splitlines()[0]
    assert "[SESSION_ID]" in run_br("parallel", "status", "--help").stdout.splitlines()[0]
    assert "--file <path>" in run_br("security", "scan", "--help").stdout
