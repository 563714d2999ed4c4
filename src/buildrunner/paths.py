"""Where BuildRunner keeps things: the one place every path is derived."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildrunner.errors import ConfigError

STATE_DIR_NAME = ".buildrunner"
CONFIG_FILE_NAME = "config.json"
DATABASE_FILE_NAME = "buildrunner.db"
LOGS_DIR_NAME = "logs"
# What BuildRunner keeps in `.buildrunner/` for itself (gitignore patterns, relative to that folder): the store and
# its -wal, -shm and -lock files, logs, worktrees, exports. Git never sees them (`br init` writes them to
# `.buildrunner/.gitignore`), and nothing that reads a project's files reads them: opening and closing the
# database file in a process that has it open drops that connection's locks, which can corrupt it.
STATE_IGNORED: tuple[str, ...] = (
    DATABASE_FILE_NAME, f"{DATABASE_FILE_NAME}-*", "config.validated.json", "coverage/", f"{LOGS_DIR_NAME}/", "telemetry/", "worktrees/",
)


def state_ignore_patterns() -> list[str]:
    """STATE_IGNORED as gitignore patterns from the project root."""
    return [f"{STATE_DIR_NAME}/{entry}" for entry in STATE_IGNORED]


def make_private_dir(path: Path) -> Path:
    """Create `path` and its missing parents private to their owner (0700): state, logs and worktrees hold
    commands, environment values and task output. Returns `path`."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():  # a file where a folder must be (a stray file named `.buildrunner`)
        raise ConfigError(f"{folder}: is a file, not a folder", hint="move or remove it; BuildRunner keeps its state in a folder there")
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def atomic_write_text(path: Path, text: str, *, private: bool = False) -> None:
    """Write `text` to `path` atomically: never half written (even if the process dies) and never mixed with another
    writer's (each writes its own temporary file). `private`: readable by its owner only; else as the umask allows."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666), "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private_json(path: Path, document: Any) -> None:
    """Write `document` as JSON to `path` atomically, private to its owner."""
    make_private_dir(path.parent)
    atomic_write_text(path, json.dumps(document), private=True)


def read_json(path: Path) -> Any:
    """The JSON document at `path`, or None when it is missing or unreadable (callers treat both as "not kept")."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_project_root(start: Path | None = None) -> Path:
    """The first folder upward holding `.buildrunner/` or `.git`; else `start` itself.

    Falling back to `start` (not creating anything) keeps a subfolder run from
    growing a stray `.buildrunner/`.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR_NAME).is_dir() or (folder / ".git").exists():
            return folder
    return here


@dataclass(frozen=True)
class ProjectPaths:
    """The files of one project, all derived from its root."""

    root: Path

    @classmethod
    def discover(cls, start: Path | None = None) -> "ProjectPaths":
        return cls(find_project_root(start))

    @property
    def found(self) -> bool:
        """True when the root really is a project (it holds `.buildrunner/` or `.git`), not the fallback folder."""
        return (self.root / STATE_DIR_NAME).is_dir() or (self.root / ".git").exists()

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR_NAME

    @property
    def config_file(self) -> Path:
        override = os.environ.get("BR_CONFIG_FILE")
        if override:
            path = Path(override).expanduser()
            return path if path.is_absolute() else Path.cwd() / path
        return self.state_dir / CONFIG_FILE_NAME

    @property
    def database_file(self) -> Path:
        return self.state_dir / DATABASE_FILE_NAME

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / LOGS_DIR_NAME

    def relative(self, path: Path | str) -> str:
        """`path` relative to the root when it lies inside, else as given (for display and whitelists)."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)
