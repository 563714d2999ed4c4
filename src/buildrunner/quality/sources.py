"""The source files of a project: which ones count, what language, which module each one is.

Both the quality gate and the gap analysis read the same file set, so they agree on
what "the code" is: `.gitignore` files (every level) are honoured with pathspec,
virtual environments, build output and caches are skipped, and `quality.exclude`
patterns (gitignore syntax) drop more.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import decode_source
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from buildrunner.errors import ConfigError
from buildrunner.security.files import IgnoreRules, IgnoreSpec
from buildrunner.words import plural

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from buildrunner.project import Project

# Directories that never hold the project's own code.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".buildrunner", ".venv", "venv", ".tox", ".nox",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "node_modules",
        "build", "dist", "site-packages", ".eggs", "htmlcov",
    }
)

# Languages we recognise but do not analyse in depth.
OTHER_LANGUAGES = {
    ".js": "JavaScript", ".jsx": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".go": "Go", ".rs": "Rust", ".java": "Java",
    ".kt": "Kotlin", ".rb": "Ruby", ".php": "PHP", ".c": "C", ".h": "C", ".cc": "C++",
    ".cpp": "C++", ".hpp": "C++", ".cs": "C#", ".swift": "Swift", ".scala": "Scala", ".sh": "Shell",
}
# What a task's files are written in (routing's "languages" factor): the gate's languages, Python and SQL.
LANGUAGES = {".py": "Python", ".pyi": "Python", **OTHER_LANGUAGES, ".sql": "SQL"}

TEST_DIR_NAMES = frozenset({"test", "tests", "testing", "__tests__"})
_OTHER_TEST_FILE = re.compile(
    r"(?:_test\.go|\.(?:test|spec)\.[cm]?[jt]sx?|_spec\.rb|(?:Test|Tests|Spec)\.(?:java|kt|cs|scala|swift))$"
)

# Below this many files the cost of starting worker processes outweighs the gain.
PARALLEL_MIN_FILES = 40

T = TypeVar("T")
R = TypeVar("R")

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SourceFile:
    """One Python file of the project."""

    path: Path
    rel: str
    module: str
    is_test: bool
    is_package: bool

    @property
    def root(self) -> Path:
        """The project folder it was found in: its path less its relative one."""
        return Path(str(self.path)[: -len(self.rel)] or ".")


@dataclass
class LanguageCount:
    """Files of a language we count but do not analyse."""

    language: str
    files: int = 0
    lines: int = 0


@dataclass
class SourceSet:
    """Every file of the project that the gate and the gap analysis look at."""

    root: Path
    python: list[SourceFile] = field(default_factory=list)
    other: dict[str, LanguageCount] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # folder that could not be listed -> why (its code is unseen)

    def not_analysed_note(self) -> str | None:
        """The note both reports carry for languages counted but not analysed (None when there are none)."""
        if not self.other:
            return None
        counts = sorted(self.other.values(), key=lambda c: c.language)
        return "not analysed: " + ", ".join(f"{c.language} ({plural(c.files, 'file')}, {plural(c.lines, 'line')})" for c in counts)

    @property
    def modules(self) -> dict[str, SourceFile]:
        """Module name -> file (first in path order wins when two files claim a name)."""
        found: dict[str, SourceFile] = {}
        for src in self.python:
            found.setdefault(src.module, src)
        return found

    @property
    def local_top_names(self) -> set[str]:
        """Top-level import names the project itself provides."""
        return {src.module.split(".")[0] for src in self.python}


def is_test_path(rel: str) -> bool:
    """Test code by the usual conventions: pytest/unittest (a tests folder, test_*.py, *_test.py), and the
    other languages we list (a __tests__ folder, x_test.go, x.test.ts, x.spec.js, x_spec.rb, FooTest.java, FooTests.cs)."""
    parts = rel.split("/")
    name = parts[-1]
    return (
        any(p in TEST_DIR_NAMES for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or _OTHER_TEST_FILE.search(name) is not None
    )


def module_name(path: Path, root: Path) -> str:
    """The dotted name Python imports `path` as: walk up while folders are packages."""
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while folder != root and (folder / "__init__.py").is_file() and folder != folder.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or path.parent.name


def is_virtualenv(folder: Path) -> bool:
    """A virtual environment (it holds a pyvenv.cfg), whatever its name. A folder that cannot be looked into is not
    one as far as we can tell: the walk then fails to list it and reports it unread, instead of the probe crashing."""
    try:
        return (folder / "pyvenv.cfg").is_file()
    except OSError:
        return False


def skipped_dir(folder: Path) -> bool:
    """Folders that never hold the project's own code: caches, build output, virtualenvs."""
    return folder.name in SKIP_DIRS or folder.name.endswith(".egg-info") or is_virtualenv(folder)


