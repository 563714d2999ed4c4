"""`br security` end to end: real subprocesses, real git repositories, real commits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from security_helpers import samples, write_config


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def secret_in(line: str) -> str:
    return line.split('"')[1]


@pytest.fixture
def leaky(tmp_project: Path) -> Path:
    (tmp_project / "src").mkdir()
    (tmp_project / "src" / "config.py").write_text("import os\n\n" + samples()["github_token"] + "\n")
    (tmp_project / "src" / "db.py").write_text('def f(cur, x):\n    cur.execute(f"SELECT * FROM t WHERE id = {x}")\n')
    return tmp_project


def test_scan_file_text_output_as_in_the_spec(run_br, leaky: Path) -> None:
    r = run_br("security", "scan", "--file", "src/config.py")
    assert r.returncode == 3
    token = secret_in(samples()["github_token"])
    assert r.stdout.startswith("Scanning: src/config.py\n\n❌ SECRETS DETECTED:\n")
    assert f"  Line 3: [github_token] {token[:4]}...{token[-4:]}\n" in r.stdout
    assert "💡 Recommendation:\n  • Move secrets to .env file (add to .gitignore)" in r.stdout
    assert token not in r.stdout + r.stderr


def test_scan_project_finds_secrets_and_injection_grouped_by_file(run_br, leaky: Path) -> None:
    r = run_br("security", "scan")
    assert r.returncode == 3
    assert "  src/config.py\n    Line 3: [github_token]" in r.stdout
    assert "❌ SQL INJECTION RISKS:\n  src/db.py\n    Line 2: [medium]" in r.stdout
    assert "Fix: Pass values as parameters" in r.stdout


def test_paths_may_be_given_as_arguments_like_other_scanners(run_br, leaky: Path) -> None:
    """`br security scan src/db.py src/config.py` as with bandit or semgrep: a file, a folder, or several."""
    both = run_br("security", "scan", "src/db.py", "src/config.py")
    assert both.returncode == 3
    assert "  src/config.py\n    Line 3: [github_token]" in both.stdout and "  src/db.py\n    Line 2: [medium]" in both.stdout
    only_sql = run_br("security", "scan", "src/db.py", "--format", "json")
    report = json.loads(only_sql.stdout)
    assert only_sql.returncode == 3 and report["secrets"] == [] and {f["file_path"] for f in report["sql_injection"]} == {"src/db.py"}
    folder = run_br("security", "scan", "src")
    assert folder.returncode == 3 and "src/config.py" in folder.stdout and "src/db.py" in folder.stdout
    missing = run_br("security", "scan", "nope/")
    assert missing.returncode == 6 and "nope" in missing.stderr and "Traceback" not in missing.stderr
    elsewhere = run_br("security", "scan", "-C", "src", "src")  # with -C the path is looked for in that folder: say where
    assert elsewhere.returncode == 6 and f"looked for at {leaky / 'src' / 'src'}" in elsewhere.stderr


def test_overlapping_paths_scan_each_file_once(run_br, leaky: Path) -> None:
    """`scan src src/config.py src` reports each finding once, in text, JSON and SARIF (a CI count or upload of
    duplicates is wrong)."""
    once = json.loads(run_br("security", "scan", "src", "--format", "json").stdout)
    for args in (("src", "src/config.py", "src"), ("--file", "src/config.py", "--directory", "src"), ("src", "./src/../src/db.py")):
        report = json.loads(run_br("security", "scan", *args, "--format", "json").stdout)
        assert (len(report["secrets"]), len(report["sql_injection"]), report["files_scanned"]) == (
            len(once["secrets"]), len(once["sql_injection"]), once["files_scanned"]), args
        sarif = json.loads(run_br("security", "scan", *args, "--format", "sarif").stdout)
        assert len(sarif["runs"][0]["results"]) == len(once["secrets"]) + len(once["sql_injection"])
    text = run_br("security", "scan", "src", "src/config.py").stdout
    assert text.count("[github_token]") == 1 and "(2 files," in text


def test_check_names_the_one_changed_file_it_found_something_in(run_br, tmp_project: Path) -> None:
    (tmp_project / "notes.txt").write_text("nothing\n")
    git(tmp_project, "add", "notes.txt")
    git(tmp_project, "commit", "-q", "-m", "notes")
    (tmp_project / "notes.txt").write_text(samples()["github_token"] + "\n")  # the only changed file
    r = run_br("security", "check")
    assert r.returncode == 3 and "Scanning: changed files" in r.stdout
    assert "  notes.txt\n    Line 1: [github_token]" in r.stdout


def test_clean_scan_exits_zero_and_missing_path_six(run_br, tmp_project: Path) -> None:
    (tmp_project / "ok.py").write_text("x = 1\n")
    r = run_br("security", "scan", "--directory", ".")
    assert r.returncode == 0 and "✅ No secrets or SQL injection found" in r.stdout
    r = run_br("security", "scan", "--file", "missing.py")
    assert r.returncode == 6 and "missing.py" in r.stderr and "Traceback" not in r.stderr


def test_kind_switches(run_br, leaky: Path) -> None:
    only_secrets = json.loads(run_br("security", "scan", "--secrets", "--format", "json").stdout)
    assert only_secrets["secrets"] and not only_secrets["sql_injection"]
    only_sql = json.loads(run_br("security", "scan", "--sql", "--format", "json").stdout)
    assert only_sql["sql_injection"] and not only_sql["secrets"]
    no_sql = json.loads(run_br("security", "scan", "--no-sql", "--format", "json").stdout)
    assert no_sql["secrets"] and not no_sql["sql_injection"]
    r = run_br("security", "scan", "--no-sql", "--no-secrets")
    assert r.returncode == 2 and "nothing to check" in r.stderr


def test_json_and_sarif_never_hold_the_secret(run_br, leaky: Path) -> None:
    token = secret_in(samples()["github_token"])
    j = run_br("security", "scan", "--format", "json")
    data = json.loads(j.stdout)
    assert j.returncode == 3 and token not in j.stdout
    [m] = data["secrets"]
    assert {"file_path", "line_number", "secret_type", "masked_value", "context", "fingerprint"} <= set(m)
    assert (m["file_path"], m["line_number"]) == ("src/config.py", 3)
    s = run_br("security", "scan", "--format", "sarif")
    sarif = json.loads(s.stdout)
    assert s.returncode == 3 and token not in s.stdout and sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"github_token", "sql_injection"}
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] in {"src/config.py", "src/db.py"} and loc["region"]["startLine"] >= 1
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == {"github_token", "sql_injection"}
    # GitHub code scanning ranks alerts by `security-severity`; SARIF wants a readable name other than the id
    assert rules["github_token"]["name"] == "GithubToken" and rules["sql_injection"]["name"] == "SqlInjection"
    assert rules["github_token"]["properties"]["security-severity"] == "8.0"
    assert "external/cwe/cwe-798" in rules["github_token"]["properties"]["tags"] and "external/cwe/cwe-89" in rules["sql_injection"]["properties"]["tags"]


def test_file_names_that_are_not_plain_text_are_scanned_and_reported_as_valid_json_and_uris(run_br, tmp_project: Path) -> None:
    """A name with a space and '#', and one whose bytes are not UTF-8 (legal on Linux): found, and every output stays valid."""
    (tmp_project / ".gitignore").write_text("*.log\n")  # ignore rules are matched against every name
    src = tmp_project / "src"
    src.mkdir()
    spaced = src / "my notes#1.py"
    raw = src / os.fsdecode(b"bad\xffname.py")
    for path in (spaced, raw):
        path.write_text(samples()["github_token"] + "\n")
    j = run_br("security", "scan", "--format", "json")  # stdout decoded as strict UTF-8 by the harness
    assert j.returncode == 3, j.stderr
    found = sorted(m["file_path"] for m in json.loads(j.stdout)["secrets"])
    assert found == sorted(["src/my notes#1.py", "src/" + raw.name]) and (tmp_project / found[0]).exists() and (tmp_project / found[1]).exists()
    sarif = json.loads(run_br("security", "scan", "--format", "sarif").stdout)
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"])
    assert uris == ["src/bad%FFname.py", "src/my%20notes%231.py"]  # URI references: percent-encoded bytes
    assert run_br("quality", "check", "--format", "json").returncode in (0, 4)  # a verdict, not a crash (exit 1)
    assert run_br("gaps", "analyze", "--format", "json").returncode == 0


def test_check_staged_reads_the_index_not_the_working_tree(run_br, tmp_project: Path) -> None:
    path = tmp_project / "app.py"
    path.write_text(samples()["gitlab_token"] + "\n")
    git(tmp_project, "add", "app.py")
    path.write_text("clean = True\n")  # the working tree no longer has it; the index does
    r = run_br("security", "check", "--staged", "--format", "json")
    assert r.returncode == 3 and json.loads(r.stdout)["secrets"][0]["file_path"] == "app.py"
    git(tmp_project, "add", "app.py")
    path.write_text(samples()["gitlab_token"] + "\n")  # only in the working tree now
    assert run_br("security", "check", "--staged").returncode == 0
    assert run_br("security", "check").returncode == 3  # plain check looks at changed files


def _commit(cwd: Path, name: str, content: str) -> subprocess.CompletedProcess[str]:
    (cwd / name).parent.mkdir(parents=True, exist_ok=True)
    (cwd / name).write_text(content)
    git(cwd, "add", name)
    return git(cwd, "commit", "-q", "-m", f"add {name}", check=False)


def _commits(cwd: Path) -> int:
    r = git(cwd, "rev-list", "--count", "HEAD", check=False)
    return int(r.stdout.strip()) if r.returncode == 0 else 0


def test_hook_blocks_secret_and_injection_and_lets_clean_and_allowlisted_through(run_br, tmp_project: Path) -> None:
    (tmp_project / "pkg" / "sub").mkdir(parents=True)
    r = run_br("security", "hooks", "install", cwd=tmp_project / "pkg" / "sub")
    assert r.returncode == 0 and "✅ Pre-commit hook installed" in r.stdout
    hook = tmp_project / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)
    assert _commit(tmp_project, "clean.py", "x = 1\n").returncode == 0
    blocked = _commit(tmp_project / "pkg" / "sub", "leak.py", samples()["stripe_key"] + "\n")
    token = secret_in(samples()["stripe_key"])
    assert blocked.returncode != 0 and "Commit blocked" in blocked.stderr
    assert token not in blocked.stdout + blocked.stderr
    git(tmp_project, "reset", "-q")
    injection = _commit(tmp_project, "db.py", 'def f(c, x):\n    c.execute("DELETE FROM t WHERE id = " + x)\n')
    assert injection.returncode != 0
    git(tmp_project, "reset", "-q")
    allowed = _commit(tmp_project, "fixture.py", samples()["stripe_key"] + "  # br:allow\n")
    assert allowed.returncode == 0 and _commits(tmp_project) == 2


def test_the_hook_counts_only_what_the_commit_adds(run_br, tmp_project: Path) -> None:
    """A docstring fixed in a legacy file was blocked for an old SQL risk on a line it did not touch (gitleaks' hook
    counts only what a commit adds): findings the committed file held are said, not counted, even when moved."""
    legacy = 'def count(cur, table):\n    cur.execute("SELECT count(*) FROM " + table)\n'
    key = samples()["stripe_key"]
    (tmp_project / "legacy.py").write_text(legacy + key + "\n")
    git(tmp_project, "add", "legacy.py")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "legacy")
    (tmp_project / "legacy.py").write_text('"""Counting."""\n\n' + legacy + key + "\n")  # every old finding moved down two lines
    git(tmp_project, "add", "legacy.py")
    passed = run_br("security", "precommit")
    assert passed.returncode == 0 and "2 findings already in the committed files not counted" in passed.stderr
    assert run_br("security", "precommit", "--include-committed").returncode == 3
    assert run_br("security", "check", "--staged").returncode == 3  # the explicit check still shows every finding
    (tmp_project / "legacy.py").write_text('"""Counting."""\n\n' + legacy + key + '\ndef drop(cur, t):\n    cur.execute("DELETE FROM " + t)\n')
    git(tmp_project, "add", "legacy.py")
    blocked = run_br("security", "precommit")
    assert blocked.returncode == 3 and "DELETE FROM" in blocked.stdout and "SELECT count" not in blocked.stdout
    (tmp_project / "my notes.py").write_text(key + "\n")  # new, one space in its name: git says "HEAD:my notes.py missing"
    git(tmp_project, "add", "my notes.py")
    spaced = run_br("security", "precommit")
    assert spaced.returncode == 3 and "my notes.py" in spaced.stdout, spaced.stderr


def test_moving_a_file_adds_nothing_but_a_secret_added_while_moving_it_is_blocked(run_br, tmp_project: Path) -> None:
    """`git mv config settings` was blocked for the secret the moved file already held (the fingerprint names the
    path): a renamed file is matched against the committed file it was renamed from, as gitleaks counts a rename."""
    key = samples()["stripe_key"]
    legacy = 'def count(cur, table):\n    cur.execute("SELECT count(*) FROM " + table)\n'
    (tmp_project / "config").mkdir()
    (tmp_project / "config" / "legacy.py").write_text(legacy + key + "\n")
    git(tmp_project, "add", ".")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "legacy")
    assert run_br("security", "hooks", "install").returncode == 0
    git(tmp_project, "mv", "config", "settings")
    moved = git(tmp_project, "commit", "-q", "-m", "move config", check=False)
    assert moved.returncode == 0, moved.stderr
    assert "2 findings already in the committed files not counted" in moved.stderr
    git(tmp_project, "mv", "settings/legacy.py", "settings/old.py")  # renamed and edited: one new secret
    (tmp_project / "settings" / "old.py").write_text(legacy + key + "\n" + samples()["github_token"] + "\n")
    git(tmp_project, "add", "settings/old.py")
    blocked = run_br("security", "precommit")
    assert blocked.returncode == 3 and "[github_token]" in blocked.stdout and "[stripe_key]" not in blocked.stdout
    assert "SELECT count" not in blocked.stdout


def test_history_finds_a_secret_removed_since_and_names_the_commit_that_added_it(run_br, tmp_project: Path) -> None:
    """A secret deleted in a later commit is still in every clone: `scan` and `check` cannot see it (gitleaks' default)."""
    (tmp_project / "app.py").write_text(samples()["github_token"] + "\n")
    git(tmp_project, "add", "app.py")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "leak")
    leak = git(tmp_project, "rev-parse", "HEAD").stdout.strip()
    (tmp_project / "app.py").write_text("GH = os.environ['GH']\n")
    git(tmp_project, "commit", "-qam", "read it from the environment")
    assert run_br("security", "scan").returncode == 0
    found = run_br("security", "history", "--format", "json")
    assert found.returncode == 3 and "rotate it" in found.stderr
    [secret] = json.loads(found.stdout)["secrets"]
    assert (secret["file_path"], secret["commit"], secret["secret_type"]) == ("app.py", leak, "github_token")
    assert secret_in(samples()["github_token"]) not in found.stdout
    sarif = json.loads(run_br("security", "history", "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"][0]["properties"]["commit"] == leak
    assert run_br("security", "history", "HEAD~1..HEAD").returncode == 0  # the range after the leak
    assert f"(added in commit {leak[:12]})" in run_br("security", "history").stdout
    refused = run_br("security", "history", "--", "--output=/tmp/x")
    assert refused.returncode == 2 and "not a revision" in refused.stderr


def test_history_of_a_damaged_clone_names_the_missing_content_and_still_scans_the_rest(run_br, tmp_project: Path) -> None:
    """git cat-file answers "<sha> missing" for an object a partial or damaged clone lacks; the history scan took
    that line for a size and ended in a traceback, scanning nothing."""
    (tmp_project / "a.txt").write_text("a = 1\n")
    (tmp_project / "b.py").write_text(samples()["github_token"] + "\n")
    git(tmp_project, "add", "a.txt", "b.py")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "one")
    sha = git(tmp_project, "rev-parse", "HEAD:a.txt").stdout.strip()
    (tmp_project / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    found = run_br("security", "history", "--format", "json")
    assert found.returncode == 3, found.stderr
    report = json.loads(found.stdout)
    assert [s["file_path"] for s in report["secrets"]] == ["b.py"]
    [missing] = report["not_scanned"]
    assert missing["kind"] == "missing" and missing["path"].startswith("a.txt (commit ")
    assert "not scanned: a.txt (commit" in run_br("security", "history").stderr


def test_status_and_uninstall(run_br, tmp_project: Path) -> None:
    r = run_br("security", "hooks", "status")
    assert "not installed" in r.stdout and r.returncode == 1  # a script can tell: `status || install`
    assert run_br("security", "hooks", "uninstall").stdout.startswith("Nothing to remove: no pre-commit hook is installed")
    run_br("security", "hooks", "install")
    r = run_br("security", "hooks", "status")
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "✅ Pre-commit hook installed",
        "Location: .git/hooks/pre-commit",  # as the spec shows it: relative to the project
        "Permissions: -rwxr-xr-x",
    ]
    assert json.loads(run_br("security", "hooks", "status", "--format", "json").stdout)["state"] == "installed"
    removed = run_br("security", "hooks", "uninstall")
    assert removed.returncode == 0 and removed.stdout == "✅ Removed BuildRunner's pre-commit hook (.git/hooks/pre-commit)\n"
    assert not (tmp_project / ".git" / "hooks" / "pre-commit").exists()
    assert run_br("security", "hooks", "status").returncode == 1


