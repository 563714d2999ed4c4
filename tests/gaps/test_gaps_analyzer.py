"""The gap analysis on sample projects with known gaps: each is found, nothing else is high."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from buildrunner.gaps.analyzer import GapAnalyzer
from buildrunner.gaps.dependencies import declared_dependencies
from buildrunner.project import Project
from buildrunner.quality.gate import QualityGate


def analyze(root: Path):
    return GapAnalyzer(Project(root)).analyze()


def keys(report, severity: str | None = None) -> set[tuple[str, str, int]]:
    return {(g.category, g.path, g.line) for g in report.gaps if severity is None or g.severity == severity}


def test_every_known_high_gap_is_found_and_nothing_else_is_high(sample: Path, fake_aws_key: str) -> None:
    report = analyze(sample)
    assert keys(report, "high") == {
        ("hardcoded-credential", "src/sample/config.py", 2),
        ("undeclared-dependency", "src/sample/core.py", 4),
        ("stub", "src/sample/core.py", 13),
        ("network-timeout", "src/sample/core.py", 25),
        ("swallowed-error", "src/sample/core.py", 37),
    }
    credential = next(g for g in report.gaps if g.category == "hardcoded-credential")
    assert fake_aws_key not in credential.message  # masked, never the full value
    assert all(g.why for g in report.gaps)


def test_medium_and_low_gaps_are_found(sample: Path) -> None:
    found = keys(analyze(sample))
    for expected in [
        ("stub", "src/sample/core.py", 18),  # pass-only body
        ("import-cycle", "src/sample/a.py", 2),
        ("untested-module", "src/sample/config.py", 1),
        ("missing-type-hints", "src/sample/core.py", 50),
        ("missing-docstring", "src/sample/core.py", 50),
        ("todo", "src/sample/core.py", 51),  # FIXME
        ("todo", "src/sample/config.py", 3),  # TODO
        ("dead-code", "src/sample/core.py", 78),
        ("duplicate-code", "src/sample/stats.py", 6),
        ("duplicate-code", "src/sample/more_stats.py", 6),
    ]:
        assert expected in found, expected


def test_exceptions_to_the_rules_are_not_reported(sample: Path) -> None:
    report = analyze(sample)
    stubs = {g.line for g in report.gaps if g.category == "stub"}
    assert stubs == {13, 18}  # abstract method, protocol member, overloads are not stubs
    swallowed = {g.line for g in report.gaps if g.category == "swallowed-error"}
    assert swallowed == {37}  # `except KeyError: return ""` is deliberate
    timeouts = {g.line for g in report.gaps if g.category == "network-timeout"}
    assert timeouts == {25}  # the call with timeout=5 is fine
    cycles = [g.message for g in report.gaps if g.category == "import-cycle"]
    assert cycles == ["import cycle: sample.a -> sample.b -> sample.a"]  # the lazy c/d import is no cycle
    untested = {g.path for g in report.gaps if g.category == "untested-module"}
    assert untested == {"src/sample/config.py"}


def test_ignored_and_build_folders_are_not_analysed(sample: Path) -> None:
    paths = {g.path.split("/")[0] for g in analyze(sample).gaps}
    assert not paths & {"build", ".venv", "ignored_dir"}


def test_same_input_same_sorted_output(sample: Path) -> None:
    first, second = analyze(sample), analyze(sample)
    assert first.gaps == second.gaps
    ranks = [(g.severity_rank, g.path, g.line) for g in first.gaps]
    assert ranks == sorted(ranks)


def test_fixing_a_gap_removes_it(sample: Path) -> None:
    core = sample / "src/sample/core.py"
    core.write_text(core.read_text().replace("requests.get(url).content", "requests.get(url, timeout=10).content"))
    assert not [g for g in analyze(sample).gaps if g.category == "network-timeout"]


def test_undeclared_import_in_tests_is_medium_and_declared_one_is_quiet(sample: Path, files) -> None:
    files(sample, {"tests/test_yaml.py": "import yaml\nimport requests\n\n\ndef test_x():\n    assert yaml\n"})
    report = analyze(sample)
    in_tests = [g for g in report.gaps if g.path == "tests/test_yaml.py" and g.category == "undeclared-dependency"]
    assert [(g.line, g.severity) for g in in_tests] == [(1, "medium")]  # requests is declared


def test_no_manifest_means_dependencies_are_skipped_with_a_note(tmp_project: Path, files) -> None:
    files(tmp_project, {"app.py": '"""App."""\nimport yaml\n'})
    report = analyze(tmp_project)
    assert not [g for g in report.gaps if g.category == "undeclared-dependency"]
    assert any("no dependency manifest" in note for note in report.notes)


class _Index(BaseHTTPRequestHandler):
    """A stand-in package index answering the PEP 691 JSON simple API."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/").endswith("/requests"):
            body = json.dumps({"name": "requests", "versions": ["2.0.0", "2.31.0", "3.0.0rc1"], "files": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def index_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()


def test_outdated_pinned_dependency_is_reported_with_both_versions(sample: Path, index_url: str, files, quality_config) -> None:
    files(sample, {"requirements.txt": "# runtime pins\nrequests==2.0.0  # pinned\n"})
    quality_config(sample, index_url=index_url)
    report = analyze(sample)
    outdated = [g for g in report.gaps if g.category == "outdated-dependency"]
    # the exact pin wins over pyproject's range; the pre-release 3.0.0rc1 is not "latest"
    assert [(g.location, g.severity, g.message) for g in outdated] == [
        ("requirements.txt:2", "low", "outdated dependency: requests 2.0.0 → 2.31.0")
    ]


def test_an_unpinned_dependency_is_compared_with_the_projects_own_environment_only(sample: Path, index_url: str, files, quality_config) -> None:
    """`requests` unpinned said "outdated: <BuildRunner's own requests> -> latest": BuildRunner's environment is not the
    project's. Without a pin the project's virtualenv says what it runs; without either nothing is claimed."""
    files(sample, {"requirements.txt": "requests\n"})
    quality_config(sample, index_url=index_url)
    report = analyze(sample)
    assert not [g for g in report.gaps if g.category == "outdated-dependency"]
    assert any("with no exact pin and no project virtualenv" in note and "requests" in note for note in report.notes)  # said, not silent
    files(sample, {".venv/pyvenv.cfg": "home = /usr\n", ".venv/lib/python3.11/site-packages/requests-2.5.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.5.0\n"})
    outdated = [g.message for g in analyze(sample).gaps if g.category == "outdated-dependency"]
    assert outdated == ["outdated dependency: requests 2.5.0 → 2.31.0"]


def test_unreachable_index_skips_with_a_note_quickly(sample: Path, quality_config, files) -> None:
    files(sample, {"requirements.txt": "requests==2.0.0\n"})  # a pin: something to look up
    quality_config(sample, index_url="http://127.0.0.1:9/simple", index_timeout=2)
    started = time.monotonic()
    report = analyze(sample)
    assert time.monotonic() - started < 60
    assert not [g for g in report.gaps if g.category == "outdated-dependency"]
    assert any("not reachable" in note for note in report.notes)


def test_cli_json_is_stable_and_filterable(sample: Path, run_br) -> None:
    first = run_br("gaps", "analyze", "--format", "json")
    second = run_br("gaps", "analyze", "--format", "json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    data.pop("seconds")
    again = json.loads(second.stdout)
    again.pop("seconds")
    assert data == again
    assert data["counts"]["high"] == 5
    gap = data["gaps"][0]
    assert set(gap) >= {"path", "line", "location", "severity", "category", "message", "why"}
    high = json.loads(run_br("gaps", "analyze", "--format", "json", "--severity", "high").stdout)
    assert {g["severity"] for g in high["gaps"]} == {"high"} and len(high["gaps"]) == 5


def test_cli_text_groups_by_severity(sample: Path, run_br, fake_aws_key: str) -> None:
    result = run_br("gaps", "analyze")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Gap Analysis Results")
    assert out.index("HIGH SEVERITY (5):") < out.index("MEDIUM SEVERITY") < out.index("LOW SEVERITY")
    assert "src/sample/core.py:25: requests.get() without a timeout [network-timeout]" in out
    assert "why network-timeout:" in out
    assert fake_aws_key not in out


def test_cli_text_shows_control_characters_in_names_and_comments_escaped(sample: Path, run_br) -> None:
    (sample / "src" / "sample" / "odd\nname.py").write_text("# TODO: paint it \x1b[31mred\n")
    out = run_br("gaps", "analyze").stdout
    assert "src/sample/odd\\nname.py:1: TODO: paint it \\x1b[31mred [todo]" in out and "\x1b" not in out


def test_cli_rejects_unknown_severity(sample: Path, run_br) -> None:
    result = run_br("gaps", "analyze", "--severity", "urgent")
    assert result.returncode == 2
    assert "urgent" in result.stderr


def test_help_documents_the_severity_rules(run_br) -> None:
    out = run_br("gaps", "analyze", "--help").stdout
    for category in ("hardcoded-credential", "stub", "swallowed-error", "network-timeout", "undeclared-dependency", "dead-code"):
        assert category in out
    assert "Example:" in out


RULES = {
    "pyproject.toml": '[project]\nname = "rules"\nversion = "1"\ndependencies = ["httpx"]\n',
    "rules.py": '''
        """Each rule's edge cases, line by line."""
        import socket
        import urllib.request
        from urllib.request import urlopen

        import httpx


        def stub_call_form() -> None:
            raise NotImplementedError()


        def stub_message_form() -> None:
            raise NotImplementedError("later")


        def not_a_stub(flag: bool) -> int:
            if flag:
                raise NotImplementedError
            return 1


        def swallow_all(items: list) -> None:
            for item in items:
                try:
                    item()
                except:
                    pass
                try:
                    item()
                except (ValueError, Exception):
                    continue


        def logged(item) -> None:
            try:
                item()
            except Exception as exc:
                print(exc)


        def network(url: str) -> None:
            urlopen(url)
            urllib.request.urlopen(url, timeout=3)
            urllib.request.urlopen(url, None, 3)
            socket.create_connection(("example.org", 80))
            httpx.get(url)
            httpx.get(url, timeout=None)
    ''',
}


def test_rule_edge_cases(tmp_project: Path, files, quality_config) -> None:
    files(tmp_project, RULES)
    quality_config(tmp_project, index_url="")
    report = analyze(tmp_project)
    found = {(g.category, g.line, g.severity) for g in report.gaps if g.category in {"stub", "swallowed-error", "network-timeout"}}
    assert found == {
        ("stub", 9, "high"),
        ("stub", 13, "high"),
        ("swallowed-error", 27, "high"),  # bare except: pass
        ("swallowed-error", 31, "high"),  # a tuple holding Exception, body only continue
        ("network-timeout", 43, "high"),  # urlopen imported by name
        ("network-timeout", 46, "high"),  # socket.create_connection
        ("network-timeout", 48, "high"),  # httpx with its default timeout switched off
    }


def test_declarations_keep_their_line(sample: Path, files) -> None:
    from buildrunner.gaps.dependencies import declared_dependencies

    files(sample, {"requirements-dev.txt": "# tools\n\npytest>=8\n"})
    declared = declared_dependencies(sample)
    assert (declared.requirements["requests"].source, declared.requirements["requests"].line) == ("pyproject.toml", 4)
    assert (declared.requirements["pytest"].source, declared.requirements["pytest"].line) == ("requirements-dev.txt", 3)
    assert declared.manifests == ["pyproject.toml", "requirements-dev.txt"]


def test_gaps_lists_every_security_finding_the_quality_gate_counts(tmp_project: Path, fake_aws_key: str, run_br) -> None:
    """Two copies of one key on a line and two SQL injections: the gate says 4 (2 + 2) and gaps lists those 4."""
    (tmp_project / "app.py").write_text(
        f'PRIMARY = "{fake_aws_key}"; BACKUP = "{fake_aws_key}"\n\n\n'
        "def find(conn, name):\n"
        '    return conn.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n\n\n'
        "def drop(conn, uid):\n"
        '    return conn.execute("DELETE FROM users WHERE id = " + uid)\n'
    )
    quality = json.loads(run_br("quality", "check", "--format", "json").stdout)
    security = next(c for c in quality["categories"] if c["name"] == "Security")
    counted = [(f["location"], f["kind"]) for f in security["inputs"]["findings"]]
    assert sorted(counted) == sorted([("app.py:1", "secret")] * 2 + [("app.py:5", "sql-injection"), ("app.py:9", "sql-injection")])
    assert any("4 security findings (2 secrets, 2 SQL injection risks)" in w for w in quality["warnings"])
    gaps = json.loads(run_br("gaps", "analyze", "--format", "json").stdout)
    listed = [(f"{g['path']}:{g['line']}", g["category"]) for g in gaps["gaps"] if g["category"] in ("hardcoded-credential", "sql-injection")]
    assert sorted(listed) == sorted([("app.py:1", "hardcoded-credential")] * 2 + [("app.py:5", "sql-injection"), ("app.py:9", "sql-injection")])
    assert fake_aws_key not in json.dumps(gaps)


def test_a_file_too_deep_to_parse_or_not_decodable_is_a_gap_not_a_crash(tmp_project: Path, run_br) -> None:
    """Generated code nested past the parser's limit, and bytes that are not UTF-8: each named, the rest analysed."""
    (tmp_project / "pkg").mkdir()
    (tmp_project / "pkg" / "__init__.py").write_text('"""A package."""\n')
    (tmp_project / "pkg" / "generated.py").write_text("X = " + " + ".join(['"a"'] * 3000) + "\n")
    (tmp_project / "pkg" / "latin.py").write_bytes(b'"""Latin-1."""\nNAME = "caf\xe9"\n')
    (tmp_project / "pkg" / "todo.py").write_text('"""Unfinished."""\n# FIXME: handle the empty case\n')
    gaps = json.loads(run_br("gaps", "analyze", "--format", "json").stdout)["gaps"]
    found = {(g["location"], g["category"], g["severity"]) for g in gaps}
    assert ("pkg/generated.py:1", "not-analysed", "low") in found
    assert ("pkg/latin.py:1", "syntax-error", "high") in found
    assert ("pkg/todo.py:2", "todo", "medium") in found
    quality = run_br("quality", "check", "--format", "json")
    assert "Traceback" not in quality.stderr and quality.returncode in (0, 4)
    assert any("pkg/generated.py: not analysed" in w for w in json.loads(quality.stdout)["warnings"])


def _unprivileged(folder: Path) -> list[str]:
    """A command prefix that runs without the power to read `folder` (mode 000): none when we are not root, capsh
    dropping the capabilities that bypass file permissions when we are; skips when neither can."""
    if os.geteuid() != 0:
        return []
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("running as root and capsh is not installed: cannot make a folder unreadable")
    prefix = [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]
    if subprocess.run([*prefix, f"ls '{folder}'"], capture_output=True, check=False).returncode == 0:
        pytest.skip("capsh cannot drop the capabilities here: the folder stays readable")
    return prefix


@pytest.mark.parametrize("command", [("gaps", "analyze"), ("quality", "check")])
def test_an_unreadable_folder_is_reported_not_analysed_and_the_rest_is(tmp_project: Path, files, command: tuple[str, str]) -> None:
    """A mode-000 folder crashed both commands (`unexpected PermissionError: .../pkg/private/pyvenv.cfg`)."""
    files(tmp_project, {"pkg/__init__.py": '"""A package."""\n', "pkg/a.py": "def f():\n    raise NotImplementedError\n", "pkg/private/b.py": "X = 1\n"})
    private = tmp_project / "pkg" / "private"
    private.chmod(0)
    try:
        prefix = _unprivileged(private)
        argv = [sys.executable, "-m", "buildrunner", *command, "--format", "json"]
        proc = subprocess.run([*prefix, shlex.join(argv)] if prefix else argv, cwd=tmp_project, capture_output=True, text=True, timeout=60, check=False)
    finally:
        private.chmod(0o755)
    assert proc.returncode in (0, 4), proc.stderr
    data = json.loads(proc.stdout)
    if command[0] == "gaps":
        found = {(g["location"], g["category"]) for g in data["gaps"]}
        assert {("pkg/private:1", "not-analysed"), ("pkg/private:1", "not-scanned"), ("pkg/a.py:1", "stub")} <= found
    else:
        assert "pkg/private: folder not analysed, cannot be read (Permission denied)" in data["warnings"]
        assert data["python_files"] == 2


@pytest.mark.parametrize("content, problem", [(b"\xff\xfe[project]\n", "not UTF-8"), (b"[project\nname = 'x'\n", "not valid TOML")])
@pytest.mark.parametrize("command", [("gaps", "analyze"), ("quality", "check")])
def test_a_broken_pyproject_is_the_same_configuration_error_in_both_commands(tmp_project: Path, run_br, command, content, problem) -> None:
    """Bytes that are not UTF-8 crashed gaps (`unexpected UnicodeDecodeError`); invalid TOML was an error in gaps
    and silently ignored by the quality gate (exit 0)."""
    (tmp_project / "app.py").write_text("import requests\n")
    (tmp_project / "pyproject.toml").write_bytes(content)
    result = run_br(*command)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()  # one line, naming the file and the problem
    assert line.startswith(f"error: {tmp_project / 'pyproject.toml'}: {problem}")


def test_imports_whose_distribution_has_another_name_are_not_undeclared(tmp_project: Path, files) -> None:
    """PIL is Pillow, bs4 is beautifulsoup4; a package only the project's own .venv has is looked up there."""
    site = tmp_project / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "acme_widgets-1.0.dist-info").mkdir(parents=True)
    (site / "acme_widgets-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-widgets\nVersion: 1.0\n")
    (site / "acme_widgets-1.0.dist-info" / "top_level.txt").write_text("widgetry\n")
    files(tmp_project, {
        "requirements.txt": "Pillow\nbeautifulsoup4\npython-dateutil\nacme-widgets\n",
        "pkg/__init__.py": '"""A package."""\n',
        "pkg/app.py": '"""App."""\nfrom PIL import Image\nfrom bs4 import BeautifulSoup\nfrom dateutil import parser\nimport widgetry\nimport nowhere_known_pkg\n',
    })
    undeclared = [g for g in GapAnalyzer(Project(tmp_project)).analyze().gaps if g.category == "undeclared-dependency"]
    assert [(g.line, g.severity) for g in undeclared] == [(6, "medium")]  # only the import no environment knows
    assert "nowhere_known_pkg" in undeclared[0].message and "distribution is unknown" in undeclared[0].message


def test_requirements_from_a_vcs_url_or_path_are_named_by_their_egg(tmp_project: Path, files) -> None:
    """`git+https://github.com/psf/black.git#egg=black` declares black (it was read as a package named `git`, and
    `import black` was flagged undeclared); a URL or path without a name declares nothing, and is no package `https`."""
    files(tmp_project, {
        "requirements.txt": "git+https://github.com/psf/black.git@24.1.0#egg=black\n-e git+https://example.invalid/x/tomlkit.git#egg=tomlkit\n"
                            "https://example.invalid/wheels/attrs-23.1.0-py3-none-any.whl\n./vendor/localpkg\n",
        "pkg/__init__.py": '"""A package."""\n',
        "pkg/app.py": '"""App."""\nimport black\nimport tomlkit\nimport nowhere_known_pkg\n',
    })
    undeclared = [g for g in GapAnalyzer(Project(tmp_project)).analyze().gaps if g.category == "undeclared-dependency"]
    assert [g.line for g in undeclared] == [4]  # only the import no requirement names
    declared = declared_dependencies(tmp_project)
    assert {"black", "tomlkit"} <= set(declared.requirements) and not {"git", "https"} & set(declared.requirements)


def test_namespace_packages_build_scripts_guarded_else_and_docs_are_not_shipped_undeclared_imports(tmp_project: Path, files, quality_config) -> None:
    """`from google.cloud import storage` with google-cloud-storage declared, zope.interface, azure-storage-blob; setup.py
    importing what [build-system].requires lists; `import OpenSSL` in the `else:` of `try/except ImportError`, and
    docs/conf.py were all high. An undeclared import beside them stays high."""
    files(tmp_project, {
        "pyproject.toml": """
            [build-system]
            requires = ["setuptools>=61", "setuptools-scm"]

            [project]
            name = "pkg"
            dependencies = ["google-cloud-storage", "zope.interface", "azure-storage-blob"]
        """,
        "setup.py": "import setuptools\nimport setuptools_scm\nimport yaml\n\nsetuptools.setup()\n",
        "pkg/__init__.py": '"""A package."""\n',
        "pkg/app.py": """
            \"\"\"App.\"\"\"
            from google.cloud import storage
            from zope.interface import Interface
            from azure.storage.blob import BlobClient
            from google.cloud import bigquery

            try:
                import ssl
            except ImportError:
                ssl = None
            else:
                import OpenSSL
        """,
        "docs/conf.py": "import yaml\n\nproject = 'pkg'\n",
    })
    quality_config(tmp_project, index_url="")
    undeclared = sorted((g.path, g.line, g.severity) for g in analyze(tmp_project).gaps if g.category == "undeclared-dependency")
    assert undeclared == [("docs/conf.py", 1, "medium"), ("pkg/app.py", 5, "high"), ("pkg/app.py", 12, "medium"), ("setup.py", 3, "high")]


def test_requirements_files_are_decoded_by_their_bom_and_follow_their_includes(tmp_project: Path, files, quality_config) -> None:
    """PowerShell's `pip freeze > requirements.txt` writes UTF-16 with a BOM (read as empty), and `-r base.txt` was
    not followed: every import was undeclared."""
    files(tmp_project, {
        "constraints/base.txt": "PyYAML==6.0\n",
        "pkg/__init__.py": '"""A package."""\n',
        "pkg/app.py": '"""App."""\nimport requests\nimport yaml\nimport bs4\n',
    })
    (tmp_project / "requirements.txt").write_bytes("requests>=2\r\n-r constraints/base.txt\r\n".encode("utf-16"))
    quality_config(tmp_project, index_url="")
    undeclared = [g for g in analyze(tmp_project).gaps if g.category == "undeclared-dependency"]
    assert [(g.path, g.line) for g in undeclared] == [("pkg/app.py", 4)]  # bs4 only
    declared = declared_dependencies(tmp_project)
    assert declared.requirements["pyyaml"].source == "constraints/base.txt" and "requests" in declared.requirements


def test_json_lists_the_languages_not_analysed_as_the_quality_gate_does(tmp_project: Path, run_br) -> None:
    """Both commands read one file set; a script reads what neither checked from the same key, not from a note."""
    (tmp_project / "index.js").write_text('const q = "SELECT * FROM t WHERE id = " + id;\n')
    (tmp_project / "app.py").write_text("def f():\n    return 1\n")
    gaps = json.loads(run_br("gaps", "analyze", "--format", "json").stdout)
    quality = json.loads(run_br("quality", "check", "--format", "json").stdout)
    assert gaps["not_analysed"] == quality["not_analysed"] == [{"language": "JavaScript", "files": 1, "lines": 1}]
    high = json.loads(run_br("gaps", "analyze", "--format", "json", "--severity", "high").stdout)
    assert high["not_analysed"] == gaps["not_analysed"]  # a severity filter narrows the findings, not what was left out


def test_base_class_hooks_refusals_and_protocol_methods_are_not_stubs(tmp_project: Path, files, quality_config) -> None:
    """Django's `SessionBase.load` ("subclasses ... must provide a load() method"), `RequestSite.delete` and an empty
    `__exit__` are deliberate; a bare, TODO or "coming soon" NotImplementedError and an empty method are unfinished."""
    files(tmp_project, {"base.py": '''
        class SessionBase:
            def load(self):
                raise NotImplementedError("subclasses of SessionBase must provide a load() method")

            def delete(self):
                raise NotImplementedError("RequestSite cannot be deleted.")

            def save(self):
                raise NotImplementedError

            def flush(self):
                raise NotImplementedError("TODO: flush")

            def __exit__(self, *exc):
                pass

            def on_change(self):
                """Called after each change; subclasses override it."""
                pass

            def refresh(self):
                pass

            def later(self):
                raise NotImplementedError("coming soon")

            def vague(self):
                raise NotImplementedError("not implemented")
    '''})
    quality_config(tmp_project, index_url="")
    stubs = sorted(g.message for g in analyze(tmp_project).gaps if g.category == "stub")
    assert stubs == [
        "SessionBase.flush() only raises NotImplementedError",
        "SessionBase.later() only raises NotImplementedError",
        "SessionBase.on_change() has an empty body",  # a docstring and `pass` is the stub an agent leaves, too
        "SessionBase.refresh() has an empty body",
        "SessionBase.save() only raises NotImplementedError",
        "SessionBase.vague() only raises NotImplementedError",
    ]


def test_a_method_a_subclass_overrides_is_an_interface_not_a_stub(tmp_project: Path, files, quality_config) -> None:
    """flask's JSONProvider.dumps and requests' BaseAdapter.send (a docstring and `raise NotImplementedError`,
    overridden by DefaultJSONProvider and HTTPAdapter) were high stubs; one nobody overrides, and a function, stay so."""
    files(tmp_project, {
        "pkg/__init__.py": '"""A package."""\n',
        "pkg/provider.py": '''
            import json


            class JSONProvider:
                def dumps(self, obj):
                    """Serialize data as JSON."""
                    raise NotImplementedError

                def loads(self, s):
                    """Deserialize data as JSON."""
                    raise NotImplementedError


            class DefaultJSONProvider(JSONProvider):
                def dumps(self, obj):
                    return json.dumps(obj)


            def plain():
                """Not written yet."""
                raise NotImplementedError
        ''',
        "pkg/adapters.py": '''
            class BaseAdapter:
                def send(self, request):
                    """Sends a request."""
                    raise NotImplementedError
        ''',
        "pkg/http.py": '''
            from pkg import adapters


            class RetryingAdapter(adapters.BaseAdapter):
                retries = 3


            class HTTPAdapter(RetryingAdapter):
                def send(self, request):
                    return request
        ''',
    })
    quality_config(tmp_project, index_url="")
    stubs = sorted((g.message, g.severity) for g in analyze(tmp_project).gaps if g.category == "stub")
    assert stubs == [("JSONProvider.loads() only raises NotImplementedError", "high"), ("plain() only raises NotImplementedError", "high")]


def test_an_overloads_parameters_and_sphinx_settings_are_not_dead_code(tmp_project: Path, files, quality_config) -> None:
    """click's `@t.overload def command(self, __func: ...) -> Command: ...` describes a signature; Sphinx reads conf.py."""
    files(tmp_project, {
        "mod.py": '''
            """m"""
            import typing as t


            class Group:
                """g"""

                @t.overload
                def command(self, __func: t.Callable[..., t.Any]) -> int: ...

                @t.overload
                def command(self, *args: t.Any, **kwargs: t.Any) -> int: ...

                def command(self, *args: t.Any, **kwargs: t.Any) -> int:
                    """c"""
                    return len(args) + len(kwargs)


            print(Group().command())
        ''',
        "docs/conf.py": "project = 'demo'\nextensions = ['sphinx.ext.autodoc']\nhtml_theme = 'alabaster'\n",
    })
    quality_config(tmp_project, index_url="")
    dead = [g.message for g in analyze(tmp_project).gaps if g.category == "dead-code"]
    assert not [m for m in dead if "__func" in m or "html_theme" in m or "extensions" in m], dead


def test_standard_library_modules_newer_than_this_python_are_not_undeclared_dependencies(tmp_project: Path, files, quality_config) -> None:
    """attrs imports `annotationlib` (3.14) behind a version check: BuildRunner on 3.11 must not call it a dependency."""
    files(tmp_project, {
        "pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = []\n',
        "mod.py": '"""m"""\nimport sys\n\nif sys.version_info >= (3, 14):\n    import annotationlib\nimport notapackage_xyz\n',
    })
    quality_config(tmp_project, index_url="")
    undeclared = sorted(g.message for g in analyze(tmp_project).gaps if g.category == "undeclared-dependency")
    assert len(undeclared) == 1 and "notapackage_xyz" in undeclared[0]


def test_code_for_a_newer_python_than_brs_is_not_analysed_rather_than_broken(tmp_project: Path, files, quality_config) -> None:
    """`type Pair[T] = ...` is 3.12 syntax: under an older Python it does not parse. A project that requires a Python
    BuildRunner is not running on gets "not analysed, install BuildRunner under that Python", not "cannot be imported"."""
    newer = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    files(tmp_project, {
        "pyproject.toml": f'[project]\nname = "x"\nversion = "1"\nrequires-python = ">={newer}"\ndependencies = []\n',
        "mod.py": '"""m"""\n\nx = match case [\n',  # not valid under this Python, whatever it is
    })
    quality_config(tmp_project, index_url="")
    gaps = [(g.category, g.severity) for g in analyze(tmp_project).gaps if g.path == "mod.py"]
    assert gaps == [("not-analysed", "low")]
    report = QualityGate(Project(tmp_project)).check()
    assert any(f"requires Python >={newer}" in w and "install BuildRunner under that Python" in w for w in report.warnings)
    for plain in ("", f'requires-python = "<{sys.version_info[0]}.{sys.version_info[1]}"\n'):  # none, or only older ones:
        files(tmp_project, {"pyproject.toml": f'[project]\nname = "x"\nversion = "1"\n{plain}dependencies = []\n'})
        assert [(g.category, g.severity) for g in analyze(tmp_project).gaps if g.path == "mod.py"] == [("syntax-error", "high")]


def test_severity_is_taken_in_any_case(run_br, tmp_project: Path) -> None:  # type: ignore[no-untyped-def]
    """`--severity HIGH` was refused: the choices were lower case only."""
    (tmp_project / "m.py").write_text('"""M."""\n\n\ndef f() -> None:\n    """F."""\n    raise NotImplementedError\n')
    upper = run_br("gaps", "analyze", "--severity", "HIGH", "--format", "json")
    assert upper.returncode == 0, upper.stderr
    lower = run_br("gaps", "analyze", "--severity", "high", "--format", "json")
    assert json.loads(upper.stdout)["gaps"] == json.loads(lower.stdout)["gaps"] and json.loads(upper.stdout)["gaps"]