def iter_files(
    root: Path, exclude: Iterable[str] = (), unreadable: Callable[[str, OSError], None] | None = None
) -> Iterator[tuple[Path, str]]:
    """Every project file as (path, path relative to root), honouring .gitignore at every level; each folder that
    cannot be listed goes to `unreadable` (its relative path and the error) and is skipped.

    The ignore rules are the security scanner's (`security.files.IgnoreRules`), so every
    BuildRunner command agrees on which files are ignored.
    """
    extra = IgnoreSpec(exclude)
    rules = IgnoreRules(root)

    def ignored(rel: str, is_dir: bool) -> bool:  # a file git tracks is the project's, whatever .gitignore says (as git reads it)
        return extra.match_file(rel + "/" if is_dir else rel) or (rules.ignored(rel, is_dir) and not rules.is_tracked(rel, is_dir))

    def walk_error(exc: OSError) -> None:
        if unreadable is not None:
            folder = Path(exc.filename or root)
            unreadable(folder.relative_to(root).as_posix() if folder != root else ".", exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        here = Path(dirpath)
        rel_dir = "" if here == root else here.relative_to(root).as_posix()
        rules.enter(rel_dir, here)
        prefix = rel_dir + "/" if rel_dir else ""
        dirnames[:] = sorted(d for d in dirnames if not skipped_dir(here / d) and not ignored(prefix + d, True))
        for name in sorted(filenames):
            rel = prefix + name
            if not ignored(rel, False) and _regular(here / name):
                yield here / name, rel


def _regular(path: Path) -> bool:
    """A regular file, not a link: a FIFO named `x.py` would block the read for ever, a link may leave the project
    (`z.py -> /dev/zero`) or dangle, and one to a file inside it is read by that file's own path."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


def collect_sources(root: Path, exclude: Iterable[str] = ()) -> SourceSet:
    """The Python files (with module names) and the other languages' file and line counts."""
    root = root.resolve()
    found = SourceSet(root=root)

    def unreadable(rel: str, exc: OSError) -> None:
        found.unreadable[rel] = exc.strerror or str(exc)

    for path, rel in iter_files(root, exclude, unreadable):
        suffix = path.suffix.lower()
        if suffix == ".py":
            found.python.append(
                SourceFile(
                    path=path,
                    rel=rel,
                    module=module_name(path, root),
                    is_test=is_test_path(rel),
                    is_package=path.name == "__init__.py",
                )
            )
        elif suffix in OTHER_LANGUAGES:
            language = OTHER_LANGUAGES[suffix]
            count = found.other.setdefault(language, LanguageCount(language))
            count.files += 1
            count.lines += _count_lines(path)
    return found


def project_sources(project: Project) -> SourceSet:
    """The project's source set with its configured excludes."""
    return collect_sources(project.paths.root, project.config.quality.exclude)


def parallel_map(
    func: Callable[[T], R],
    items: list[T],
    progress: ProgressCallback | None = None,
    *,
    side_jobs: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]] = (),
) -> tuple[list[R], list[Any]]:
    """`func` over `items` on every core (results in order), plus long whole-project `side_jobs` alongside.

    Small inputs run in-process: starting workers costs more than it saves.
    """
    total = len(items)
    cpus = os.cpu_count() or 1
    if cpus < 2 or total < PARALLEL_MIN_FILES:
        side_results = [job(*args) for job, args in side_jobs]
        results = []
        for done, item in enumerate(items, 1):
            results.append(func(item))
            if progress:
                progress(done, total)
        return results, side_results
    chunk = max(1, min(32, total // (cpus * 8) or 1))
    with ProcessPoolExecutor(max_workers=cpus) as pool:
        side_futures = [pool.submit(job, *args) for job, args in side_jobs]
        results = []
        for done, result in enumerate(pool.map(func, items, chunksize=chunk), 1):
            results.append(result)
            if progress and (done % chunk == 0 or done == total):
                progress(done, total)
        side_results = [future.result() for future in side_futures]
    return results, side_results


def read_source(path: Path) -> str | None:
    """The file's text decoded as Python does (PEP 263 coding cookie), or None if unreadable."""
    try:
        return decode_source(path.read_bytes())
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
        return None


def read_pyproject(root: Path) -> tuple[str, dict[str, Any]] | None:
    """The project's pyproject.toml, its text and its tables; None when it has none. Both the gate and the gap
    analysis read it (requires-python, dependencies), so a broken one is the same configuration error in both."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        text = path.read_bytes().decode("utf-8")
        return text, tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})", hint="fix its permissions and run again") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text, as TOML must be ({exc.reason} at byte {exc.start})", hint="save it as UTF-8 and run again") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix the file and run again") from None


def python_mismatch(root: Path) -> str | None:
    """Why a syntax error may be new syntax, not broken code: the project's `requires-python` (pyproject.toml)
    excludes the Python BuildRunner runs on (`type Pair[T] = ...` is 3.12 syntax, and `ast` parses as its own Python)."""
    try:
        info = (root / "pyproject.toml").stat()
    except OSError:
        return None
    return _python_mismatch(root, (info.st_mtime_ns, info.st_size))


@lru_cache(maxsize=16)
def _python_mismatch(root: Path, version: tuple[int, int]) -> str | None:
    """`python_mismatch` for one version of pyproject.toml (its time and size): read once, not once per file."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only after a syntax error (routing loads this module)

    try:
        _, data = read_pyproject(root) or ("", {})
        wanted = data.get("project", {}).get("requires-python")
        allowed = SpecifierSet(str(wanted)) if wanted else None
    except (ConfigError, InvalidSpecifier, AttributeError):  # the commands report a broken file themselves
        return None
    running = ".".join(str(part) for part in sys.version_info[:3])
    major, minor = sys.version_info[:2]
    newer = any(allowed.contains(f"{major}.{later}.0", prereleases=True) for later in range(minor + 1, minor + 12)) if allowed else False
    if allowed is None or allowed.contains(running, prereleases=True) or not newer:  # only a newer Python's syntax is new to us
        return None
    return f"the project requires Python {wanted} and BuildRunner runs on {running}: install BuildRunner under that Python to analyse it"


def syntax_error_text(src: SourceFile, exc: BaseException) -> str:
    """A file that does not parse, said for people: new syntax for the project's Python, or broken code."""
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    mismatch = python_mismatch(src.root)
    return f"not parsable by Python {sys.version_info[0]}.{sys.version_info[1]}{where}; {mismatch}" if mismatch else f"syntax error: {getattr(exc, 'msg', exc)}{where}"