def test_a_branch_merged_in_with_a_secret_is_checked_as_a_commit_is(run_br, tmp_project: Path) -> None:
    """git runs pre-merge-commit, not pre-commit, for a merge that commits by itself: a branch committed with
    --no-verify was merged in with its secret unchecked."""
    assert run_br("security", "hooks", "install").returncode == 0
    assert json.loads(run_br("security", "hooks", "status", "--format", "json").stdout)["merge_commits"] is True
    git(tmp_project, "commit", "-q", "--allow-empty", "-m", "base")
    main = git(tmp_project, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    git(tmp_project, "checkout", "-q", "-b", "feature")
    (tmp_project / "deploy.py").write_text(samples()["github_token"] + "\n")
    git(tmp_project, "add", "deploy.py")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "deploy")
    git(tmp_project, "checkout", "-q", main)
    merged = git(tmp_project, "merge", "--no-ff", "-q", "-m", "merge feature", "feature", check=False)
    assert merged.returncode != 0 and "Commit blocked by BuildRunner" in merged.stderr
    assert git(tmp_project, "rev-parse", "HEAD").stdout.strip() == git(tmp_project, "rev-parse", main).stdout.strip()
    git(tmp_project, "merge", "--abort", check=False)
    assert run_br("security", "hooks", "uninstall").returncode == 0
    assert not (tmp_project / ".git" / "hooks" / "pre-merge-commit").exists()


