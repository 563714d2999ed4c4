"""Conventions every `br` command follows, in one place.

- `--format` text | json (csv / sarif where a command offers them): data to stdout.
- `--project DIR` (`-C DIR`): run as if started in DIR, as `git -C` and `make -C` do, so the
  project is found from DIR and relative paths in other options are DIR's.
- Messages, progress and errors go to stderr; colour is off when stdout is not a
  terminal or `NO_COLOR` is set (Rich does both).

Only typer is imported here at module level: `br --help` must stay fast, so the
library, pydantic, the store and Rich are imported when a command runs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from buildrunner.project import Project

TextJson = Literal["text", "json"]
TextJsonCsv = Literal["text", "json", "csv"]
TextJsonSarif = Literal["text", "json", "sarif"]

FORMAT_HELP = "Output format: text for people, json for scripts (stable keys: docs/json-output.md)."

def _enter_project(value: Optional[Path]) -> Optional[Path]:
    """`-C DIR`: change into DIR before anything else is read (the option is eager), and pass it on absolute."""
    if value is None:
        return None
    folder = value.expanduser()
    if not folder.is_dir():
        from buildrunner.errors import NotFoundError

        raise NotFoundError(f"{value}: no such project directory", hint="pass an existing folder")
    folder = folder.resolve()
    os.chdir(folder)
    return folder


FormatOption = Annotated[TextJson, typer.Option("--format", "-f", help=FORMAT_HELP)]
ProjectOption = Annotated[
    Optional[Path],
    typer.Option(
        "--project",
        "-C",
        help="Run as if started in this folder (its project; relative paths are its own). Default: the working directory.",
        file_okay=False,
        show_default=False,
        is_eager=True,
        callback=_enter_project,
    ),
]


def project_for(project: Path | None, *, reading: bool = False) -> "Project":
    """The project a command acts on (`--project` or discovered).

    `reading`: the command only reads, so it creates no database; outside any project it says
    so on stderr and answers from an empty store (nothing is recorded there).
    """
    from buildrunner.project import Project
    from buildrunner.store import DATABASE_URL_ENV

    proj = Project(project, create=not reading)
    if reading and not proj.paths.found and not os.environ.get(DATABASE_URL_ENV, "").strip():
        stderr().print(
            f"note: no BuildRunner project in {proj.paths.root} or above (no .buildrunner/ or .git): nothing is recorded here "
            "(run `br init` in your project, or pass -C DIR)",
            markup=False,
        )
    return proj


def stdout() -> "Console":
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def show_progress() -> bool:
    """Progress bars only when a person is watching stderr."""
    return sys.stderr.isatty()


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, datetimes and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinity are not JSON; NaN is how "no data" travels (buildrunner.telemetry NO_DATA)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def emit_json(value: Any) -> None:
    """Write `value` as indented JSON to stdout, valid UTF-8 whatever it holds.

    A file name that is not UTF-8 reaches Python as lone surrogates; they are written as JSON's
    `\\udcXX` escapes (Python's json reads them back to the same name), never as raw bytes.
    """
    text = json.dumps(jsonable(value), indent=2, ensure_ascii=False)
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stdout.flush()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text a task, an agent or a file wrote, safe to print: control characters (escape sequences that would
    recolour the terminal, retitle it or move the cursor) are shown as \\xNN instead of acting."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def terminal_output(text: str) -> str:
    """Captured output shown on a terminal: its colours (SGR sequences) kept, every other control shown escaped
    (a task's output must not retitle the terminal, clear it or move the cursor over earlier lines)."""
    text = text.replace("\r\n", "\n")
    parts, pos = [], 0
    for match in _SGR.finditer(text):
        parts += [printable(text[pos : match.start()]), match.group()]
        pos = match.end()
    parts.append(printable(text[pos:]))
    return "".join(parts)


# Control characters, a non-UTF-8 name's undecodable bytes (surrogate escapes: 0x9b is an 8-bit CSI), and the
# bidirectional overrides that make a name read as another.
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff\u202a-\u202e\u2066-\u2069]")
_NAMED_CONTROL = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _NAMED_CONTROL:
        return _NAMED_CONTROL[char]
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable_path(path: str) -> str:
    """A file name (or an error line) on one line: every control character, a newline or tab too, shown escaped
    (\\n, \\t, \\xNN, \\uNNNN) as git's quotePath does, so a crafted name cannot fake a report line or steer the
    terminal."""
    return _ANY_CONTROL.sub(lambda m: _escaped(m.group()), path)


def local_time(ts: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Store times are UTC epoch seconds; people read local time."""
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts).strftime(fmt)
