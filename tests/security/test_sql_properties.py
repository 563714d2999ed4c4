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
# kind -> (Python statement, JavaScript statement or None, which inputs the new value holds):
# "" none, "source" request data, "j" / "jk" those of the earlier variables vj / vk.
KINDS = {
    "const": ('{v} = "SELECT * FROM t WHERE c = "', "const {v} = 'SELECT * FROM t WHERE c = ';", ""),
    "source": ("{v} = {source}", "const {v} = {source};", "source"),
    "sanitised": ('{v} = str(int(request.args["n"]))', "const {v} = String(parseInt(req.query.n, 10));", ""),
    "concat": ('{v} = {vj} + " AND " + {vk}', "const {v} = {vj} + ' AND ' + {vk};", "jk"),
    "template": ("{v} = f\"{{{vj}}} AND b = '{{{vk}}}'\"", "const {v} = `${{{vj}}} AND b = '${{{vk}}}'`;", "jk"),
    "join": ('{v} = " ".join([{vj}, {vk}])', "const {v} = [{vj}, {vk}].join(' ');", "jk"),
    "strip": ("{v} = {vj}.strip()", "const {v} = {vj}.trim();", "j"),
    "branch": (
        "if request.args.get('flag'):\n        {v} = {vj}\n    else:\n        {v} = {vk}",
        "const {v} = req.query.flag ? {vj} : {vk};",
        "jk",
    ),
    "guard": ('{v} = {vj} if {vj} in ("a", "b") else "a"', "const {v} = ['a', 'b'].includes({vj}) ? {vj} : 'a';", ""),
    "format": ('{v} = "{{}} OR {{}}".format({vj}, {vk})', None, "jk"),
    "loop": ("{v} = {vj}\n    for _ in range(3):\n        {v} += {vk}", None, "jk"),
    "helper": ("{v} = wrap({vj}, {vk})", None, "j"),
}
SOURCES = {
    "python": ['request.args["p"]', 'request.form.get("p")', 'request.get_json()["p"]', 'request.cookies["p"]'],
    "javascript": ["req.query.p", "req.params.p", "req.body.p", "req.query[`p`]"],
}
FRAME = {
    "python": (
        "from flask import request\nimport sqlite3\ncur = sqlite3.connect('x').cursor()\n\n"
        "def wrap(a, b):\n    return 'SELECT ' + a\n\ndef view():\n    {body}\n    cur.execute({last})\n"
    ),
    "javascript": "const {{ Pool }} = require('pg');\nconst pool = new Pool();\napp.get('/x', async (req, res) => {{\n  {body}\n  await pool.query({last});\n}});\n",
}


@st.composite
def programs(draw: st.DrawFn, language: str) -> tuple[str, bool]:
    """(a web handler whose last variable reaches the driver, whether that variable holds request data).

    The second element comes from following the statements here, not from the analysis.
    """
    column = 0 if language == "python" else 1
    kinds = [k for k, templates in KINDS.items() if templates[column] is not None]
    tainted: list[bool] = []
    body: list[str] = []
    count = draw(st.integers(1, 12))
    for i in range(count):
        kind = draw(st.sampled_from(kinds if i else ["const", "source", "sanitised"]))
        j, k = draw(st.integers(0, max(i - 1, 0))), draw(st.integers(0, max(i - 1, 0)))
        template, holds = KINDS[kind][column], KINDS[kind][2]
        body.append(template.format(v=f"v{i}", vj=f"v{j}", vk=f"v{k}", source=draw(st.sampled_from(SOURCES[language]))))  # type: ignore[union-attr]
        tainted.append(holds == "source" or ("j" in holds and tainted[j]) or ("k" in holds and tainted[k]))
    indent = "\n    " if language == "python" else "\n  "
    return FRAME[language].format(body=indent.join(body), last=f"v{count - 1}"), tainted[-1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs("python"))
def test_python_sink_is_reported_exactly_when_request_data_reaches_it(program: tuple[str, bool]) -> None:
    code, tainted = program
    sink_line = code.count("\n")
    at_sink = [f for f in DETECTOR.check_code(code) if f.line_number == sink_line]
    assert bool(at_sink) == tainted, code
    assert all(f.severity == "high" for f in at_sink)
    assert DETECTOR.last_report.skipped == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs("javascript"))
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