def test_installing_outside_a_git_repository_is_an_installation_failure(run_br, tmp_path: Path) -> None:
    r = run_br("security", "hooks", "install", cwd=tmp_path)
    assert r.returncode == 1  # the spec: 1 - installation failed
    assert r.stderr.startswith("error: cannot install the pre-commit hook:") and "git init" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_foreign_hook_is_never_clobbered_without_force_and_is_restored(run_br, tmp_project: Path) -> None:
    hook = tmp_project / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho lint\n")
    hook.chmod(0o755)
    r = run_br("security", "hooks", "install")
    assert r.returncode == 1 and "--force" in r.stderr and hook.read_text() == "#!/bin/sh\necho lint\n"
    assert run_br("security", "hooks", "uninstall").returncode == 1 and hook.exists()
    r = run_br("security", "hooks", "install", "--force")
    assert r.returncode == 0 and "br-backup" in r.stdout
    assert (hook.parent / "pre-commit.br-backup").read_text() == "#!/bin/sh\necho lint\n"
    assert run_br("security", "hooks", "status").returncode == 0
    restored = run_br("security", "hooks", "uninstall")
    assert "the hook it had replaced is back at .git/hooks/pre-commit" in restored.stdout and "❌" not in restored.stdout
    assert hook.read_text() == "#!/bin/sh\necho lint\n"
    foreign = run_br("security", "hooks", "status")
    assert foreign.returncode == 1 and "not managed by BuildRunner" in foreign.stdout


