"""The quality gate on real projects: scores move the right way with real inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildrunner.project import Project
from buildrunner.quality.gate import QualityGate


def check(root: Path, **kwargs: object):
    return QualityGate(Project(root)).check(**kwargs)


def documented(source: str) -> str:
    """CALC with a module docstring and a docstring in every function."""
    out = ['"""Arithmetic."""']
    for line in source.splitlines():
        out.append(line)
        if line.startswith("def "):
            out.append('    """Compute it."""')
    return "\n".join(out) + "\n"


def test_adding_docstrings_raises_documentation(calc: Path, calc_source: str) -> None:
    before = check(calc).category("Documentation")
    (calc / "calc.py").write_text(documented(calc_source))
    after = check(calc).category("Documentation")
    assert before.inputs["docstring_coverage"] == 0
    assert after.inputs["docstring_coverage"] == 100
    assert after.score > before.score


def test_readme_with_install_and_usage_raises_documentation(calc: Path) -> None:
    before = check(calc).category("Documentation").score
    (calc / "README.md").write_text("# Calc\n\n## Install\n\npip install calc\n\n## Usage\n\nadd(1, 2)\n")
    after = check(calc).category("Documentation")
    assert after.inputs["readme_covers_install"] and after.inputs["readme_covers_usage"]
    assert after.score == before + 20


def _coverage(root: Path, *args: str) -> None:
    env = {**os.environ, "COVERAGE_FILE": str(root / ".coverage")}
    subprocess.run([sys.executable, "-m", "coverage", *args], cwd=root, check=True, capture_output=True, env=env)


def test_real_coverage_json_sets_testing(calc: Path) -> None:
    _coverage(calc, "run", "--source=.", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    _coverage(calc, "json", "-o", "coverage.json")
    expected = json.loads((calc / "coverage.json").read_text())["totals"]["percent_covered"]
    testing = check(calc).category("Testing")
    assert testing.inputs["source"] == "coverage.json"
    assert testing.score == round(expected, 1)
    assert 0 < testing.score < 100  # mul and div are never called
    assert testing.basis.startswith("line coverage")


def test_coverage_xml_and_raw_data_file_are_read(calc: Path) -> None:
    _coverage(calc, "run", "--source=.", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    from_data = check(calc).category("Testing")
    assert from_data.inputs["source"] == ".coverage"
    _coverage(calc, "xml", "-o", "coverage.xml")
    from_xml = check(calc).category("Testing")
    assert from_xml.inputs["source"] == "coverage.xml"
    assert abs(from_xml.score - from_data.score) < 1


def test_without_coverage_data_testing_is_the_labelled_module_ratio(calc: Path, files) -> None:
    files(calc, {"untested.py": "def f() -> int:\n    return 1\n"})
    testing = check(calc).category("Testing")
    assert testing.basis == "tested-module ratio (no coverage data)"
    assert testing.inputs["untested"] == ["untested.py"]
    assert testing.score == 50


def test_a_test_file_named_for_a_module_tests_it_and_documentation_code_needs_none(calc: Path, files) -> None:
    """click's tests/test_termui.py tests click.termui through `import click`, httpx's tests/test_client.py its
    private `_client.py`, and flask's tests/test_app.py both `app.py` and `sansio/app.py` (a name two modules share
    counted for neither); Sphinx's documentation/conf.py and attrs' typing-examples/ are not library code."""
    files(calc, {
        "pkg/__init__.py": "from pkg.termui import echo\n",
        "pkg/termui.py": "def echo() -> int:\n    return 1\n",
        "pkg/util.py": "def u() -> int:\n    return 1\n",
        "other/util.py": "def v() -> int:\n    return 1\n",
        "tests/test_termui.py": "import pkg\n\n\ndef test_echo():\n    assert pkg.echo() == 1\n",
        "tests/test_util.py": "def test_nothing():\n    pass\n",
        "pkg/_client.py": "def get() -> int:\n    return 1\n",
        "tests/test_client.py": "def test_get():\n    pass\n",
        "pkg/helpers.py": "def h() -> int:\n    return 1\n",
        "tests/helpers.py": "VALUE = 1\n",  # a helper beside the tests is not a test of pkg.helpers
        "pkg/conf.py": "def c() -> int:\n    return 1\n",  # a library module named conf: not Sphinx's
        "documentation/conf.py": "project = 'x'\nextensions = []\n",
        "typing-examples/mypy.py": "x: int = 1\n",
    })
    untested = check(calc).category("Testing").inputs["untested"]
    assert not {"pkg/termui.py", "pkg/_client.py", "pkg/util.py", "other/util.py"} & set(untested)
    assert {"pkg/helpers.py", "pkg/conf.py"} <= set(untested)
    assert not [path for path in untested if path.startswith(("documentation/", "typing-examples/"))]


def test_names_a_plain_all_leaves_out_are_not_public_api(calc: Path, files) -> None:
    """`__all__ = ["loads"]` says what the module exports; once code adds to `__all__` later it no longer says it
    all, so every public name counts (an export decorator, `__all__ += [...]`)."""
    baseline = check(calc).category("Documentation").inputs["public_items"]
    files(calc, {"lib_a.py": '"""a"""\n__all__ = ["loads"]\n\n\ndef loads(s):\n    return s\n\n\ndef helper():\n    pass\n'})
    with_plain_all = check(calc).category("Documentation").inputs["public_items"]
    assert with_plain_all == baseline + 2  # the module and loads(); helper() is not exported
    files(calc, {"lib_b.py": '"""b"""\n__all__ = ["dumps"]\n__all__ += ["helper"]\n\n\ndef dumps(s):\n    return s\n\n\ndef helper():\n    pass\n'})
    assert check(calc).category("Documentation").inputs["public_items"] == with_plain_all + 3  # the module, dumps(), helper()


def test_stale_coverage_data_is_a_warning(calc: Path) -> None:
    _coverage(calc, "run", "--source=.", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    _coverage(calc, "json", "-o", "coverage.json")
    later = (calc / "coverage.json").stat().st_mtime + 10
    os.utime(calc / "calc.py", (later, later))
    report = check(calc)
    assert any("older than the code" in w for w in report.warnings)


@pytest.mark.slow
def test_run_coverage_measures_the_suite(calc: Path, run_br) -> None:
    result = run_br("quality", "check", "--run-coverage", "--format", "json")
    data = json.loads(result.stdout)
    testing = next(c for c in data["categories"] if c["name"] == "Testing")
    assert testing["inputs"]["source"] == ".buildrunner/coverage/.coverage"
    assert testing["inputs"]["exit_code"] == 0
    assert "pytest" in testing["inputs"]["command"]
    assert 0 < testing["score"] < 100
    assert (calc / ".buildrunner" / "coverage").stat().st_mode & 0o777 == 0o700  # private, as the rest of .buildrunner/


@pytest.mark.slow
def test_run_coverage_outside_a_buildrunner_project_records_nothing_there(calc: Path, run_br) -> None:
    """The gate records nothing in a folder that is not a BuildRunner project: --run-coverage made `.buildrunner/`
    (then the folder counted as a project) and left an untracked coverage file for `git add -A`."""
    shutil.rmtree(calc / ".buildrunner")
    result = run_br("quality", "check", "--run-coverage", "--format", "json")
    testing = next(c for c in json.loads(result.stdout)["categories"] if c["name"] == "Testing")
    assert testing["inputs"]["exit_code"] == 0 and 0 < testing["score"] < 100
    assert "not kept" in testing["inputs"]["source"] and "br-coverage-" not in testing["basis"]  # no path to a folder that is gone
    assert not (calc / ".buildrunner").exists()
    assert subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=calc, capture_output=True, text=True).stdout.count("coverage") == 0


@pytest.mark.parametrize("percent", [150, -20])
def test_a_coverage_figure_outside_0_to_100_is_unreadable_not_a_score(calc: Path, percent: float) -> None:
    (calc / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": percent}}))
    report = check(calc)
    testing = report.category("Testing")
    assert 0 <= testing.score <= 100 and report.overall is not None and 0 <= report.overall <= 100
    assert any("coverage.json" in w and "not a coverage figure" in w for w in report.notes)


@pytest.mark.slow
def test_a_failing_suite_fails_testing_whatever_its_coverage(calc: Path, files, run_br) -> None:
    """`assert add(1, 2) == 4` scored Testing 100 with a warning and exit 0: coverage of a failing suite is no pass."""
    files(calc, {"tests/test_calc.py": "from calc import add, sub\n\n\ndef test_add():\n    assert sub(3, 1) == 2\n    assert add(1, 2) == 4\n"})
    result = run_br("quality", "check", "--run-coverage", "--format", "json")
    assert result.returncode == 4
    testing = next(c for c in json.loads(result.stdout)["categories"] if c["name"] == "Testing")
    assert testing["status"] == "fail" and testing["inputs"]["exit_code"] == 1 and "the tests failed (exit 1)" in testing["basis"]
    assert any("assert 3 == 4" in w and "1 failed" in w for w in json.loads(result.stdout)["warnings"])  # why it failed


@pytest.mark.slow
def test_run_coverage_counts_modules_no_test_imports_and_not_the_tests(tmp_project: Path, files, monkeypatch: pytest.MonkeyPatch) -> None:
    """a.py tested, b.py's 50 functions never imported: Testing said 100 (only what ran was measured, the test file
    included) where `coverage report --omit='tests/*'` says 1 %. Run from a subfolder, with coverage's relative_files
    (the data names files relative to the root), it said 0."""
    untested = "\n\n".join(f"def g{i}(x: int) -> int:\n    y = x + {i}\n    return y" for i in range(50)) + "\n"
    files(tmp_project, {
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n\n[tool.coverage.run]\nrelative_files = true\n',
        "a.py": "def f() -> int:\n    return 1\n",
        "b.py": untested,
        "tests/test_a.py": "from a import f\n\n\ndef test_f():\n    assert f() == 1\n",
    })
    monkeypatch.chdir(tmp_project / "tests")
    testing = check(tmp_project, run_coverage=True).category("Testing")
    assert testing.inputs["exit_code"] == 0
    assert (testing.inputs["covered_lines"], testing.inputs["total_lines"]) == (2, 2 + 150)  # a.py's and b.py's statements only
    assert testing.score == 1.3 and testing.status == "fail"


@pytest.mark.slow
def test_a_suite_that_cannot_be_collected_says_why_and_scores_no_coverage(calc: Path, files) -> None:
    """`exited 2 (failing or no tests)` gave no cause, and Testing a figure from what collecting imported."""
    files(calc, {"tests/test_calc.py": "import app\n\n\ndef test_add():\n    assert app.add(1, 2) == 3\n"})
    report = check(calc, run_coverage=True)
    testing = report.category("Testing")
    assert testing.inputs["exit_code"] == 2 and testing.status == "fail" and testing.score == 0
    assert "No module named 'app'" in testing.basis
    assert any("exited 2" in w and "ModuleNotFoundError: No module named 'app'" in w for w in report.warnings)


def test_complex_function_and_import_cycle_lower_structure(tmp_project: Path, files) -> None:
    simple = "\n\n".join(f"def f{i}(x: int) -> int:\n    return x + {i}" for i in range(4)) + "\n"
    files(tmp_project, {"pkg/__init__.py": "", "pkg/a.py": simple, "pkg/b.py": simple})
    before = check(tmp_project).category("Structure")
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(15))
    files(
        tmp_project,
        {
            "pkg/a.py": "from pkg import b\n\n" + simple + f"\n\ndef tangled(x: int) -> int:\n{branches}    return -1\n",
            "pkg/b.py": "from pkg import a\n\n" + simple,
        },
    )
    report = check(tmp_project)
    after = report.category("Structure")
    assert before.score == 100
    assert after.score < before.score
    assert after.inputs["too_complex"] == ["pkg/a.py:16 tangled (cc 16)"]
    assert after.inputs["import_cycles"] == ["pkg.a -> pkg.b -> pkg.a"]
    assert any("import cycle" in w for w in report.warnings)


def test_an_import_under_the_main_guard_makes_no_import_cycle(tmp_project: Path, files) -> None:
    """`if __name__ == "__main__":` runs when the file is run, not imported (rich's pager imports its __main__ so)."""
    files(
        tmp_project,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n\nVALUE = 1\n",
            "pkg/b.py": "VALUE = 2\n\nif __name__ == \"__main__\":\n    from pkg import a\n\n    print(a.VALUE)\n",
            "pkg/c.py": "from pkg import d\n",
            "pkg/d.py": "if \"__main__\" == __name__:\n    pass\nelse:\n    from pkg import c\n",  # the else branch runs on import
        },
    )
    assert check(tmp_project).category("Structure").inputs["import_cycles"] == ["pkg.c -> pkg.d -> pkg.c"]


