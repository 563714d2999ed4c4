"""Code reach: a task that names the project's widely used code is harder than one naming code used once.

Real projects on disk (git repositories with Python, Go and TypeScript sources); the estimator and the CLI as
users call them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner.project import Project
from buildrunner.routing import code_reach as code_reach_module
from buildrunner.routing.code_reach import MAX_DEFINITIONS, code_reach, names_in
from buildrunner.routing.complexity_estimator import CODE_REACH_FACTOR, ComplexityEstimator
from buildrunner.routing.signals import SIMPLE_FLOOR_FACTOR

TASK = "Make `open_store` retry when the database is locked"


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def library(root: Path, callers: int) -> None:
    """A package whose `open_store` is defined once and called from `callers` other modules."""
    write(root, "app/store.py", "def open_store(url):\n    return connect(url)\n")
    for n in range(callers):
        write(root, f"app/feature_{n}.py", f"from app.store import open_store\n\n\ndef handler_{n}():\n    return open_store('db')\n")


def reach_factor(project: Project, description: str = TASK):
    _, factors = ComplexityEstimator(project, use_ai=False).score(description)
    return next((f for f in factors if f.name == CODE_REACH_FACTOR), None)


def score(project: Project, description: str = TASK) -> int:
    return ComplexityEstimator(project, use_ai=False).score(description)[0]


def other_project(tmp_path: Path, name: str) -> Project:
    root = tmp_path / name
    (root / ".buildrunner").mkdir(parents=True)
    return Project(root)


def test_the_same_task_scores_higher_where_the_named_code_is_used_widely(tmp_path: Path) -> None:
    wide, narrow, empty = (other_project(tmp_path, n) for n in ("wide", "narrow", "empty"))
    library(wide.paths.root, callers=40)
    library(narrow.paths.root, callers=1)
    assert score(wide) > score(narrow) > score(empty)
    factor = reach_factor(wide)
    assert factor is not None and factor.words == ("open_store",)
    assert "open_store (defined in app/store.py) is used in 41 of 41 source files" == factor.detail
    # what it adds is its weight, less what the floor on learned points no longer has to hold up
    floor = [sum(f.weight for f in ComplexityEstimator(p, use_ai=False).score(TASK)[1] if f.name == SIMPLE_FLOOR_FACTOR) for p in (wide, empty)]
    assert score(wide) - score(empty) == pytest.approx(factor.weight + floor[0] - floor[1], abs=1)
    assert reach_factor(empty) is None


@pytest.mark.parametrize("task", ["Add a docstring to `open_store`", "Fix the typo in the open_store error message", "Rename open_store to connect_store"])
def test_a_change_that_alters_no_behaviour_does_not_reach_the_callers(tmp_path: Path, task: str) -> None:
    wide, empty = other_project(tmp_path, "wide"), other_project(tmp_path, "empty")
    library(wide.paths.root, callers=40)
    factor = reach_factor(wide, task)
    assert factor is not None and factor.weight == 0 and "alters no behaviour" in factor.detail
    assert score(wide, task) == score(empty, task)


def test_tests_ignored_files_and_names_only_mentioned_do_not_count(tmp_project: Path, project: Project) -> None:
    library(tmp_project, callers=2)
    for n in range(30):  # a test calling it is not a caller to keep working
        write(tmp_project, f"tests/test_store_{n}.py", "from app.store import open_store\nopen_store('x')\n")
        write(tmp_project, f"generated/client_{n}.py", "open_store('x')\n")
    write(tmp_project, ".gitignore", "generated/\n")
    write(tmp_project, "app/notes.py", '"""The class OpenThing and the type FetchPlan are described here."""\n# def fetch_plan is planned\n')
    factor = reach_factor(project)
    assert factor is not None and "is used in 3 of 4 source files" in factor.detail
    # named in prose and comments only, never defined: not the project's code
    assert reach_factor(project, "Rework `fetch_plan` and OpenThing for the new FetchPlan API") is None


def test_a_name_defined_in_many_places_is_not_one_piece_of_code(tmp_project: Path, project: Project) -> None:
    for n in range(MAX_DEFINITIONS + 1):
        write(tmp_project, f"app/model_{n}.py", f"class Model{n}:\n    def save_all(self):\n        pass\n")
    assert reach_factor(project, "Make `save_all` transactional") is None
    write(tmp_project, "app/model_0.py", "class Model0:\n    pass\n")
    assert reach_factor(project, "Make `save_all` transactional") is not None


def test_names_in_pasted_code_are_the_reporters_not_the_tasks(tmp_project: Path, project: Project) -> None:
    library(tmp_project, callers=5)
    pasted = "The store gives up when the database is locked:\n\n```python\nstore = open_store(url)\n```\n"
    assert reach_factor(project, pasted) is None
    assert reach_factor(project, pasted + "\nMake open_store retry.") is not None


def test_other_languages_definitions_are_found(tmp_project: Path, project: Project) -> None:
    write(tmp_project, "server/auth.go", "package server\n\nfunc (s *Server) HandleLogin(w http.ResponseWriter) {\n}\n")
    write(tmp_project, "server/routes.go", "package server\n\n// HandleLogin is mounted here\nvar r = s.HandleLogin\n")
    write(tmp_project, "web/token.ts", "export async function parseToken(raw: string) {\n  return raw\n}\n")
    for n in range(3):
        write(tmp_project, f"web/page{n}.tsx", "import { parseToken } from './token'\nparseToken(document.cookie)\n")
    assert "HandleLogin (defined in server/auth.go) is used in 2 of" in reach_factor(project, "Rate-limit HandleLogin").detail
    assert "parseToken (defined in web/token.ts) is used in 4 of" in reach_factor(project, "Cache what parseToken returns").detail


@pytest.mark.parametrize(
    ("rel", "definition"),
    [
        ("web/auth.ts", "export const verifyToken = (raw: string) => raw\n"),
        ("web/auth.js", "function* verifyToken() {}\n"),
        ("lib/response.js", "res.verifyToken = function verifyToken(raw) {\n  return raw\n}\n"),
        ("web/session.ts", "export class Session {\n  async verifyToken(raw: string): Promise<boolean> {\n    return true\n  }\n}\n"),
        ("core/src/auth.rs", "pub(crate) fn verify_token(raw: &str) -> bool {\n    true\n}\n"),
        ("lib/auth.rb", "class Auth\n  def self.verify_token(raw)\n  end\nend\n"),
        ("app/Auth.kt", "object Auth {\n    suspend fun verifyToken(raw: String) = true\n}\n"),
        ("include/auth.h", "struct verify_token {\n    int ok;\n};\n"),
        ("src/auth.c", "#include \"auth.h\"\n\nstatic int\nverify_token(const char *raw)\n{\n    return 1;\n}\n"),
        ("src/auth.cpp", "bool Auth::verify_token(const std::string& raw) const {\n    return true;\n}\n"),
        ("src/main/java/Auth.java", "public class Auth {\n    public static Optional<User> verifyToken(String raw) throws AuthException {\n        return null;\n    }\n}\n"),
        ("Auth/Auth.cs", "public sealed class Auth\n{\n    public async Task<bool> verifyToken(string raw)\n    {\n        return true;\n    }\n}\n"),
        ("include/limits.h", "#define verify_token(x) ((x) > 0)\n"),
        ("src/token.c", "static int\nverify_token(const char *raw,\n             size_t len)\n{\n    return 1;\n}\n"),
        ("src/main/java/Tokens.java", "class Tokens {\n    static boolean verifyToken(String raw,\n                               int len) {\n        return true;\n    }\n}\n"),
    ],
)
def test_definitions_in_the_other_languages(tmp_project: Path, project: Project, rel: str, definition: str) -> None:
    write(tmp_project, rel, definition)
    name = "verifyToken" if "verifyToken" in definition else "verify_token"
    factor = reach_factor(project, f"Make {name} reject expired tokens")
    assert factor is not None and f"(defined in {rel})" in factor.detail


def test_uses_and_declarations_are_not_definitions(tmp_project: Path, project: Project) -> None:
    write(tmp_project, "include/device.h", "struct device_info {\n    int id;\n};\n")
    for n in range(12):  # each declares a variable of the struct and calls a function: uses, not definitions
        write(tmp_project, f"src/driver{n}.c", "#include \"device.h\"\nstruct device_info;\nstruct device_info *dev = probe();\n"
              "int reset_device(struct device_info *d);\nvoid run(void) {\n    reset_device(dev);\n}\n")
    write(tmp_project, "src/reset.c", "int reset_device(struct device_info *d)\n{\n    return 0;\n}\n")
    write(tmp_project, "src/bus.c", "void settle(void) {\n    reset_device(dev,\n                 1);\n}\n")  # a call over two lines is a use
    for n in range(12):  # documentation comments naming it are not definitions either
        write(tmp_project, f"include/doc{n}.h", "/*\n * reset_device() - puts the device back\n *\nreset_device() takes the bus lock\n */\n")
    write(tmp_project, "app/notes.py", '"""Notes.\n\nclass OpenThing and the rest are planned.\n"""\n')
    write(tmp_project, "web/calls.js", "openThing(a, function () {\n})\nopenThing(b, () => {\n})\nif (openThing(c)) {\n}\n")
    factor = reach_factor(project, "Add a flags field to struct device_info and make every caller set it")
    assert factor is not None and "device_info (defined in include/device.h) is used in 14 of" in factor.detail
    assert "reset_device (defined in src/reset.c) is used in 26 of" in reach_factor(project, "Make reset_device wait for the bus").detail
    assert reach_factor(project, "Rework OpenThing for the new API") is None
    assert reach_factor(project, "Rework openThing for the new API") is None  # calls with callbacks are not methods


def test_test_files_of_other_languages_are_not_callers(tmp_project: Path, project: Project) -> None:
    write(tmp_project, "server/auth.go", "package server\n\nfunc HandleLogin() {\n}\n")
    write(tmp_project, "web/token.ts", "export function parseToken(raw: string) {\n  return raw\n}\n")
    for n in range(5):
        write(tmp_project, f"server/auth{n}_test.go", "package server\n\nfunc TestLogin(t *testing.T) { HandleLogin() }\n")
        write(tmp_project, f"web/token{n}.test.ts", "import { parseToken } from './token'\nparseToken('x')\n")
        write(tmp_project, f"web/__tests__/page{n}.ts", "import { parseToken } from '../token'\nparseToken('x')\n")
    assert "is used in 1 of 2 source files" in reach_factor(project, "Rate-limit HandleLogin").detail
    assert "is used in 1 of 2 source files" in reach_factor(project, "Cache what parseToken returns").detail


def test_a_project_past_the_reading_limit_says_so(tmp_project: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_project, "app/base.py", "def open_store(url):\n    return connect(url)\n")  # walked first
    for n in range(30):
        write(tmp_project, f"app/feature_{n}.py", "from app.base import open_store\nopen_store('db')\n")
    monkeypatch.setattr(code_reach_module, "MAX_TOTAL_BYTES", 1_000)
    factor = reach_factor(project)
    assert factor is not None and "read (the rest not: the project is past the reading limits)" in factor.detail
    read = int(re.search(r"is used in (\d+) of (\d+) source files read", factor.detail).group(2))
    assert 1 < read < 31


def test_a_home_folder_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    library(home, callers=10)
    (home / ".buildrunner").mkdir()  # a user who once ran br in the home folder
    monkeypatch.setenv("HOME", str(home))
    with Project(home) as project:
        assert project.paths.found and reach_factor(project) is None


def test_unreadable_binary_and_huge_files_are_skipped(tmp_project: Path, project: Project) -> None:
    library(tmp_project, callers=1)
    (tmp_project / "app" / "blob.py").write_bytes(b"\0\x01open_store" * 10)
    (tmp_project / "app" / "latin.py").write_bytes("# caf\xe9\nopen_store()\n".encode("latin-1"))
    (tmp_project / "app" / "big.py").write_text("open_store()\n" + "x = 1\n" * 200_000, encoding="utf-8")
    os.mkfifo(tmp_project / "app" / "pipe.py")  # opening it would wait for a writer for ever
    (tmp_project / "app" / "loop.py").symlink_to(tmp_project / "app" / "loop.py")
    (tmp_project / "app" / "gone.py").symlink_to(tmp_project / "nowhere.py")
    factor = reach_factor(project)
    assert factor is not None and "is used in 3 of 3 source files" in factor.detail  # store, feature_0, latin


def test_a_folder_that_is_no_project_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    library(folder, callers=10)
    with Project(folder) as outside:
        assert not outside.paths.found and reach_factor(outside) is None
    (folder / ".git").mkdir()
    with Project(folder) as repository:
        assert reach_factor(repository) is not None


def test_the_setting_turns_it_off(tmp_project: Path, write_config) -> None:
    library(tmp_project, callers=10)
    write_config({"routing": {"code_reach": False}})
    with Project(tmp_project) as project:
        assert reach_factor(project) is None


def test_estimate_verbose_and_json_show_the_reach(tmp_project: Path, run_br) -> None:
    library(tmp_project, callers=6)
    text = run_br("routing", "estimate", TASK, "--verbose")
    assert text.returncode == 0, text.stderr
    assert re.search(r"• code reach: \+[\d.]+  \(words: open_store \(defined in app/store\.py\) is used in 7 of 7 source files\)", text.stdout)
    data = json.loads(run_br("routing", "estimate", TASK, "-f", "json", "-v").stdout)
    [factor] = [f for f in data["factors"] if f["name"] == "code reach"]
    assert factor["words"] == ["open_store"] and factor["weight"] > 0
    selected = json.loads(run_br("routing", "select", TASK, "-f", "json").stdout)
    assert selected["complexity_score"] == data["complexity_score"]  # select reads the same code


IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{3,12}", fullmatch=True)


@given(st.lists(IDENT, min_size=1, max_size=5), st.text(alphabet=st.characters(blacklist_characters="`"), max_size=60))
def test_every_backticked_name_is_read_and_nothing_not_in_the_text(names: list[str], prose: str) -> None:
    text = prose + " " + " and ".join(f"`{n}`" for n in names)
    found = names_in(text)
    assert set(names) <= set(found)
    assert all(n in text for n in found)


@given(st.text(max_size=200))
def test_names_are_whole_ascii_identifiers_of_the_text(text: str) -> None:
    for name in names_in(text):
        assert 4 <= len(name) <= 80 and name.isascii() and name.isidentifier()
        assert re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text), name  # a whole word, never a fragment


def test_plain_words_are_not_code(tmp_path: Path) -> None:
    assert names_in("Make the store retry when the Database is locked") == []
    assert names_in("Update the README and the HTTP section of CONTRIBUTING.md") == []
    assert names_in("Use QuerySet.filter and get_value, then __len__ and _combine") == ["QuerySet", "get_value", "__len__", "_combine"]
    # in backticks every part is a name
    assert names_in("Make `QuerySet.filter` and `save` faster") == ["QuerySet", "filter", "save"]
    assert names_in("Make größe_berechnen round half up") == []  # not ASCII: never a fragment of it
    assert names_in("token " + "a_" * 60 + " expired") == []  # a pasted token, not a name
    assert code_reach(tmp_path, "nothing code-shaped here") is None


def test_a_name_after_a_digit_is_a_fragment_not_a_name() -> None:
    """Hypothesis found "0A00_" read as the name A00_: the tail of a token is no name the project could define."""
    assert names_in("build 0A00_ and 9_private_thing then `0A00_` too") == []
    assert names_in("call _private_thing after 9 retries") == ["_private_thing"]