def test_the_hook_replaced_with_force_still_runs_after_ours_and_can_still_block(run_br, tmp_project: Path) -> None:
    """`install --force` must not silently turn off the team's own hook (a linter, a commit-message check)."""
    hook = tmp_project / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    ran = tmp_project.parent / "foreign-hook-ran"
    hook.write_text(f"#!/bin/sh\necho ran >> {ran}\n[ ! -e {tmp_project.parent / 'veto'} ]\n")
    hook.chmod(0o755)
    assert run_br("security", "hooks", "install", "--force").returncode == 0
    assert _commit(tmp_project, "ok.py", "x = 1\n").returncode == 0 and ran.read_text() == "ran\n"
    assert _commit(tmp_project, "leak.py", samples()["gitlab_token"] + "\n").returncode != 0
    assert ran.read_text() == "ran\n"  # ours blocked first: the other hook did not run
    git(tmp_project, "rm", "-q", "--cached", "leak.py")
    (tmp_project.parent / "veto").touch()
    vetoed = _commit(tmp_project, "more.py", "y = 2\n")
    assert vetoed.returncode != 0 and ran.read_text() == "ran\nran\n"  # its verdict counts
    # Someone puts another hook in place and installs again: that newer hook is the one that runs after ours.
    hook.write_text(f"#!/bin/sh\necho newer >> {ran}\n")
    hook.chmod(0o755)
    assert run_br("security", "hooks", "install", "--force").returncode == 0
    (tmp_project.parent / "veto").unlink()
    assert _commit(tmp_project, "last.py", "z = 3\n").returncode == 0 and ran.read_text() == "ran\nran\nnewer\n"


