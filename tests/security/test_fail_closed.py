"""Scans and the hook never pass over what they did not read: too big, unreadable, links leaving the project, deep trees.

Also the consistency rules of issue 16 (item 6) in this area: contradictory switches,
the file name of a staged finding, one exit code for "not a git repository".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from security_helpers import remove_tree, samples, write_config

from buildrunner.project import Project
from buildrunner.security.checks import check_contents, scan_paths

MB = 1_000_000


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def aws_key() -> str:
    return samples()["aws_access_key_id"].split("= ")[1]


def big_file_with_a_key(path: Path, megabytes: float) -> None:
    """`megabytes` of ordinary text with an AWS key in the middle."""
    filler = "log line: nothing to see here\n" * int(megabytes * MB / 60)
    path.write_text(filler + f"aws_access_key_id = {aws_key()}\n" + filler)


def test_a_staged_six_megabyte_file_with_a_secret_blocks_the_commit_through_the_installed_hook(run_br, tmp_project: Path) -> None:
    assert run_br("security", "hooks", "install").returncode == 0
    big_file_with_a_key(tmp_project / "dump.sql", 6)
    git(tmp_project, "add", "dump.sql")
    blocked = git(tmp_project, "commit", "-q", "-m", "add dump", check=False)
    assert blocked.returncode != 0
    assert "not scanned: dump.sql: larger than 5 MB" in blocked.stderr
    assert "Commit blocked by BuildRunner: 1 file not scanned" in blocked.stderr
    assert aws_key() not in blocked.stdout + blocked.stderr
    assert git(tmp_project, "rev-list", "--all", "--count").stdout.strip() == "0"

    write_config(tmp_project, max_file_size_mb=8)  # raised: the file is scanned, and the key found
    found = git(tmp_project, "commit", "-q", "-m", "add dump", check=False)
    assert found.returncode != 0 and "[aws_access_key_id]" in found.stderr and aws_key() not in found.stdout + found.stderr

    write_config(tmp_project)
    whitelist = tmp_project / ".buildrunner" / "security" / "whitelist.txt"
    whitelist.parent.mkdir(parents=True, exist_ok=True)
    whitelist.write_text("dump.sql\n")  # allowlisted: the hook lets it through
    assert git(tmp_project, "commit", "-q", "-m", "add dump", check=False).returncode == 0


def test_precommit_run_by_hand_says_what_it_did_not_scan(run_br, tmp_project: Path) -> None:
    big_file_with_a_key(tmp_project / "big.txt", 6)
    git(tmp_project, "add", "big.txt")
    r = run_br("security", "precommit")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("error: Commit blocked by BuildRunner: 1 file not scanned (big.txt: larger than 5 MB")
    r = run_br("security", "check", "--staged", "--format", "json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and not data["passed"] and data["clean"]
    assert data["not_scanned"] == [{"path": "big.txt", "reason": data["not_scanned"][0]["reason"], "kind": "too_big"}]


def test_scan_of_a_named_file_that_is_too_big_counts_it_and_exits_1(run_br, tmp_project: Path) -> None:
    write_config(tmp_project, max_file_size_mb=0.5)
    big_file_with_a_key(tmp_project / "big.txt", 1)
    r = run_br("security", "scan", "--file", "big.txt")
    assert r.returncode == 1
    assert "not scanned: big.txt: larger than 0.5 MB" in r.stderr
    assert "1 file not scanned" in r.stdout and "✅" not in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("error: 1 file not scanned (big.txt")
    folder = run_br("security", "scan", "--directory", ".")  # found by walking: listed and counted, no failure
    assert folder.returncode == 0 and "1 file not scanned" in folder.stdout and "not scanned: big.txt" in folder.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/setpriv") and os.geteuid() == 0, reason="as root, needs setpriv to give up reading every file")
def test_a_named_file_it_cannot_read_is_said_and_fails_the_scan(run_br, tmp_project: Path) -> None:
    """Unreadable (permissions) is never a silent pass; as root too, once root's power to read anything is dropped."""
    (tmp_project / "secret.py").write_text(f"KEY = '{aws_key()}'\n")
    (tmp_project / "secret.py").chmod(0)
    prefix = []
    if os.geteuid() == 0:  # drop the capabilities that let root read any file, for `br` and what it starts
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    r = subprocess.run(
        [*prefix, sys.executable, "-m", "buildrunner", "security", "scan", "--file", "secret.py"],
        cwd=tmp_project, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}, timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert "not scanned: secret.py: unreadable (Permission denied)" in r.stderr and aws_key() not in r.stdout + r.stderr


