"""`br security`: secret scanning, SQL-injection detection, git hooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List, Literal, Optional, TypeVar

import typer

from buildrunner.cli.common import FormatOption, ProjectOption, TextJsonSarif
from buildrunner.cli.groups import group_example, group_help

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.security.checks import SecurityReport
    from buildrunner.security.hooks import HookStatus

T = TypeVar("T")

app = typer.Typer(help=group_help("security"), epilog=group_example("security"), no_args_is_help=True)
hooks_app = typer.Typer(
    help="Install, inspect or remove the git pre-commit hook.", epilog="Example: br security hooks install --force", no_args_is_help=True
)
app.add_typer(hooks_app, name="hooks")

SarifFormat = Annotated[
    TextJsonSarif, typer.Option("--format", "-f", help="Output format: text for people, json for scripts, sarif (2.1.0) for code-scanning UIs.")
]
SecretsOption = Annotated[bool, typer.Option("--secrets", help="Check only for secrets.")]
NoSecretsOption = Annotated[bool, typer.Option("--no-secrets", help="Skip secret detection.")]
SqlOption = Annotated[bool, typer.Option("--sql", help="Check only for SQL injection.")]
NoSqlOption = Annotated[bool, typer.Option("--no-sql", help="Skip SQL-injection detection.")]
SeverityOption = Annotated[
    Literal["low", "medium", "high"], typer.Option("--min-severity", help="Report only findings at or above this severity.", show_default=True)
]


def _kinds(secrets: bool, no_secrets: bool, sql: bool, no_sql: bool) -> tuple[bool, bool]:
    """`--secrets` alone means only secrets, `--sql` alone only SQL; `--no-x` switches one off; contradictions are refused."""
    from buildrunner.errors import ConfigError

    for on, off, name in ((secrets, no_secrets, "secrets"), (sql, no_sql, "sql")):
        if on and off:
            raise ConfigError(f"--{name} and --no-{name} contradict each other", hint=f"give one of --{name} or --no-{name}")
    want_secrets = not no_secrets and (secrets or not sql)
    want_sql = not no_sql and (sql or not secrets)
    if not (want_secrets or want_sql):
        raise ConfigError("--no-secrets and --no-sql leave nothing to check", hint="drop one of them")
    return want_secrets, want_sql


def _emit(report: "SecurityReport", fmt: str) -> None:
    from buildrunner.cli.common import stderr, stdout

    if fmt == "json":
        from buildrunner.cli.security_json import render

        render(report)
    elif fmt == "sarif":
        from buildrunner.cli.security_sarif import render

        render(report)
    else:
        from buildrunner.cli.security_text import render as render_text

        render_text(report, stdout(), stderr())
    report.raise_for_findings()


def _run(work: Callable[[], T], label: str) -> T:
    """Run `work()` with a spinner on stderr when a person is watching."""
    from buildrunner.cli.common import show_progress, stderr

    if not show_progress():
        return work()
    with stderr().status(label):
        return work()


@app.command()
def check(
    staged: Annotated[bool, typer.Option("--staged", help="Check the staged content in the git index (what the next commit holds).")] = False,
    secrets: SecretsOption = False,
    no_secrets: NoSecretsOption = False,
    sql: SqlOption = False,
    no_sql: NoSqlOption = False,
    min_severity: SeverityOption = "low",
    fmt: SarifFormat = "text",
    project: ProjectOption = None,
) -> None:
    """Check changed files (or, with --staged, the staged blobs) for secrets and SQL injection.

    Exit 0 when clean, 3 when something is found, 1 when a file could not be scanned
    (too big, unreadable) or the project is not a git repository.

    Example: br security check --staged
    """
    from buildrunner.cli.common import project_for
    from buildrunner.security.checks import check_changed, check_staged

    want_secrets, want_sql = _kinds(secrets, no_secrets, sql, no_sql)
    proj = project_for(project)
    runner = check_staged if staged else check_changed
    report = _run(lambda: runner(proj, secrets=want_secrets, sql=want_sql, min_severity=min_severity), "Checking…")
    _emit(report, fmt)


@app.command()
def scan(
    targets: Annotated[Optional[List[str]], typer.Argument(metavar="PATH", help="Files or folders to scan, as with --file / --directory.", show_default=False)] = None,
    file: Annotated[Optional[List[str]], typer.Option("--file", help="A file to scan (repeatable).", show_default=False, metavar="<path>")] = None,
    directory: Annotated[Optional[List[Path]], typer.Option("--directory", "-d", help="A folder to scan (repeatable; default: the project).", show_default=False, metavar="<dir>")] = None,
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Scan subfolders.")] = True,
    secrets: SecretsOption = False,
    no_secrets: NoSecretsOption = False,
    sql: SqlOption = False,
    no_sql: NoSqlOption = False,
    min_severity: SeverityOption = "low",
    fmt: SarifFormat = "text",
    project: ProjectOption = None,
) -> None:
    """Scan files or folders for secrets and SQL injection (.gitignore and the whitelist honoured; a folder you name is scanned even when .gitignore leaves it out).

    Exit 0 when clean, 3 when something is found, 1 when a file named with --file could
    not be scanned (too big, unreadable, a link leaving the project), 6 when a path does not exist.
    Files inside folders that could not be scanned are listed and counted.

    Example: br security scan src/ settings.py --format sarif
    """
    from buildrunner.cli.common import project_for
    from buildrunner.security.checks import scan_paths

    want_secrets, want_sql = _kinds(secrets, no_secrets, sql, no_sql)
    proj = project_for(project)
    paths: list[str | Path] = [*(targets or []), *(file or []), *(directory or [])] or [proj.paths.root]
    target = ", ".join(str(p) for p in paths)
    report = _run(
        lambda: scan_paths(proj, paths, recursive=recursive, secrets=want_secrets, sql=want_sql, target=target, min_severity=min_severity),
        "Scanning…",
    )
    _emit(report, fmt)


@app.command()
def history(
    revisions: Annotated[Optional[List[str]], typer.Argument(metavar="REVISION", help="What to walk, as git log takes it (main, v1.0..HEAD); default: every branch and tag.", show_default=False)] = None,
    min_severity: SeverityOption = "low",
    fmt: SarifFormat = "text",
    project: ProjectOption = None,
) -> None:
    """Scan what every commit added for secrets, as gitleaks scans a history: a secret removed since is still in every
    clone, so rotate it (deleting it is not enough).

    Each finding names the commit that first added it; the same secret in later versions of its file is reported
    once. The whitelist applies. Exit 0 when clean, 3 when something is found, 1 outside a git repository.

    Example: br security history main~50..main --format json
    """
    from buildrunner.cli.common import project_for
    from buildrunner.security.checks import check_history

    proj = project_for(project)
    report = _run(lambda: check_history(proj, revisions, min_severity=min_severity), "Scanning the history…")
    _emit(report, fmt)


@app.command()
def precommit(
    files: Annotated[Optional[List[Path]], typer.Argument(help="Files to check instead of the staged blobs (the pre-commit framework passes them).", show_default=False)] = None,
    include_committed: Annotated[bool, typer.Option("--include-committed", help="Also count findings the committed version of a staged file already held.")] = False,
    project: ProjectOption = None,
) -> None:
    """Check the staged changes and block the commit on findings or on a staged file that could not be scanned (run by the git hook).

    Exit 0 when the commit may go ahead, 3 on findings, 1 when a staged file was not scanned
    (larger than security.max_file_size_mb: raise it, or allowlist the path). Only what the commit
    adds counts: a finding the committed version of the file already held is said, not counted
    (`--include-committed` counts it; `br security check --staged` shows every finding in the staged
    files). Given FILES (as the pre-commit framework passes them, all tracked files with `pre-commit
    run --all-files`), those files are checked whole as they are on disk.

    Example: br security precommit
    """
    from buildrunner.cli.common import project_for, stderr, stdout
    from buildrunner.cli.security_text import already_committed, not_analysed_lines, render
    from buildrunner.security.checks import check_staged, scan_paths

    proj = project_for(project)
    report = scan_paths(proj, files, recursive=False, target="files", strict=True) if files else check_staged(proj, new_only=not include_committed)
    if report.passed:
        for line in not_analysed_lines(report.not_analysed):
            stderr().print(line, markup=False)
        if report.already_committed:
            stderr().print(f"note: {already_committed(report.already_committed)}", markup=False)
        return
    render(report, stdout(), stderr())
    if not proj.config.security.enforce_hooks:
        stderr().print("warning: security.enforce_hooks is false, so this commit is not blocked")
        return
    stderr().print("Bypass once (not advised) with `git commit --no-verify`.")
    report.raise_for_findings("Commit blocked by BuildRunner: ")


def _shown(proj: Project, path: str) -> str:
    """`path` as the user knows it: relative to the project when inside it, a symlinked hook not followed."""
    try:
        return Path(path).absolute().relative_to(proj.paths.root).as_posix()
    except ValueError:
        return path


def _show_status(status: HookStatus, proj: Project) -> None:
    """The hook's state, with paths relative to the project (`.git/hooks/pre-commit`) where they lie inside it."""
    from buildrunner.cli.common import stdout

    out = stdout()
    if status.state == "installed" and not status.executable:
        out.print("⚠️ Pre-commit hook installed but not executable: git skips it (run: br security hooks install)")
    elif status.state == "installed":
        out.print("✅ Pre-commit hook installed")
    elif status.state == "foreign":
        out.print("⚠️ A pre-commit hook not managed by BuildRunner is installed")
    else:
        out.print("❌ Pre-commit hook not installed (run: br security hooks install)")
    out.print(f"Location: {_shown(proj, status.path)}")
    if status.permissions:
        out.print(f"Permissions: {status.permissions}")
    if status.backup:
        out.print(f"Backup of the previous hook: {_shown(proj, status.backup)}")
    if status.state == "installed" and not status.merge_commits:  # (the spec's three lines when all is well)
        out.print("⚠️ Merges that commit by themselves are not checked: another tool's pre-merge-commit hook is there")