def test_core_hooks_path_is_honoured(run_br, tmp_project: Path) -> None:
    git(tmp_project, "config", "core.hooksPath", ".githooks")
    assert run_br("security", "hooks", "install").returncode == 0
    assert (tmp_project / ".githooks" / "pre-commit").exists()
    assert not (tmp_project / ".git" / "hooks" / "pre-commit").exists()
    assert _commit(tmp_project, "leak.env", samples()["database_url"] + "\n").returncode != 0


def test_linked_worktree_uses_the_shared_hooks_folder(run_br, tmp_project: Path, tmp_path: Path) -> None:
    assert _commit(tmp_project, "README", "hi\n").returncode == 0
    wt = tmp_path / "wt"
    git(tmp_project, "worktree", "add", "-q", str(wt), "-b", "feature")
    assert run_br("security", "hooks", "install", cwd=wt).returncode == 0
    assert (tmp_project / ".git" / "hooks" / "pre-commit").exists()
    assert _commit(wt, "leak.py", samples()["huggingface_token"] + "\n").returncode != 0
    git(wt, "reset", "-q")
    assert _commit(wt, "ok.py", "y = 2\n").returncode == 0


def test_enforce_hooks_false_warns_but_lets_the_commit_through(run_br, tmp_project: Path) -> None:
    write_config(tmp_project, enforce_hooks=False)
    run_br("security", "hooks", "install")
    r = _commit(tmp_project, "leak.py", samples()["gitlab_token"] + "\n")
    assert r.returncode == 0 and "enforce_hooks is false" in r.stderr


