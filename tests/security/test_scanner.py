"""SecretScanner on real files and folders: ignore rules, allowlists, hostile input, both cores."""

from __future__ import annotations

import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
from security_helpers import rnd, samples, write_config

from buildrunner.errors import NotFoundError
from buildrunner.project import Project
from buildrunner.security import SecretMatch, SecretScanner


def scanner(root: Path) -> SecretScanner:
    return SecretScanner(Project(root))


def secret_of(line: str) -> str:
    return line.split('"')[1]


def test_spec_example_scan_content() -> None:
    matches = SecretScanner(Project(Path.cwd())).scan_content("API_KEY = 'sk-" + "ant-abc123def456'")
    assert [(m.line_number, m.secret_type, m.masked_value) for m in matches] == [(1, "anthropic_key", "sk-a...f456")]
    assert isinstance(matches[0], SecretMatch)
    assert matches[0].context == "API_KEY = 'sk-a...f456'"


def test_scan_file_reports_line_type_masked_value_and_masked_context(tmp_project: Path) -> None:
    line = samples()["github_token"]
    (tmp_project / "config.py").write_text("import os\n\n" + line + "\n")
    [m] = scanner(tmp_project).scan_file(tmp_project / "config.py")
    assert (m.file_path, m.line_number, m.secret_type) == ("config.py", 3, "github_token")
    assert secret_of(line) not in m.context and m.masked_value in m.context
    assert len(m.fingerprint) == 16 and m.column == line.index("ghp_") + 1


def test_missing_file_is_not_found(tmp_project: Path) -> None:
    with pytest.raises(NotFoundError):
        scanner(tmp_project).scan_file("nope.py")


def test_every_text_file_is_read_whatever_its_name(tmp_project: Path) -> None:
    s = samples()
    (tmp_project / ".env.local").write_text(s["stripe_key"] + "\n")
    (tmp_project / "Dockerfile").write_text("FROM python\nENV " + s["gitlab_token"].replace('"', "") + "\n")
    (tmp_project / "settings.ini").write_text("[db]\n" + s["database_url"] + "\n")
    found = {(m.file_path, m.secret_type) for m in scanner(tmp_project).scan_directory()}
    assert found == {(".env.local", "stripe_key"), ("Dockerfile", "gitlab_token"), ("settings.ini", "database_url")}


def test_gitignore_is_honoured_including_nested_ones(tmp_project: Path) -> None:
    s = samples()
    (tmp_project / ".gitignore").write_text("build/\n*.log\n")
    for rel in ("build/out.py", "debug.log", "pkg/cache/x.py", "pkg/keep.py"):
        path = tmp_project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(s["github_token"] + "\n")
    (tmp_project / "pkg" / ".gitignore").write_text("cache/\n")
    assert [m.file_path for m in scanner(tmp_project).scan_directory()] == ["pkg/keep.py"]


def test_a_folder_named_to_scan_is_scanned_though_the_rules_above_ignore_it(tmp_project: Path) -> None:
    """`br security scan build/` means it (as ripgrep searches an ignored folder it is given): 0 files and a ✅
    would tell the user a folder of leaked keys is clean. Its own .gitignore still applies inside it."""
    s = samples()
    (tmp_project / ".gitignore").write_text("build/\n")
    for rel in ("build/out.py", "build/deep/cache.py", "src/app.py"):
        path = tmp_project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(s["github_token"] + "\n")
    (tmp_project / "build" / ".gitignore").write_text("deep/\n")
    assert [m.file_path for m in scanner(tmp_project).scan_directory("build")] == ["build/out.py"]
    assert [m.file_path for m in scanner(tmp_project).scan_directory()] == ["src/app.py"]  # the project: build/ stays ignored
    (tmp_project / "build" / ".gitkeep").write_text("")
    for args in (("add", "-f", "build/.gitkeep"), ("commit", "-q", "--no-verify", "-m", "keep build/")):
        subprocess.run(["git", *args], cwd=tmp_project, check=True, capture_output=True)  # a tracked file inside changes nothing
    assert [m.file_path for m in scanner(tmp_project).scan_directory("build")] == ["build/out.py"]


def test_no_recursive_stays_in_the_folder(tmp_project: Path) -> None:
    (tmp_project / "sub").mkdir()
    (tmp_project / "top.py").write_text(samples()["gitlab_token"])
    (tmp_project / "sub" / "deep.py").write_text(samples()["gitlab_token"])
    assert [m.file_path for m in scanner(tmp_project).scan_directory(recursive=False)] == ["top.py"]


