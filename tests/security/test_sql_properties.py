"""Property-based tests of the SQL taint analyses and the ignore-rule walk.

Programs are generated statement by statement; a tiny interpreter written here (not the
analysis) says whether the value reaching the sink depends on request data. The analysis
must report the sink exactly when it does, whatever the mix of statements, and must
finish on any such program.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildrunner.project import Project
from buildrunner.security import SQLInjectionDetector

DETECTOR = SQLInjectionDetector(Project(Path(__file__).parent))
KINDS = ["const", "source", "sanitised", "concat", "fstring", "format", "join", "strip", "branch", "loop", "guard", "helper"]


@st.composite
def python_programs(draw: st.DrawFn) -> tuple[str, bool]:
    """(a Flask view whose last variable reaches cursor.execute, whether that variable holds request data)."""
    tainted: list[bool] = []
    body: list[str] = []
    count = draw(st.integers(1, 12))
    for i in range(count):
        kind = draw(st.sampled_from(KINDS if i else ["const", "source", "sanitised"]))
        j = draw(st.integers(0, max(i - 1, 0)))
        k = draw(st.integers(0, max(i - 1, 0)))
        v, vj, vk = f"v{i}", f"v{j}", f"v{k}"
        if kind == "const":
            body.append(f'{v} = "SELECT * FROM t WHERE c{i} = "')
            tainted.append(False)
        elif kind == "source":
            attribute = draw(st.sampled_from(['request.args["p"]', 'request.form.get("p")', 'request.get_json()["p"]', 'request.cookies["p"]']))
            body.append(f"{v} = {attribute}")
            tainted.append(True)
        elif kind == "sanitised":
            body.append(f'{v} = str(int(request.args["n"]))')
            tainted.append(False)
        elif kind == "concat":
            body.append(f'{v} = {vj} + " AND " + {vk}')
            tainted.append(tainted[j] or tainted[k])
        elif kind == "fstring":
            body.append(f"{v} = f\"{{{vj}}} AND b = '{{{vk}}}'\"")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "format":
            body.append(f'{v} = "{{}} OR {{}}".format({vj}, {vk})')
            tainted.append(tainted[j] or tainted[k])
        elif kind == "join":
            body.append(f'{v} = " ".join([{vj}, {vk}])')
            tainted.append(tainted[j] or tainted[k])
        elif kind == "strip":
            body.append(f"{v} = {vj}.strip()")
            tainted.append(tainted[j])
        elif kind == "branch":
            body.append(f"if request.args.get('flag'):\n        {v} = {vj}\n    else:\n        {v} = {vk}")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "loop":
            body.append(f"{v} = {vj}\n    for _ in range(3):\n        {v} += {vk}")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "guard":
            body.append(f'{v} = {vj} if {vj} in ("a", "b") else "a"')
            tainted.append(False)
        else:
            body.append(f"{v} = wrap({vj}, {vk})")
            tainted.append(tainted[j])
    lines = "\n    ".join(body)
    code = (
        "from flask import request\nimport sqlite3\ncur = sqlite3.connect('x').cursor()\n\n"
        "def wrap(a, b):\n    return 'SELECT ' + a\n\n"
        f"def view():\n    {lines}\n    cur.execute(v{count - 1})\n"
    )
    return code, tainted[-1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(python_programs())
def test_python_sink_is_reported_exactly_when_request_data_reaches_it(program: tuple[str, bool]) -> None:
    code, tainted = program
    sink_line = code.count("\n")
    at_sink = [f for f in DETECTOR.check_code(code) if f.line_number == sink_line]
    assert bool(at_sink) == tainted, code
    assert all(f.severity == "high" for f in at_sink)
    assert DETECTOR.last_report.skipped == []


@st.composite
def javascript_programs(draw: st.DrawFn) -> tuple[str, bool]:
    tainted: list[bool] = []
    body: list[str] = []
    count = draw(st.integers(1, 12))
    for i in range(count):
        kind = draw(st.sampled_from(["const", "source", "sanitised", "concat", "template", "join", "trim", "ternary", "guard"] if i else ["const", "source", "sanitised"]))
        j = draw(st.integers(0, max(i - 1, 0)))
        k = draw(st.integers(0, max(i - 1, 0)))
        v, vj, vk = f"v{i}", f"v{j}", f"v{k}"
        if kind == "const":
            body.append(f"const {v} = 'SELECT * FROM t WHERE c{i} = ';")
            tainted.append(False)
        elif kind == "source":
            body.append(f"const {v} = {draw(st.sampled_from(['req.query.p', 'req.params.p', 'req.body.p', 'req.query[`p`]']))};")
            tainted.append(True)
        elif kind == "sanitised":
            body.append(f"const {v} = String(parseInt(req.query.n, 10));")
            tainted.append(False)
        elif kind == "concat":
            body.append(f"const {v} = {vj} + ' AND ' + {vk};")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "template":
            body.append(f"const {v} = `${{{vj}}} AND b = '${{{vk}}}'`;")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "join":
            body.append(f"const {v} = [{vj}, {vk}].join(' ');")
            tainted.append(tainted[j] or tainted[k])
        elif kind == "trim":
            body.append(f"const {v} = {vj}.trim();")
            tainted.append(tainted[j])
        elif kind == "ternary":
            body.append(f"const {v} = req.query.flag ? {vj} : {vk};")
            tainted.append(tainted[j] or tainted[k])
        else:
            body.append(f"const {v} = ['a', 'b'].includes({vj}) ? {vj} : 'a';")
            tainted.append(False)
    lines = "\n  ".join(body)
    code = f"const {{ Pool }} = require('pg');\nconst pool = new Pool();\napp.get('/x', async (req, res) => {{\n  {lines}\n  await pool.query(v{count - 1});\n}});\n"
    return code, tainted[-1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(javascript_programs())
def test_javascript_sink_is_reported_exactly_when_request_data_reaches_it(program: tuple[str, bool]) -> None:
    code, tainted = program
    sink_line = code.count("\n") - 1
    at_sink = [f for f in DETECTOR.check_code(code, language="javascript") if f.line_number == sink_line]
    assert bool(at_sink) == tainted, code
    assert all(f.severity == "high" for f in at_sink)


OPERATIONS = st.sampled_from(["q = q + q", "q += q", "q = f'{q}{q}'", "q = '%s%s' % (q, q)", "q = ' '.join([q, q])", "q = q.format(q)", "q = (q, q)[0] + q"])


@settings(max_examples=60, deadline=None)
@given(st.lists(OPERATIONS, min_size=1, max_size=200))
def test_any_mix_of_doubling_operations_finishes_and_finds_the_sink(operations: list[str]) -> None:
    """Bounded values: however the text would grow, each step costs the same."""
    code = "import sqlite3\nq = 'SELECT * FROM t WHERE a = ' + input()\n" + "\n".join(operations) + "\nsqlite3.connect('x').execute(q)\n"
    findings = DETECTOR.check_code(code)
    assert [f.line_number for f in findings] == [code.count("\n")]


PATTERNS = st.sampled_from(["*.log", "build/", "/top.txt", "a*", "!keep.log", "d?/", "**/deep", "x/y", "*.py", "c/"])
NAMES = st.sampled_from(["a", "b", "c", "d1", "x", "y", "deep", "build", "keep.log", "top.txt", "m.py", "n.log"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=25), st.lists(st.tuples(st.lists(NAMES, max_size=3), st.lists(PATTERNS, min_size=1, max_size=3)), max_size=4))
def test_the_walks_ignore_chain_agrees_with_checking_every_ancestor(tmp_path_factory, paths, ignores) -> None:  # type: ignore[no-untyped-def]
    """The walk keeps one chain of .gitignore specs per folder (linear in depth); it must decide as checking each ancestor's file does."""
    from buildrunner.security.files import FileEntry, IgnoreRules, walk

    root = tmp_path_factory.mktemp("walk")
    files: set[str] = set()
    for parts, as_dir in paths:
        rel = "/".join(parts)
        target = root / rel
        if any(p.is_file() for p in [*target.parents][: len(parts) - 1]) or target.exists():
            continue
        if as_dir:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x\n")
            files.add(rel)
    for folder_parts, patterns in ignores:
        folder = root.joinpath(*folder_parts)
        if folder.exists() and folder.is_dir():
            (folder / ".gitignore").write_text("\n".join(patterns) + "\n")
    rules = IgnoreRules(root)
    for dirpath, _, _ in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rules.enter("" if rel_dir == "." else rel_dir, Path(dirpath))

    def expected(rel: str) -> bool:
        parts = rel.split("/")
        ancestors = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        return not any(rules.ignored(a, True) for a in ancestors) and not rules.ignored(rel, False)

    walked = {Path(e.path).relative_to(root).as_posix() for e in walk(root, root) if isinstance(e, FileEntry)}
    want = {f for f in files | {p.relative_to(root).as_posix() for p in root.rglob(".gitignore")} if expected(f)}
    assert walked == want