def test_the_pre_commit_framework_hook_checks_the_files_it_is_given_so_all_files_in_ci_finds_a_committed_secret(
    run_br, tmp_project: Path
) -> None:
    """`pre-commit run --all-files` stages nothing: a hook reading only the index passed a repository holding a key.

    The framework passes file names (its default): `precommit FILE...` checks those files as they are on disk."""
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in manifest if h["id"] == "buildrunner-security"]
    assert hook["entry"] == "br security precommit" and hook.get("pass_filenames", True) and not hook.get("always_run")
    (tmp_project / "leak.py").write_text(samples()["gitlab_token"] + "\n")
    (tmp_project / "fine.py").write_text("x = 1\n")
    git(tmp_project, "add", "-A")
    git(tmp_project, "commit", "-qm", "already in", "--no-verify")
    assert run_br("security", "precommit").returncode == 0  # nothing staged
    blocked = run_br("security", "precommit", "fine.py", "leak.py")
    assert blocked.returncode == 3 and "Commit blocked by BuildRunner: 1 secret found" in blocked.stderr
    assert run_br("security", "precommit", "fine.py").returncode == 0


def test_every_command_help_ends_with_an_example(run_br, tmp_project: Path) -> None:
    for cmd in (["check"], ["scan"], ["precommit"], ["hooks", "install"], ["hooks", "status"], ["hooks", "uninstall"]):
        r = run_br("security", *cmd, "--help")
        assert r.returncode == 0 and "Example: br security" in r.stdout


def test_staged_check_handles_odd_names_submodule_free_symlinks_and_big_blobs(tmp_project: Path) -> None:
    from buildrunner.project import Project
    from buildrunner.security.checks import check_staged

    write_config(tmp_project, max_file_size_mb=0.01)
    (tmp_project / "we*ird [1] é.py").write_text(samples()["gitlab_token"] + "\n")
    (tmp_project / "big.txt").write_text("x" * 20_000)
    os.symlink("we*ird [1] é.py", tmp_project / "link.py")
    for i in range(300):
        (tmp_project / f"f{i}.txt").write_text(f"{i}\n")
    git(tmp_project, "add", "-A")
    report = check_staged(Project(tmp_project))
    assert [m.file_path for m in report.secrets] == ["we*ird [1] é.py"]
    assert [s.path for s in report.skipped] == ["big.txt"] and report.files_scanned == 302


def test_a_named_file_that_cannot_be_read_is_an_error_not_a_clean_scan(run_br, tmp_project: Path) -> None:
    (tmp_project / "dangling.py").symlink_to(tmp_project / "gone.py")
    os.mkfifo(tmp_project / "pipe")
    dangling = run_br("security", "scan", "--file", "dangling.py")
    assert dangling.returncode == 6 and "dangling.py: a symbolic link to" in dangling.stderr and "No secrets" not in dangling.stdout
    pipe = run_br("security", "scan", "--file", "pipe")  # as a named file too big or unreadable: not scanned, exit 1 (never read: it would block)
    assert pipe.returncode == 1 and "pipe: not a regular file (a pipe, socket or device)" in pipe.stderr and "No secrets" in pipe.stdout
    assert "1 file not scanned" in pipe.stdout and "✅" not in pipe.stdout and "Traceback" not in pipe.stderr
    walked = run_br("security", "scan", "--directory", ".")  # inside a folder walk they are listed and counted
    assert walked.returncode == 0 and "not scanned: pipe: not a regular file" in walked.stderr
    assert "2 files not scanned" in walked.stdout and "✅" not in walked.stdout


def test_findings_raise_the_specs_security_error_exit_3(run_br, tmp_project: Path) -> None:
    from buildrunner.errors import SecurityError
    from buildrunner.project import Project
    from buildrunner.security.checks import scan_paths

    (tmp_project / "leak.py").write_text(samples()["stripe_key"] + "\n")
    report = scan_paths(Project(tmp_project), [tmp_project / "leak.py"])
    with pytest.raises(SecurityError) as caught:
        report.raise_for_findings()
    assert caught.value.exit_code == 3 and str(caught.value).startswith("1 secret found")
    r = run_br("security", "scan", "--file", "leak.py", "--format", "json")
    assert r.returncode == 3 and json.loads(r.stdout)  # stdout stays one JSON document
    assert r.stderr.strip().splitlines()[-1].startswith("error: 1 secret found (remove it, or allowlist")


def test_advice_names_the_configured_whitelist_file(run_br, tmp_project: Path) -> None:
    write_config(tmp_project, whitelist_file="security/allow.txt")
    (tmp_project / "leak.py").write_text(samples()["stripe_key"] + "\n")
    r = run_br("security", "scan", "--file", "leak.py")
    assert r.returncode == 3
    assert "fingerprint (--format json) to security/allow.txt" in r.stdout
    assert "in security/allow.txt)" in r.stderr and ".buildrunner/security/whitelist.txt" not in r.stdout + r.stderr


def test_an_empty_file_argument_is_refused_not_a_scan_of_everything(run_br, tmp_project: Path) -> None:
    r = run_br("security", "scan", "--file", "")
    assert r.returncode == 2 and "an empty path was given to scan" in r.stderr and "Scanning" not in r.stdout


