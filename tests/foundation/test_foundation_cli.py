"""CLI conventions: version, help, the one error handler, exit codes, no colour when piped."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner import __version__
from buildrunner.cli import main as cli_main
from buildrunner.errors import ExitCode, NotFoundError


def test_version_via_console_script_and_module(run_br, tmp_project) -> None:
    assert run_br("--version").stdout.strip() == f"br {__version__}"
    exe = subprocess.run([sys.executable, "-m", "buildrunner", "-V"], capture_output=True, text=True)
    assert exe.stdout.strip() == f"br {__version__}"


def test_help_lists_the_six_groups(run_br) -> None:
    result = run_br("--help")
    assert result.returncode == 0
    for group in ("security", "routing", "telemetry", "parallel", "quality", "gaps", "init", "config"):
        assert group in result.stdout


def test_help_does_not_import_the_store_or_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from buildrunner.cli.main import app\n"
        "try:\n    app(['--help'], prog_name='br')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('psycopg', 'buildrunner.store', 'pydantic', 're2', 'ahocorasick', 'radon', 'tree_sitter', 'genai_prices', 'psutil',"
        " 'buildrunner.cli.security', 'buildrunner.cli.parallel', 'buildrunner.cli.telemetry') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_project_option_must_exist(run_br, tmp_path) -> None:
    result = run_br("config", "show", "--project", str(tmp_path / "missing"))
    assert result.returncode == 6
    assert result.stderr.count("\n") == 1 and "missing: no such project directory" in result.stderr


def _run_with(monkeypatch, capsys, exc: Exception, env: dict[str, str] | None = None) -> tuple[int, str]:
    name = "boom-" + type(exc).__name__.lower()

    def boom() -> None:
        raise exc

    cli_main.app.command(name)(boom)
    monkeypatch.setattr(sys, "argv", ["br", name])
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    try:
        with pytest.raises(SystemExit) as caught:
            cli_main.run()
    finally:
        cli_main.app.registered_commands.pop()
    return caught.value.code, capsys.readouterr().err


def test_library_errors_become_one_line_and_their_exit_code(monkeypatch, capsys) -> None:
    code, err = _run_with(monkeypatch, capsys, NotFoundError("src/x.py: no such file", hint="check the path"))
    assert code == ExitCode.NOT_FOUND == 6
    assert err.strip().splitlines() == ["error: src/x.py: no such file (check the path)"]


def test_unexpected_errors_point_at_br_debug(monkeypatch, capsys) -> None:
    monkeypatch.delenv("BR_DEBUG", raising=False)
    code, err = _run_with(monkeypatch, capsys, RuntimeError("kaput"))
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "kaput" in err and "BR_DEBUG=1" in err and "Traceback" not in err


def test_br_debug_shows_the_traceback(monkeypatch, capsys) -> None:
    with pytest.raises(RuntimeError):
        _run_with(monkeypatch, capsys, RuntimeError("kaput"), env={"BR_DEBUG": "1"})


def test_errors_are_not_coloured_when_piped(run_br, tmp_project) -> None:
    (tmp_project / ".buildrunner" / "config.json").write_text("{nope")
    result = run_br("config", "show", env={"NO_COLOR": None, "TERM": "xterm-256color"})
    assert result.returncode == 2
    assert "\x1b[" not in result.stderr and "\x1b[" not in result.stdout


def test_exit_code_table_is_the_specs() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


def _commands(group, path=()):
    """Every command and command group under `group`, with its path."""
    ctx = group.make_context("br", [], resilient_parsing=True)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*path, name))


def test_every_command_help_has_an_example() -> None:
    """The brief: `--help` of every command (and of every group) shows an example."""
    import typer.main

    root = typer.main.get_command(cli_main.app)
    commands = list(_commands(root))
    assert len(commands) > 38
    missing = [" ".join(path) for path, command in commands if "Example" not in (command.help or "") + (command.epilog or "")]
    assert missing == []


def test_json_output_is_always_valid_json(capsys) -> None:
    """Numbers JSON cannot hold (NaN: no data; infinity) become null, a file name that is not UTF-8 an escape: never invalid JSON."""
    import json
    import os

    from buildrunner.cli.common import emit_json

    name = os.fsdecode(b"bad\xffname.py")
    emit_json({"rate": float("nan"), "total": float("inf"), "low": float("-inf"), "ok": 1.5, "file": name})
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=lambda token: pytest.fail(f"{token} is not JSON")) == {
        "rate": None, "total": None, "low": None, "ok": 1.5, "file": name,
    }
    out.encode("utf-8")  # valid UTF-8 text: no lone surrogate reaches the output


def test_task_output_shown_on_a_terminal_keeps_colours_and_cannot_steer_the_terminal() -> None:
    """`br parallel logs` on a terminal: pytest's colours stay; a title change, a screen clear or a carriage return
    hiding what came before it (`password\\rxxxxxxxx`) are shown escaped; Windows line ends stay line ends."""
    from buildrunner.cli.common import terminal_output

    text = "\x1b[32mPASSED\x1b[0m 3 tests\r\n\x1b]0;owned\x07\x1b[2Jdone\rhidden\n"
    assert terminal_output(text) == "\x1b[32mPASSED\x1b[0m 3 tests\n\\x1b]0;owned\\x07\\x1b[2Jdone\\x0dhidden\n"


@given(st.text())
def test_terminal_output_leaves_no_control_character_but_colours_newlines_and_tabs(text: str) -> None:
    import re

    from buildrunner.cli.common import terminal_output

    shown = re.sub(r"\x1b\[[0-9;]*m", "", terminal_output(text))
    assert not [c for c in shown if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]


def test_a_project_in_a_folder_this_user_cannot_write_is_read(tmp_project) -> None:  # type: ignore[no-untyped-def]
    """SQLite opens a WAL database only where it can make the -shm file beside it: a read-only project could not be
    read at all. Now it is read as it is, and a command that records something says the folder is read-only."""
    import json
    import os
    import shlex
    import shutil

    from buildrunner.project import Project
    from buildrunner.routing.cost_tracker import CostTracker

    with Project(tmp_project) as project:
        CostTracker(project).track_request("haiku", 0, 0, cost=0.5)
    state = tmp_project / ".buildrunner"
    if os.geteuid() == 0:
        capsh = shutil.which("capsh")
        if capsh is None:
            pytest.skip("running as root and capsh is not installed: cannot take away the right to write")
        prefix = [capsh, "--drop=cap_dac_override,cap_dac_read_search,cap_fowner", "--", "-c"]
    else:
        prefix = ["sh", "-c"]

    def br(*args: str) -> subprocess.CompletedProcess[str]:
        command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "buildrunner", *args))
        return subprocess.run([*prefix, command], cwd=tmp_project, capture_output=True, text=True, check=False)

    for path in (state, *state.iterdir()):
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        read = br("routing", "costs", "--format", "json")
        assert read.returncode == 0, read.stderr
        assert json.loads(read.stdout)["total_cost"] == 0.5
        write = br("telemetry", "alerts")
        assert write.returncode != 0 and "read-only" in write.stderr and "Traceback" not in write.stderr
    finally:
        for path in (state, *state.iterdir()):
            path.chmod(path.stat().st_mode | 0o200)