def test_every_format_lists_the_files_not_scanned(run_br, tmp_project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(samples()["stripe_key"] + "\n")
    (tmp_project / "link.txt").symlink_to(outside)
    write_config(tmp_project, max_file_size_mb=0.5)
    big_file_with_a_key(tmp_project / "big.txt", 1)
    text = run_br("security", "scan")
    assert "not scanned: big.txt: larger than" in text.stderr
    assert "not scanned: link.txt: symlink leaving the project (not followed)" in text.stderr
    data = json.loads(run_br("security", "scan", "--format", "json").stdout)
    assert {(s["path"], s["kind"]) for s in data["not_scanned"]} == {("big.txt", "too_big"), ("link.txt", "outside_link")}
    sarif = json.loads(run_br("security", "scan", "--format", "sarif").stdout)
    [invocation] = sarif["runs"][0]["invocations"]
    notes = {n["message"]["text"] for n in invocation["toolExecutionNotifications"] if n["level"] == "warning"}
    assert any(t.startswith("big.txt: not scanned: larger than") for t in notes)
    assert "link.txt: not scanned: symlink leaving the project (not followed)" in notes
    assert invocation["executionSuccessful"] is False


def test_the_advice_fits_why_a_file_was_not_scanned(run_br, tmp_project: Path, tmp_path: Path) -> None:
    """A link leaving the project is not helped by a bigger size limit, nor a big file by permissions."""
    outside = tmp_path / "outside.txt"
    outside.write_text("x = 1\n")
    (tmp_project / "link.txt").symlink_to(outside)
    link = run_br("security", "scan", "link.txt")
    assert link.returncode == 1 and "scan the link's target where it lies" in link.stderr
    assert "max_file_size_mb" not in link.stderr and "permissions" not in link.stderr
    write_config(tmp_project, max_file_size_mb=0.5)
    big_file_with_a_key(tmp_project / "big.txt", 1)
    big = run_br("security", "scan", "big.txt")
    assert big.returncode == 1 and "(raise security.max_file_size_mb, or allowlist the path in" in big.stderr


def test_a_symlink_leaving_the_project_is_never_read(run_br, tmp_project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    token = samples()["github_token"]
    (outside / "creds.txt").write_text(token + "\n")
    (tmp_project / "creds.txt").symlink_to(outside / "creds.txt")
    (tmp_project / "dir").symlink_to(outside)
    (tmp_project / "sub").mkdir()
    (tmp_project / "sub" / "inner.txt").symlink_to(outside / "creds.txt")
    report = scan_paths(Project(tmp_project), [tmp_project])
    assert report.secrets == [] and report.files_scanned == 0
    assert {s.path: s.kind for s in report.skipped} == {"creds.txt": "outside_link", "dir": "outside_link", "sub/inner.txt": "outside_link"}
    named = run_br("security", "scan", "--file", "creds.txt", "--format", "json")
    assert named.returncode == 1 and "ghp_" not in named.stdout and json.loads(named.stdout)["not_scanned"][0]["kind"] == "outside_link"
    through_dir = run_br("security", "scan", "--file", "dir/creds.txt")
    assert through_dir.returncode == 1 and "symlink leaving the project" in through_dir.stderr


def test_a_symlink_inside_the_project_is_still_read(tmp_project: Path) -> None:
    (tmp_project / "real.txt").write_text(samples()["gitlab_token"] + "\n")
    (tmp_project / "alias.txt").symlink_to("real.txt")
    report = scan_paths(Project(tmp_project), [tmp_project / "alias.txt"])
    assert [m.file_path for m in report.secrets] == ["alias.txt"]


@pytest.fixture
def deep(tmp_project: Path):  # type: ignore[no-untyped-def]
    """A folder for a deep tree, removed without recursion (pytest's cleanup recurses once per level)."""
    folder = tmp_project / "deep"
    folder.mkdir()
    yield folder
    remove_tree(folder)


def test_a_tree_two_thousand_folders_deep_is_walked_with_its_gitignore_rules(tmp_project: Path, deep: Path) -> None:
    (tmp_project / ".gitignore").write_text("*.log\n")
    depth = min(2000, (3900 - len(str(deep))) // 2)  # stay under PATH_MAX (4096)
    folder = str(deep)
    for _ in range(depth):  # os.makedirs recurses once per level
        folder = os.path.join(folder, "d")
        os.mkdir(folder)
    folder = Path(folder)
    (folder / "deep.py").write_text(samples()["gitlab_token"] + "\n")
    (folder / "deep.log").write_text(samples()["github_token"] + "\n")
    report = scan_paths(Project(tmp_project), [tmp_project], sql=False)
    assert [m.secret_type for m in report.secrets] == ["gitlab_token"]
    assert report.secrets[0].file_path.count("/") == depth + 1


def test_a_folder_too_deep_for_the_system_is_listed_not_scanned(tmp_project: Path, deep: Path) -> None:
    """Below PATH_MAX the walk cannot open folders by path: they are reported, never silently dropped."""
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(45):  # 45 x 101 bytes: past PATH_MAX (4096)
            os.mkdir("d" * 100, dir_fd=fd)
            inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.write(leaf, (samples()["gitlab_token"] + "\n").encode())
        os.close(leaf)
    finally:
        os.close(fd)
    report = scan_paths(Project(tmp_project), [tmp_project])
    [deep] = report.not_scanned
    assert deep.kind == "too_deep" and deep.reason.startswith("too deep")


def test_a_file_that_vanishes_before_it_is_read_is_listed(tmp_project: Path) -> None:
    from buildrunner.security.scanner import SecretScanner

    gone = tmp_project / "gone.txt"
    engine = SecretScanner(Project(tmp_project)).engine
    report = engine.scan_paths([str(gone)])  # listed by a walk, deleted before reading
    assert [(s.path, s.kind) for s in report.skipped] == [("gone.txt", "vanished")]


def test_check_contents_is_the_engine_with_a_severity_floor(tmp_project: Path) -> None:
    files = {
        "app/views.py": 'def v(request, cur):\n    cur.execute("SELECT * FROM t WHERE id = " + request.GET["id"])\n',
        "app/db.py": 'def helper(cur, where):\n    cur.execute("SELECT * FROM t WHERE " + where)\n',
        "settings.py": samples()["stripe_key"] + "\n",
        "huge.bin": None,
    }
    from buildrunner.security.git import Blob

    blobs = [Blob(name, None if data is None else data.encode(), 0) for name, data in files.items()]
    report = check_contents(Project(tmp_project), blobs, min_severity="high")
    assert [(f.file_path, f.severity) for f in report.sql_injection] == [("app/views.py", "high")]
    assert [m.file_path for m in report.secrets] == ["settings.py"]
    assert [s.path for s in report.unscanned] == ["huge.bin"] and not report.passed
    everything = check_contents(Project(tmp_project), {k: v for k, v in files.items() if v is not None})
    assert sorted(f.severity for f in everything.sql_injection) == ["high", "medium"] and everything.unscanned == []


def test_check_revisions_reads_what_a_branch_adds(tmp_project: Path) -> None:
    from buildrunner.security.checks import check_revisions

    (tmp_project / "a.py").write_text("x = 1\n")
    git(tmp_project, "add", "a.py")
    git(tmp_project, "commit", "-q", "-m", "base")
    (tmp_project / "a.py").write_text(samples()["huggingface_token"] + "\n")
    git(tmp_project, "commit", "-q", "-am", "leak")
    report = check_revisions(Project(tmp_project), "HEAD~1", "HEAD")
    assert [(m.file_path, m.secret_type) for m in report.secrets] == [("a.py", "huggingface_token")]
    assert check_revisions(Project(tmp_project), "HEAD", "HEAD").secrets == []


@pytest.mark.parametrize(("args", "message"), [(["--secrets", "--no-secrets"], "--secrets and --no-secrets contradict each other"), (["--sql", "--no-sql"], "--sql and --no-sql contradict each other")])
@pytest.mark.parametrize("command", [["check"], ["scan"]])
def test_contradictory_switches_are_refused(run_br, tmp_project: Path, command: list[str], args: list[str], message: str) -> None:
    r = run_br("security", *command, *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and r.stdout == ""


def test_a_check_that_did_not_run_reports_no_count(run_br, tmp_project: Path) -> None:
    (tmp_project / "leak.py").write_text(samples()["stripe_key"] + "\n")
    r = run_br("security", "scan", "--secrets")
    assert r.returncode == 3 and "1 secret (" in r.stdout and "SQL" not in r.stdout
    clean = run_br("security", "scan", "--no-secrets")
    assert "No SQL injection found" in clean.stdout and "secret" not in clean.stdout
    data = json.loads(run_br("security", "scan", "--sql", "--format", "json").stdout)
    assert data["secrets"] is None and data["sql_injection"] == [] and data["checked"] == {"secrets": False, "sql_injection": True}


def test_a_staged_finding_in_one_file_names_the_file(run_br, tmp_project: Path) -> None:
    (tmp_project / "keys.env").write_text(samples()["aws_access_key_id"] + "\n")
    git(tmp_project, "add", "keys.env")
    r = run_br("security", "check", "--staged")
    assert r.returncode == 3 and "❌ SECRETS DETECTED:\n  keys.env\n    Line 1: [aws_access_key_id]" in r.stdout


@pytest.mark.parametrize("command", [["hooks", "install"], ["hooks", "status"], ["hooks", "uninstall"], ["check"], ["check", "--staged"], ["precommit"]])
def test_not_a_git_repository_is_exit_1_for_every_command(run_br, tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    r = run_br("security", *command, cwd=folder, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.returncode == 1
    assert "not inside a git repository" in r.stderr and "git init" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_this_repository_scans_clean() -> None:
    """No key-shaped literal and no SQL built from values in our own code (tests build fake secrets at run time)."""
    root = Path(__file__).resolve().parents[2]
    report = scan_paths(Project(root), [root])
    assert [(m.file_path, m.line_number, m.secret_type) for m in report.secrets] == []
    assert [(f.file_path, f.line_number, f.description) for f in report.sql_injection] == []
    assert report.not_analysed == [] and report.files_scanned > 100


def test_check_of_changed_files_fails_on_a_file_it_could_not_scan(run_br, tmp_project: Path) -> None:
    write_config(tmp_project, max_file_size_mb=0.5)
    big_file_with_a_key(tmp_project / "export.csv", 1)  # untracked, not ignored: a changed file
    r = run_br("security", "check")
    assert r.returncode == 1 and "not scanned: export.csv: larger than 0.5 MB" in r.stderr
    (tmp_project / ".gitignore").write_text("export.csv\n")
    assert run_br("security", "check").returncode == 0


def test_what_the_sql_analysis_gave_up_on_is_listed_in_every_format(run_br, tmp_project: Path) -> None:
    (tmp_project / "legacy.py").write_text('print "SELECT * FROM t WHERE id = %s" % x\n')
    text = run_br("security", "scan", "--sql")
    assert text.returncode == 0 and "note: legacy.py: not analysed: not parsable as python (SyntaxError at line 1)" in text.stderr
    data = json.loads(run_br("security", "scan", "--sql", "--format", "json").stdout)
    assert [(n["path"], n["kind"]) for n in data["not_analysed"]] == [("legacy.py", "not_analysed")] and data["not_scanned"] == []
    sarif = json.loads(run_br("security", "scan", "--sql", "--format", "sarif").stdout)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [(n["level"], n["message"]["text"]) for n in notes] == [("note", "legacy.py: not analysed: not parsable as python (SyntaxError at line 1)")]
