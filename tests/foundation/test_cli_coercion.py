"""The plain option converter (`buildrunner.cli.coercion`) gives what Typer's own gives: the same values, the same errors."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest
import typer
import typer.main
from typer import _click as click

import buildrunner.cli.coercion as coercion
from buildrunner.cli.coercion import plain_conversion


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _app(seen: dict[str, Any]) -> typer.Typer:
    """A command with one option of every kind `br` uses, recording what it receives."""
    app = typer.Typer()

    @app.command()
    def cmd(
        name: Annotated[str, typer.Argument()] = "x",
        fmt: Annotated[Literal["text", "json"], typer.Option("--format")] = "text",
        colour: Annotated[Colour, typer.Option("--colour", case_sensitive=False)] = Colour.RED,
        hours: Annotated[int, typer.Option("--hours", min=1, max=100)] = 24,
        count: Annotated[int, typer.Option("--count")] = 0,
        ratio: Annotated[float, typer.Option("--ratio", min=0)] = 0.5,
        where: Annotated[Optional[Path], typer.Option("--where", file_okay=False)] = None,
        files: Annotated[Optional[list[Path]], typer.Option("--file")] = None,
        tags: Annotated[Optional[list[str]], typer.Option("--tag")] = None,
        flag: Annotated[bool, typer.Option("--flag")] = False,
        maybe: Annotated[Optional[bool], typer.Option("--maybe/--no-maybe")] = None,
    ) -> None:
        seen.update(name=name, fmt=fmt, colour=colour, hours=hours, count=count, ratio=ratio, where=where, files=files, tags=tags, flag=flag, maybe=maybe)

    @app.command()
    def other() -> None:
        """A second command, so `cmd` is a subcommand as in `br`."""

    return app


def _run(args: list[str], plain: bool) -> tuple[str, Any]:
    """("ok", the values `cmd` got) or ("error", Typer's message) for `args`, with or without the plain converter."""
    seen: dict[str, Any] = {}
    command = typer.main.get_command(_app(seen))
    if plain:
        plain_conversion(command, ["--help"])
    try:
        command.main(["cmd", *args], prog_name="t", standalone_mode=False)
    except click.ClickException as exc:
        return "error", exc.format_message()
    return "ok", {key: (value, type(value)) for key, value in seen.items()}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["name", "--format", "json", "--colour", "BLUE", "--hours", "7", "--count", "-3", "--ratio", "2.25", "--flag", "--no-maybe"],
        ["--hours", "007", "--ratio", "3", "--where", ".", "--file", "a.py", "--file", "b/c.py", "--tag", "x", "--tag", ""],
        ["--format", "xml"],
        ["--colour", "green"],
        ["--hours", "0"],
        ["--hours", "101"],
        ["--hours", "abc"],
        ["--hours", "1_0"],
        ["--hours", " 5"],
        ["--count", "99999999999999999999999"],
        ["--ratio", "1e3"],
        ["--ratio", "-1"],
        ["--ratio", "inf"],
        ["--where", "pyproject.toml"],
        ["--where", ""],
        ["--file", ""],
    ],
)
def test_same_values_and_errors_as_typer(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    assert _run(args, plain=True) == _run(args, plain=False)


def test_a_bad_value_is_still_a_one_line_usage_error(run_br) -> None:
    r = run_br("telemetry", "summary", "--hours", "0")
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--hours" in line and "--help`)" in line


@pytest.mark.skipif(not hasattr(coercion, "coerce_cli_path"), reason="a Typer before 0.29 converts without pydantic: no plain converter is installed")
def test_a_typer_whose_private_helpers_changed_still_converts_every_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The converter borrows Typer's private helpers; one that changes its signature in a later Typer must cost only
    start-up time (Typer's own converter takes over), never a command that fails."""
    def changed(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("coerce_cli_path() got an unexpected keyword argument 'param'")

    args = ["--where", str(tmp_path), "--file", "a.txt", "--hours", "5", "--format", "json"]
    expected = _run(args, plain=False)
    monkeypatch.setattr(coercion, "coerce_cli_path", changed)
    monkeypatch.setattr(coercion, "coerce_cli_choice", changed)
    assert _run(args, plain=True) == expected and expected[0] == "ok"