@hooks_app.command("install")
def hooks_install(
    force: Annotated[bool, typer.Option("--force", help="Replace a hook BuildRunner did not install (it is kept as pre-commit.br-backup).")] = False,
    project: ProjectOption = None,
) -> None:
    """Install the pre-commit hook into the repository's hooks folder (honours core.hooksPath).

    Example: br security hooks install
    """
    from buildrunner.cli.common import project_for
    from buildrunner.security.hooks import HookManager

    proj = project_for(project)
    _show_status(HookManager(proj).install(force=force), proj)


@hooks_app.command("status")
def hooks_status(
    fmt: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Show whether the pre-commit hook is installed, where, and its permissions.

    Exits 0 when BuildRunner's hook is installed and git will run it, 1 otherwise (missing, not executable, or
    another tool's hook), so scripts can check it.

    Example: br security hooks status || br security hooks install
    """
    from buildrunner.cli.common import emit_json, project_for
    from buildrunner.security.hooks import HookManager

    proj = project_for(project)
    status = HookManager(proj).status()
    if fmt == "json":
        emit_json(status)
    else:
        _show_status(status, proj)
    if status.state != "installed" or not status.executable:
        raise typer.Exit(1)


@hooks_app.command("uninstall")
def hooks_uninstall(project: ProjectOption = None) -> None:
    """Remove BuildRunner's pre-commit hook and restore the hook it replaced, if any.

    Example: br security hooks uninstall
    """
    from buildrunner.cli.common import project_for, stdout
    from buildrunner.security.hooks import HookManager

    proj = project_for(project)
    removal = HookManager(proj).uninstall()
    out = stdout()
    if not removal.removed:
        out.print(f"Nothing to remove: no pre-commit hook is installed at {_shown(proj, removal.status.path)}")
    elif removal.restored:
        out.print(f"✅ Removed BuildRunner's pre-commit hook; the hook it had replaced is back at {_shown(proj, removal.restored)}")
    else:
        out.print(f"✅ Removed BuildRunner's pre-commit hook ({_shown(proj, removal.status.path)})")