def test_whitelist_paths_globs_file_line_and_fingerprints_from_any_folder(tmp_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = samples()
    (tmp_project / "src" / "deep").mkdir(parents=True)
    (tmp_project / "fixtures").mkdir()
    (tmp_project / "fixtures" / "a.py").write_text(s["github_token"])
    (tmp_project / "src" / "one.py").write_text("x = 1\n" + s["gitlab_token"] + "\n")
    (tmp_project / "src" / "deep" / "two.py").write_text(s["stripe_key"] + "\n")
    (tmp_project / "src" / "three.py").write_text(s["slack_token"] + "\n")
    fp = scanner(tmp_project).scan_file(tmp_project / "src" / "deep" / "two.py")[0].fingerprint
    wl = tmp_project / ".buildrunner" / "security" / "whitelist.txt"
    wl.parent.mkdir(parents=True)
    wl.write_text(f"# reviewed\nfixtures/**\nsrc/one.py:2\n{fp}\n")
    monkeypatch.chdir(tmp_project / "src" / "deep")
    matches = SecretScanner(Project()).scan_directory()
    assert [m.file_path for m in matches] == ["src/three.py"]


@pytest.mark.parametrize(
    "comment", ["# br:allow", "# pragma: allowlist secret", "// gitleaks:allow", "//br:allow fixture", "<!--br:allow-->", "# br:allow."]
)
def test_inline_allow_comments(tmp_project: Path, comment: str) -> None:
    s = samples()
    (tmp_project / "a.py").write_text(s["gitlab_token"] + "  " + comment + "\n" + s["github_token"] + "\n")
    assert [m.secret_type for m in scanner(tmp_project).scan_file(tmp_project / "a.py")] == ["github_token"]


def test_bandits_nosec_allows_no_secret(tmp_project: Path) -> None:
    """`# nosec B501` on a `verify=False` line hid the GitHub token beside it: nosec speaks for bandit's checks."""
    token = samples()["github_token"].split('"')[1]
    (tmp_project / "client.py").write_text(f"r = requests.get(URL, headers={{'Authorization': 'token {token}'}}, verify=False)  # nosec B501\n")
    assert [m.secret_type for m in scanner(tmp_project).scan_file(tmp_project / "client.py")] == ["github_token"]


@pytest.mark.parametrize(
    "line",
    [
        'window.cfg={{"awsKey":"{key}","cookie":{{"nosecure":false}}}};',
        'AWS_KEY = "{key}"  # see docs/br:allowlist.md',
        'AWS_KEY = "{key}"  # mentions brbr:allow_all and xgitleaks:allow',
    ],
)
def test_an_allow_marker_must_be_a_whole_token(tmp_project: Path, line: str) -> None:
    """A word that contains a marker ("nosecure", a link to br:allowlist.md) allows nothing: in minified code that
    line is the whole file."""
    key = samples()["aws_access_key_id"].split("= ")[1]
    (tmp_project / "cfg.min.js").write_text(line.format(key=key) + "\n")
    assert [m.secret_type for m in scanner(tmp_project).scan_file(tmp_project / "cfg.min.js")] == ["aws_access_key_id"]
    (tmp_project / "cfg.min.js").write_text(line.format(key=key) + "  // gitleaks:allow\n")
    assert scanner(tmp_project).scan_file(tmp_project / "cfg.min.js") == []


def test_private_key_line_numbers_and_allow_on_its_end_line(tmp_project: Path) -> None:
    key = samples()["private_key"]
    (tmp_project / "k.pem").write_text("header\n" + key + "\n")
    [m] = scanner(tmp_project).scan_file(tmp_project / "k.pem")
    assert (m.line_number, m.end_line, m.secret_type) == (2, 2 + key.count("\n"), "private_key")
    assert m.masked_value == "-----BEGIN RSA PRIVATE KEY----- …"  # what was found, and none of the key
    (tmp_project / "k.pem").write_text("header\n" + key + " # br:allow\n")
    assert scanner(tmp_project).scan_file(tmp_project / "k.pem") == []


def test_binary_and_oversized_files_are_skipped_with_a_note(tmp_project: Path) -> None:
    write_config(tmp_project, max_file_size_mb=0.01)
    (tmp_project / "blob.bin").write_bytes(b"\x00\x01" + samples()["github_token"].encode())
    (tmp_project / "big.txt").write_text("x" * 20_000 + samples()["github_token"])
    sc = scanner(tmp_project)
    assert sc.scan_directory() == []
    reasons = {s.path: s.reason for s in sc.last_report.skipped}
    assert reasons["blob.bin"] == "binary" and reasons["big.txt"].startswith("larger than 0.01 MB")


def test_invalid_utf8_and_crlf_keep_line_numbers(tmp_project: Path) -> None:
    data = b"\xff\xfe bad \xc3\x28\r\nsecond\r\n" + samples()["github_token"].encode() + b"\r\n"
    (tmp_project / "w.txt").write_bytes(data)
    [m] = scanner(tmp_project).scan_file(tmp_project / "w.txt")
    assert m.line_number == 3 and not m.context.endswith("\r")


@pytest.mark.slow
def test_fifty_megabyte_single_line(tmp_project: Path) -> None:
    write_config(tmp_project, max_file_size_mb=64)
    token = samples()["github_token"]
    with open(tmp_project / "huge.min.js", "w") as fh:
        fh.write("a=1;" * 6_250_000)
        fh.write(token)
        fh.write(";b=2" * 6_250_000)
    [m] = scanner(tmp_project).scan_file(tmp_project / "huge.min.js")
    assert m.line_number == 1 and len(m.context) < 200 and secret_of(token) not in m.context
    write_config(tmp_project)  # default limit: skipped, with a note
    sc = scanner(tmp_project)
    assert sc.scan_directory() == [] and "larger than" in sc.last_report.skipped[0].reason


def test_symlink_loops_and_dangling_links_do_not_stall(tmp_project: Path) -> None:
    (tmp_project / "a").mkdir()
    os.symlink(tmp_project / "a", tmp_project / "a" / "loop")
    os.symlink(tmp_project / "self", tmp_project / "self")
    os.symlink(tmp_project / "missing", tmp_project / "dangling")
    (tmp_project / "a" / "real.py").write_text(samples()["github_token"])
    sc = scanner(tmp_project)
    assert [m.file_path for m in sc.scan_directory()] == ["a/real.py"]
    reasons = {s.path: s.reason for s in sc.last_report.skipped}
    assert reasons["a/loop"] == "symlink to a folder (not followed)"
    assert reasons["self"].startswith("unreadable") and reasons["dangling"].startswith("unreadable")


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc")
def test_a_file_that_fails_to_read_is_skipped_as_unreadable() -> None:
    from buildrunner.security.files import read_text_file

    skipped = read_text_file("/proc/self/mem", 1_000_000)  # fails to read for everyone, root included
    assert not isinstance(skipped, bytes) and skipped.kind == "unreadable" and skipped.not_scanned


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_unreadable_file_is_skipped(tmp_project: Path) -> None:
    path = tmp_project / "secret.txt"
    path.write_text(samples()["github_token"])
    path.chmod(0)
    sc = scanner(tmp_project)
    assert sc.scan_directory() == []
    assert sc.last_report.skipped[0].path == "secret.txt"
    assert sc.last_report.skipped[0].reason.startswith("unreadable")


def test_buildrunners_own_state_is_never_read_even_without_br_init(tmp_project: Path) -> None:
    """The store (open in the scanning process, perhaps) and the logs are skipped; the user's config is scanned."""
    state = tmp_project / ".buildrunner"
    (state / "logs" / "s").mkdir(parents=True, exist_ok=True)
    for name in ("buildrunner.db", "buildrunner.db-wal", "logs/s/t.1.log"):
        (state / name).write_text(samples()["github_token"])
    (state / "plan.yaml").write_text(f"tasks:\n  - id: a\n    command: echo {samples()['github_token']}\n")
    sc = scanner(tmp_project)
    assert [finding.file_path for finding in sc.scan_directory()] == [".buildrunner/plan.yaml"]


def test_fifo_is_never_opened(tmp_project: Path) -> None:
    os.mkfifo(tmp_project / "pipe")
    sc = scanner(tmp_project)
    assert sc.scan_directory() == []
    assert sc.last_report.skipped[0].reason == "not a regular file"


def test_a_file_linked_to_from_inside_the_scan_is_reported_once_by_its_own_path(tmp_project: Path) -> None:
    (tmp_project / "conf").mkdir()
    (tmp_project / "conf" / "aws.py").write_text(samples()["gitlab_token"] + "\n")
    (tmp_project / "current.py").symlink_to(tmp_project / "conf" / "aws.py")  # listed before its target in the walk
    assert [m.file_path for m in scanner(tmp_project).scan_directory()] == ["conf/aws.py"]
    # a link whose target the scan does not reach is scanned under its own name
    assert [m.file_path for m in scanner(tmp_project).scan([tmp_project / "current.py"]).matches] == ["current.py"]


def test_process_pool_finds_the_same_as_in_process(tmp_project: Path) -> None:
    s = samples()
    for i in range(40):
        (tmp_project / f"f{i}.py").write_text(("# filler\n" * 50) + s["gitlab_token"] + "\n" + rnd(200) + "\n")
    in_process = scanner(tmp_project).scan_directory()
    write_config(tmp_project, parallel_min_mb=0, workers=2)
    pooled = scanner(tmp_project).scan_directory()
    assert len(in_process) == 40 and pooled == in_process


def test_scan_content_never_contains_the_secret(secret_samples: dict[str, str]) -> None:
    text = "\n".join(secret_samples.values())
    sc = SecretScanner(Project(Path.cwd()))
    matches = sc.scan_content(text, "mixed.txt")
    assert {m.secret_type for m in matches} == set(secret_samples)
    rendered = repr(matches)
    for hit in sc.engine.ruleset.find(text.encode()):
        assert hit.secret not in rendered


def test_regex_hostile_input_finishes_with_no_findings(tmp_project: Path) -> None:
    hostile = ['password = "' * 200_000, "postgres://a:" * 200_000, "(" * 1_000_000, "-----BEGIN RSA PRIVATE KEY-----\n" * 50_000, "sk-" * 300_000]
    sc = scanner(tmp_project)
    for text in hostile:
        assert sc.scan_content(text) == []


def test_rules_from_the_project_config_are_used(tmp_project: Path) -> None:
    write_config(tmp_project, rules=[{"id": "acme_token", "regex": r"\b(acme_[a-z0-9]{20})\b", "keywords": ["acme_"]}], disabled_rules=["gitlab_token"])
    (tmp_project / "a.txt").write_text("k = acme_" + rnd(20, "abcdefghij0123456789") + "\n" + samples()["gitlab_token"] + "\n")
    assert [m.secret_type for m in scanner(tmp_project).scan_directory()] == ["acme_token"]


@pytest.mark.parametrize(("name", "expected"), [("mergeConfig.js", []), ("settings.py", []), ("config.yaml", ["generic_secret"]), (".env", ["generic_secret"]), ("deploy.sh", ["generic_secret"])])
def test_an_unquoted_value_in_source_code_is_an_expression_not_a_secret(name: str, expected: list[str]) -> None:
    """axios' `cancelToken: mergedConfig,` (a name with a digit) was 24 of its 28 findings: in code, a value outside quotes is a name or a
    call; in configuration and shell scripts the same text is a literal value."""
    scanner = SecretScanner(Project(Path(__file__).parent))
    line = "cancelToken: defaultToConfig2Kq7Zp,\n" if name != ".env" and name != "deploy.sh" else "CANCEL_TOKEN=defaultToConfig2Kq7Zp\n"
    assert [m.secret_type for m in scanner.scan_content(line, name)] == expected
    quoted = 'cancelToken: "' + "Kq7Zp2mW" + 'vL9xRt5Yp3Nb",\n'
    assert [m.secret_type for m in scanner.scan_content(quoted, name)] == ["generic_secret"]  # a literal wherever it is


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("settings.py", "# Staging database -- password: {p}\n"),
        ("settings.py", '"""Notes for ops.\n\nDB_PASSWORD={p}\n"""\nx = 1\n'),
        ("deploy.ts", "// legacy api_key={p}aBcDeF\n"),
        ("client.js", "/*\n * token: {p}abcdEF\n */\n"),
    ],
)
def test_a_value_in_a_comment_or_docstring_of_source_code_is_text_and_counts(name: str, text: str) -> None:
    """Outside quotes in code a value is a name; in a comment or a docstring it is what someone pasted there."""
    scanner = SecretScanner(Project(Path(__file__).parent))
    assert scanner.scan_content(text.format(p="Zx81kQ2p" + "LmT7"), name), text


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("app.yaml", "db:\n  password: {pw}\n"),
        ("S.java", 'class S {{ static final String DB_PASSWORD = "{pw}"; }}\n'),
        ("db.tf", 'resource "aws_db_instance" "db" {{ password = "{pw}" }}\n'),
        ("db.py", "conn = psycopg2.connect(host='db', user='app', password='{pw}')\n"),
        ("application.properties", "spring.datasource.password={pw}\n"),
        ("smtp.yaml", 'smtp:\n  password: "' + "-".join(("tundra", "ripple", "canyon", "violet")) + '"\n'),
    ],
)
def test_a_password_of_letters_alone_is_found(tmp_project: Path, name: str, line: str) -> None:
    """Random letters or a passphrase after `password` were taken for a word (detect-secrets found all six)."""
    (tmp_project / name).write_text(line.format(pw=rnd(16, string.ascii_letters, seed=3)))
    assert [m.secret_type for m in scanner(tmp_project).scan_file(tmp_project / name)] == ["password"]


def test_names_after_password_are_still_not_passwords(tmp_project: Path) -> None:
    text = "password = getPassword\npassword: PasswordField\npassword = 'userPasswordInput'\npassword = reset-password-form\n"
    (tmp_project / "form.py").write_text(text)
    assert scanner(tmp_project).scan_file(tmp_project / "form.py") == []