def _branchy(functions: int, branches: int) -> str:
    """Functions of `branches` ifs each: 14 of 4 make a module radon gives MI 19.72, rank A (its A is above 19)."""
    body = "\n".join(f"    if x == {j}:\n        y = x * {j} + {{i}}" for j in range(branches))
    return "\n\n".join(f"def f{i}(x):\n    y = 0\n{body.format(i=i)}\n    return y\n" for i in range(functions))


TRICKY = '''"""Module docstring
over two lines."""
import os  # a comment

TABLE = {"a": 1, "b": (2,
    3)}  # colons in a literal are logical lines to radon


def f(x: int) -> int:
    """One line."""
    if x: return 1
    y = 1; z = 2
    total = y + \\
        z
    """A string statement
    on two lines."""
    # a lone comment
    return total + len(os.sep)
'''


@pytest.mark.parametrize("name", ["branchy", "tricky", "textwrap.py", "json/decoder.py", "shlex.py"])
def test_maintainability_index_is_radons_mi_visit(tmp_path: Path, name: str) -> None:
    """br's figure was up to 5 points off `radon mi -s` (flask's app.py: 19.9 against 23.42): its own line counts."""
    from radon.metrics import mi_visit

    from buildrunner.quality.metrics import measure_python
    from buildrunner.quality.sources import SourceFile

    stdlib = Path(os.path.dirname(os.__file__))
    text = {"branchy": _branchy(14, 4), "tricky": TRICKY}.get(name) or (stdlib / name).read_text(encoding="utf-8")
    path = tmp_path / "module.py"
    path.write_text(text, encoding="utf-8")
    measured = measure_python(SourceFile(path, path.name, path.stem, False, False))
    assert measured.maintainability == round(mi_visit(text, True), 2)