def test_status_of_a_symlinked_hook_shows_the_hook_path(run_br, tmp_project: Path) -> None:
    run_br("security", "hooks", "install")
    hooks = tmp_project / ".git" / "hooks"
    (tmp_project / "scripts").mkdir()
    (hooks / "pre-commit").rename(tmp_project / "scripts" / "hook")
    (hooks / "pre-commit").symlink_to(Path("..", "..", "scripts", "hook"))
    assert "Location: .git/hooks/pre-commit" in run_br("security", "hooks", "status").stdout


def test_the_hook_checks_a_subfolder_project_with_that_projects_rules_and_allowlist(run_br, tmp_project: Path) -> None:
    app = tmp_project / "services" / "app"
    (app / ".buildrunner" / "security").mkdir(parents=True)
    write_config(app, rules=[{"id": "acme_key", "regex": r"\b(ACME_[A-Za-z0-9]{24})\b", "keywords": ["acme_"]}])
    (app / ".buildrunner" / "security" / "whitelist.txt").write_text("tests/**\n")
    assert run_br("security", "hooks", "install", cwd=app).returncode == 0
    key = "ACME_" + "Zq8kLm2Xw4Rt6Yp1Nb3Vc5Hd"
    blocked = _commit(app, "svc.py", f'KEY = "{key}"\n')  # only the subfolder project's own rule knows this key
    assert blocked.returncode != 0 and "acme_key" in blocked.stdout + blocked.stderr
    assert key not in blocked.stdout + blocked.stderr
    git(tmp_project, "reset", "-q")
    allowed = _commit(app, "tests/fixture.py", samples()["stripe_key"] + "\n")  # that project's allowlist covers its tests
    assert allowed.returncode == 0, allowed.stderr


def test_hooks_status_warns_when_git_would_skip_the_hook(run_br, tmp_project: Path) -> None:
    run_br("security", "hooks", "install")
    (tmp_project / ".git" / "hooks" / "pre-commit").chmod(0o644)
    r = run_br("security", "hooks", "status")
    assert r.stdout.splitlines()[0].startswith("⚠️ Pre-commit hook installed but not executable: git skips it")
    run_br("security", "hooks", "install")
    assert run_br("security", "hooks", "status").stdout.startswith("✅ Pre-commit hook installed")


def test_a_tracked_file_is_scanned_even_when_gitignore_names_it(run_br, tmp_project: Path) -> None:
    (tmp_project / ".gitignore").write_text(".env\nbuild/\n")
    (tmp_project / ".env").write_text(samples()["github_token"] + "\n")
    git(tmp_project, "add", "-f", ".env", ".gitignore")
    git(tmp_project, "commit", "-q", "--no-verify", "-m", "env")
    (tmp_project / "build").mkdir()
    (tmp_project / "build" / "out.py").write_text(samples()["gitlab_token"] + "\n")  # ignored and untracked: not read
    r = run_br("security", "scan", "--format", "json")
    assert r.returncode == 3
    assert sorted(s["file_path"] for s in json.loads(r.stdout)["secrets"]) == [".env"]


def test_a_file_name_that_is_not_utf8_is_scanned_and_reported(run_br, tmp_project: Path) -> None:
    name = os.fsdecode(b"db\xfe.py")
    (tmp_project / name).write_text('def f(c, x):\n    c.execute("SELECT * FROM t WHERE a = " + x)\n')
    r = run_br("security", "scan", "--format", "json")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert len(json.loads(r.stdout)["sql_injection"]) == 1


def test_a_file_name_with_a_newline_or_escape_codes_stays_on_its_line(run_br, tmp_project: Path) -> None:
    """A crafted name cannot fake a report line ("Line 9: ...") or recolour the terminal: shown escaped, as git does."""
    name = "a\n    Line 9: [fake] ok\x1b[2J.py"
    (tmp_project / name).write_text(samples()["github_token"] + "\n")
    r = run_br("security", "scan")
    assert r.returncode == 3
    assert "  a\\n    Line 9: [fake] ok\\x1b[2J.py\n    Line 1: [github_token]" in r.stdout
    assert "\x1b" not in r.stdout and "\n    Line 9" not in r.stdout
    report = json.loads(run_br("security", "scan", "--format", "json").stdout)
    assert report["secrets"][0]["file_path"] == name  # JSON keeps the name as it is