def test_a_module_radon_ranks_a_counts_as_maintainable(tmp_project: Path, files) -> None:
    """MI 19.72 is radon's rank A (above 19); the gate's own cut-off (20) called it low."""
    files(tmp_project, {"branchy.py": _branchy(14, 4)})
    structure = check(tmp_project).category("Structure")
    assert structure.inputs["mean_maintainability_index"] == 19.7
    assert structure.inputs["low_maintainability"] == [] and structure.inputs["components"]["maintainability"] == 100


def test_hardcoded_secret_lowers_security(calc: Path, files, fake_aws_key: str) -> None:
    clean = check(calc).category("Security")
    files(calc, {"settings.py": f'KEY = "{fake_aws_key}"\n'})
    dirty = check(calc).category("Security")
    assert clean.score == 100
    assert dirty.score < clean.score
    assert dirty.inputs["findings_by_severity"]["high"] == 1
    assert dirty.inputs["findings"][0]["location"] == "settings.py:1"
    assert fake_aws_key not in json.dumps(dirty.inputs)


def test_a_file_too_big_to_scan_is_never_read_as_clean(calc: Path, files, fake_aws_key: str, quality_config, run_br) -> None:
    """Nothing is skipped silently: a secret in a file over security.max_file_size_mb would go unseen."""
    (calc / ".buildrunner").mkdir(exist_ok=True)
    config = calc / ".buildrunner" / "config.json"
    data = json.loads(config.read_text()) if config.exists() else {}
    config.write_text(json.dumps({**data, "security": {"max_file_size_mb": 0.01}}))
    files(calc, {"settings.py": f'KEY = "{fake_aws_key}"\n' + "# padding\n" * 2000})
    security = check(calc).category("Security")
    assert security.score < 100
    [finding] = security.inputs["findings"]
    assert (finding["location"], finding["kind"]) == ("settings.py:1", "not-scanned") and "larger than" in finding["title"] + json.dumps(finding)
    gaps = json.loads(run_br("gaps", "analyze", "--format", "json").stdout)["gaps"]
    assert [g["category"] for g in gaps if g["path"] == "settings.py" and g["category"] == "not-scanned"] == ["not-scanned"]
    assert fake_aws_key not in run_br("quality", "check", "--format", "json").stdout


def test_other_languages_are_counted_not_scored(tmp_project: Path, files) -> None:
    files(tmp_project, {"web/app.js": "function f() {\n  return 1;\n}\n", "web/util.ts": "export const x = 1;\n"})
    report = check(tmp_project)
    assert {c.language: c.files for c in report.not_analysed} == {"JavaScript": 1, "TypeScript": 1}
    for name in ("Testing", "Documentation", "Structure"):
        category = report.category(name)
        assert category.score is None and category.status == "not analysed"
    assert report.passed
    assert any("JavaScript" in note for note in report.notes)


def test_gitignored_and_virtualenv_code_is_left_out(calc: Path, files) -> None:
    baseline = check(calc).category("Documentation").inputs["public_items"]
    files(calc, {"generated/gen.py": "def g():\n    pass\n", ".gitignore": "generated/\n", ".venv/lib/x.py": "def v():\n    pass\n"})
    (calc / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    assert check(calc).category("Documentation").inputs["public_items"] == baseline


def test_fifos_and_links_named_like_code_are_not_read(calc: Path, files) -> None:
    """A FIFO named b.py blocked the gate for ever; `z.py -> /dev/zero` ran it out of memory; a dangling link was a
    syntax error. Only regular files are the project's code (a link to one inside it is read by the file's own path)."""
    files(calc, {"real.py": "def real():\n    pass\n"})
    baseline = check(calc).category("Documentation").inputs["public_items"]
    os.mkfifo(calc / "b.py")
    (calc / "z.py").symlink_to("/dev/zero")
    (calc / "passwd.py").symlink_to("/etc/passwd")
    (calc / "dangling.py").symlink_to(calc / "nowhere.py")
    (calc / "again.py").symlink_to(calc / "real.py")
    report = check(calc)  # returns: nothing blocks on the FIFO
    assert report.category("Documentation").inputs["public_items"] == baseline  # real.py once, not again.py too
    assert not [w for w in report.warnings if "syntax" in w or "cannot be read" in w]


def test_a_tracked_file_counts_though_gitignore_names_it(calc: Path, files) -> None:
    """git ignores .gitignore for the files it tracks (a committed file under a `*_gen.py` pattern), and so does the gate."""
    files(calc, {".gitignore": "*_gen.py\n", "api_gen.py": "def tracked():\n    pass\n", "tmp_gen.py": "def untracked():\n    pass\n"})
    def public_items() -> int:
        return check(calc).category("Documentation").inputs["public_items"]

    baseline = public_items()
    subprocess.run(["git", "add", "-f", "api_gen.py"], cwd=calc, check=True)
    one = public_items()
    assert one > baseline  # the tracked file is read; the untracked one under the same pattern still is not:
    subprocess.run(["git", "add", "-f", "tmp_gen.py"], cwd=calc, check=True)
    assert public_items() == one + (one - baseline)


def test_cli_exits_4_below_threshold_and_0_when_met(calc: Path, run_br, quality_config) -> None:
    failing = run_br("quality", "check")
    assert failing.returncode == 4
    assert "Quality Gate Results" in failing.stdout and "Overall Score:" in failing.stdout
    assert "Documentation" in failing.stderr  # names the category below its threshold
    quality_config(calc, thresholds={"security": 0, "testing": 0, "documentation": 0, "structure": 0})
    passing = run_br("quality", "check", "--format", "json")
    assert passing.returncode == 0, passing.stderr
    data = json.loads(passing.stdout)
    assert data["passed"] is True
    assert [c["name"] for c in data["categories"]] == ["Security", "Testing", "Documentation", "Structure"]
    assert all("inputs" in c and "threshold" in c for c in data["categories"])


def test_cli_strict_fails_on_warnings(calc: Path, run_br, files, quality_config) -> None:
    quality_config(calc, thresholds={"security": 0, "testing": 0, "documentation": 0, "structure": 0})
    files(calc, {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "from pkg import a\n"})
    assert run_br("quality", "check").returncode == 0
    strict = run_br("quality", "check", "--strict")
    assert strict.returncode == 4
    assert "strict" in strict.stderr
    assert "Overall Score:" in strict.stdout and "❌" in strict.stdout.splitlines()[2]
    verdict = run_br("quality", "check", "--strict", "--format", "json")
    assert verdict.returncode == 4 and json.loads(verdict.stdout)["passed"] is False  # the JSON says what the exit code says


def test_a_project_with_no_python_to_grade_says_so_and_fails_strict(run_br, tmp_project: Path, files) -> None:
    files(tmp_project, {"web/app.js": "// TODO: everything\nthrow new Error('not implemented');\n"})
    plain = run_br("quality", "check", "--format", "json")
    assert any("no Python source found" in w for w in json.loads(plain.stdout)["warnings"])
    assert run_br("quality", "check", "--strict").returncode == 4


def test_cli_bad_threshold_is_a_config_error(calc: Path, run_br, quality_config) -> None:
    quality_config(calc, thresholds={"testing": 150})
    result = run_br("quality", "check")
    assert result.returncode == 2
    assert "testing" in result.stderr and "Traceback" not in result.stderr


def test_nested_gitignore_and_configured_excludes_are_left_out(calc: Path, files, quality_config) -> None:
    baseline = check(calc).category("Documentation").inputs["public_items"]
    files(
        calc,
        {
            "pkg/sub/.gitignore": "gen_*.py\n",
            "pkg/sub/gen_a.py": "def g():\n    pass\n",
            "pkg/sub/kept.py": "def k():\n    pass\n",
            "vendor/lib.py": "def v():\n    pass\n",
        },
    )
    quality_config(calc, exclude=["vendor/"])
    undocumented = check(calc).category("Documentation").inputs["undocumented"]
    assert [u for u in undocumented if not u.startswith("calc.py")] == ["pkg/sub/kept.py:1 module", "pkg/sub/kept.py:1 k"]
    assert check(calc).category("Documentation").inputs["public_items"] == baseline + 2


def test_security_ignores_virtualenvs_and_gitignored_files(calc: Path, files, fake_aws_key: str) -> None:
    files(calc, {"env_x/lib/site.py": f'KEY = "{fake_aws_key}"\n', "local.secrets": f"{fake_aws_key}\n", ".gitignore": "local.secrets\n"})
    (calc / "env_x" / "pyvenv.cfg").write_text("home = /usr\n")
    assert check(calc).category("Security").inputs["findings_by_severity"]["high"] == 0
    files(calc, {"app_settings.py": f'KEY = "{fake_aws_key}"\n'})
    assert check(calc).category("Security").inputs["findings"][0]["location"] == "app_settings.py:1"


def test_cli_text_marks_unanalysed_categories_and_languages(tmp_project: Path, files, run_br) -> None:
    files(tmp_project, {"web/app.js": "function f() {\n  return 1;\n}\n"})
    result = run_br("quality", "check")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 5}
    assert "not analysed" in rows["Testing"] and "not analysed" in rows["Structure"]
    assert "note: not analysed: JavaScript (1 file, 3 lines)" in result.stdout