def test_the_error_line_quoting_a_crafted_name_stays_one_line(run_br, tmp_project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x = 1\n")
    name = "evil\nerror: fake line\x1b[2K.txt"
    (tmp_project / name).symlink_to(outside)
    r = run_br("security", "scan", "--file", name)
    assert r.returncode == 1 and "\x1b" not in r.stderr
    assert not any(line.startswith("error: fake line") for line in r.stderr.splitlines())
    assert "evil\\nerror: fake line\\x1b[2K.txt" in r.stderr.splitlines()[-1]


def test_a_non_utf8_name_is_shown_with_its_bytes_escaped(run_br, tmp_project: Path) -> None:
    name = os.fsdecode(b"x\x9b2Jy.py")  # 0x9b is an 8-bit CSI to some terminals
    (tmp_project / name).write_text(samples()["github_token"] + "\n")
    r = run_br("security", "scan")
    assert "  x\\x9b2Jy.py\n" in r.stdout and "\x9b" not in r.stdout


def test_source_the_sql_check_cannot_read_is_said_not_reported_clean(run_br, tmp_project: Path) -> None:
    """Java or PHP building SQL from input was `✅ No secrets or SQL injection found` with nothing said: a clean report
    must not hide what was never checked (the files are still scanned for secrets)."""
    java = 'class A { void f(String n) { st.executeQuery("SELECT * FROM t WHERE n = \'" + n + "\'"); } }\n'
    for name in ("src/A.java", "src/B.java"):
        (tmp_project / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_project / name).write_text(java)
    (tmp_project / "web.php").write_text('<?php mysqli_query($c, "SELECT * FROM t WHERE id=" . $_GET["id"]);\n')
    (tmp_project / "ok.py").write_text("x = 1\n")
    (tmp_project / "README.md").write_text("# docs hold no SQL to check\n")
    text = run_br("security", "scan", ".")
    assert text.returncode == 0 and "3 files not checked for SQL injection" in text.stdout
    assert "note: 2 files (first src/A.java): SQL injection not checked: the SQL check does not read Java" in text.stderr
    assert "note: web.php: SQL injection not checked: the SQL check does not read PHP" in text.stderr
    report = json.loads(run_br("security", "scan", ".", "--format", "json").stdout)
    assert sorted(note["path"] for note in report["not_analysed"]) == ["src/A.java", "src/B.java", "web.php"]
    assert report["files_scanned"] == 5  # every file was still read for secrets
    assert json.loads(run_br("security", "scan", ".", "--no-sql", "--format", "json").stdout)["not_analysed"] == []


def test_min_severity_says_how_many_findings_it_hid(run_br, tmp_project: Path) -> None:
    """`--min-severity high` printed "✅ No secrets or SQL injection found" over medium findings, with no word of them."""
    (tmp_project / "config.yaml").write_text(samples()["password"] + "\n")  # a hard-coded password: medium
    everything = json.loads(run_br("security", "scan", "config.yaml", "--format", "json").stdout)
    assert [finding["severity"] for finding in everything["secrets"]] == ["medium"] and everything["below_min_severity"] == 0
    text = run_br("security", "scan", "config.yaml", "--min-severity", "high")
    assert text.returncode == 0 and "1 below --min-severity high not shown" in text.stdout
    shown = json.loads(run_br("security", "scan", "config.yaml", "--min-severity", "high", "--format", "json").stdout)
    assert (shown["secrets"], shown["below_min_severity"], shown["min_severity"]) == ([], 1, "high")


def test_a_secret_found_in_a_dotenv_file_is_not_told_to_move_to_a_dotenv_file(run_br, tmp_project: Path) -> None:
    (tmp_project / ".env").write_text(samples()["database_url"].replace(" ", "").replace('"', "") + "\n")
    r = run_br("security", "scan", ".env")
    assert r.returncode == 3 and "Keep .env files out of git" in r.stdout and "Move secrets to .env file" not in r.stdout
    (tmp_project / "settings.py").write_text(samples()["github_token"] + "\n")
    assert "Move secrets to .env file" in run_br("security", "scan", "settings.py").stdout
    (tmp_project / ".env.example").write_text(samples()["database_url"].replace(" ", "").replace('"', "") + "\n")
    template = run_br("security", "scan", ".env.example")  # a template is meant to be committed: not "keep it out of git"
    assert template.returncode == 3 and "Keep .env files out of git" not in template.stdout


def test_a_sarif_rule_is_as_severe_as_its_most_severe_finding_whatever_the_file_order(run_br, tmp_project: Path) -> None:
    """All SQL findings share a rule: GitHub ranks by the rule's security-severity, so a high finding must not read as medium."""
    (tmp_project / "a.py").write_text('def f(cur, x):\n    cur.execute(f"SELECT * FROM t WHERE id = {x}")\n')  # medium
    (tmp_project / "b.py").write_text(
        "from flask import request\n\ndef g(cur):\n    cur.execute(f\"SELECT * FROM t WHERE id = {request.args['id']}\")\n"
    )  # high: request data
    sarif = json.loads(run_br("security", "scan", ".", "--format", "sarif").stdout)
    levels = sorted(r["level"] for r in sarif["runs"][0]["results"])
    assert levels == ["error", "warning"]
    [rule] = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rule["properties"]["security-severity"] == "8.0" and rule["defaultConfiguration"]["level"] == "error"
