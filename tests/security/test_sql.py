"""SQLInjectionDetector: Python data flow through `ast`, JS/TS through tree-sitter, bandit's labelled sample."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from buildrunner.project import Project
from buildrunner.security import SQLFinding, SQLInjectionDetector


@pytest.fixture
def detector(tmp_project: Path) -> SQLInjectionDetector:
    return SQLInjectionDetector(Project(tmp_project))


def lines(findings: list[SQLFinding]) -> list[int]:
    return [f.line_number for f in findings]


def test_spec_example(detector: SQLInjectionDetector) -> None:
    code = '\nquery = f"SELECT * FROM users WHERE id={user_id}"\ncursor.execute(query)\n'
    [f] = detector.check_code(code, language="python")
    assert f.line_number == 3 and f.severity == "medium"  # user_id's origin is unknown: not proven untrusted
    assert "f-string" in f.description and "line 2" in f.description
    assert "%s" in f.recommendation and "(value,)" in f.recommendation


def test_spec_example_with_request_data_is_high(detector: SQLInjectionDetector) -> None:
    code = 'from flask import request\nuser_id = request.args["id"]\nquery = f"SELECT * FROM users WHERE id={user_id}"\ncursor.execute(query)\n'
    [f] = detector.check_code(code)
    assert (f.line_number, f.severity) == (4, "high") and "request.args" in f.description


@pytest.mark.parametrize(
    "build",
    [
        'q = "SELECT * FROM t WHERE id = %s" % uid',
        'q = "SELECT * FROM t WHERE id = {}".format(uid)',
        'q = "SELECT * FROM t WHERE id = " + uid',
        'q = " ".join(["SELECT * FROM t WHERE id =", uid])',
        'q = "SELECT * FROM t"\n    q += " WHERE id = " + uid',
        'base = "SELECT * FROM t WHERE id = "\n    q = base + str(uid)',
    ],
)
@pytest.mark.parametrize(("header", "severity"), [("def load(cur, uid):", "medium"), ("def load(cur, request):\n    uid = request.GET['id']", "high")])
def test_python_builders_reaching_execute_through_variables(detector: SQLInjectionDetector, build: str, header: str, severity: str) -> None:
    code = f"{header}\n    {build}\n    cur.execute(q)\n"
    findings = detector.check_code(code)
    assert lines(findings) == [code.count("\n")] and findings[0].severity == severity


@pytest.mark.parametrize(
    "sink",
    [
        "conn.executescript(q)",
        "cur.executemany(q, rows)",
        "cur.mogrify(q)",
        "User.objects.raw(q)",
        "qs.extra(where=[q])",
        "RawSQL(q, ())",
        "sqlalchemy.text(q)",
        "text(q)",
        "conn.exec_driver_sql(q)",
        "pd.read_sql(q, con)",
        "pandas.read_sql_query(q, con)",
    ],
)
def test_every_sink_kind(detector: SQLInjectionDetector, sink: str) -> None:
    code = f'def f(con, uid, rows, qs, conn, cur):\n    q = f"DELETE FROM t WHERE id = {{uid}}"\n    {sink}\n'
    assert lines(detector.check_code(code)) == [3]


@pytest.mark.parametrize(
    "safe",
    [
        'cur.execute("SELECT * FROM t WHERE id = ?", (uid,))',
        'cur.execute("SELECT * FROM t WHERE id = %(id)s", {"id": uid})',
        'ph = ", ".join("?" for _ in ids)\n    cur.execute(f"SELECT * FROM t WHERE id IN ({ph})", ids)',
        'ph = ",".join(["%s"] * len(ids))\n    cur.execute("SELECT * FROM t WHERE id IN (%s)" % ph, ids)',
        'TABLE = "users"\n    cur.execute(f"SELECT * FROM {TABLE} WHERE id = ?", (uid,))',
        'cur.execute(f"SELECT * FROM t LIMIT {int(n)}")',
        'msg = f"Select {n} items from the list"',
        'print(f"Please select one from {ids}")',
        'label = _("Select from active instances")',
        'cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(tbl)), (uid,))',
        'logger.info("delete from the cache as the first argument %s" % uid)',
        'chars = tbl + "abc"\n    st.text(chars, min_size=1)\n    text(chars, min_size=1)\n    resp.raw(chars)',
    ],
)
def test_parameterised_and_constant_queries_are_not_findings(detector: SQLInjectionDetector, safe: str) -> None:
    code = f"def f(cur, uid, ids, n, tbl, logger):\n    {safe}\n"
    assert detector.check_code(code) == []


def test_sql_built_without_a_visible_sink_is_medium(detector: SQLInjectionDetector) -> None:
    [f] = detector.check_code('def f(name):\n    return "UPDATE users SET name = \'%s\'" % name\n')
    assert f.severity == "medium" and f.line_number == 2


def test_scopes_are_separate(detector: SQLInjectionDetector) -> None:
    code = 'def a(x):\n    q = f"SELECT * FROM t WHERE id = {x}"\n    return 1\n\ndef b(cur):\n    q = "SELECT 1"\n    cur.execute(q)\n'
    assert lines(detector.check_code(code)) == [2]


def test_nosec_and_br_allow_silence_a_line(detector: SQLInjectionDetector) -> None:
    code = 'cur.execute(f"SELECT * FROM t WHERE id = {x}")  # nosec\ncur.execute(f"SELECT * FROM t WHERE id = {x}")  # br:allow\n'
    assert detector.check_code(code) == []


def test_unparsable_python_is_skipped_with_a_note(detector: SQLInjectionDetector, tmp_project: Path) -> None:
    (tmp_project / "py2.py").write_text('print "SELECT * FROM t WHERE id = %s" % x\n')
    assert detector.check_directory() == []
    assert detector.last_report.skipped[0].reason == "not analysed: not parsable as python (SyntaxError at line 1)"


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("javascript", "const q = `SELECT * FROM users WHERE id = ${req.params.id}`;\ndb.query(q);\n", [2]),
        ("javascript", 'db.query("SELECT * FROM users WHERE name = \'" + name + "\'");\n', [1]),
        ("typescript", "await prisma.$queryRawUnsafe(`SELECT * FROM users WHERE id = ${id}`);\n", [1]),
        ("typescript", "let q: string = 'SELECT * FROM t WHERE a = ';\nq += userInput;\nawait knex.raw(q);\n", [3]),
        ("tsx", "const run = () => conn.execute(`DELETE FROM t WHERE id = ${id}`);\n", [1]),
        ("javascript", "db.query('SELECT * FROM users WHERE id = $1', [id]);\n", []),
        ("typescript", "await prisma.$queryRaw`SELECT * FROM users WHERE id = ${id}`;\n", []),
        ("javascript", "const rows = await sql`SELECT * FROM users WHERE id = ${id}`;\n", []),
        ("javascript", "const q = `SELECT * FROM users`;\ndb.query(q);\n", []),
        ("javascript", "el.textContent = `Select ${n} items from the list`;\n", []),
        ("javascript", "const m = /^id=(\\d+)$/.exec('id=' + input);\nclient.query(`page=${n}`);\n", []),
        ("typescript", "await knex('t').whereRaw(`name = '${name}'`);\n", [1]),
    ],
)
def test_javascript_and_typescript(detector: SQLInjectionDetector, language: str, code: str, expected: list[int]) -> None:
    assert lines(detector.check_code(code, language=language)) == expected


def test_check_file_picks_the_language_from_the_extension(detector: SQLInjectionDetector, tmp_project: Path) -> None:
    (tmp_project / "a.ts").write_text("db.query(`SELECT * FROM t WHERE id = ${id}`);\n")
    (tmp_project / "a.py").write_text('cur.execute("SELECT * FROM t WHERE id = " + uid)\n')
    (tmp_project / "notes.txt").write_text('cur.execute("SELECT * FROM t WHERE id = " + uid)\n')
    assert [(f.file_path, f.line_number) for f in detector.check_directory()] == [("a.py", 1), ("a.ts", 1)]


def test_the_scripts_of_component_and_page_files_are_read_at_their_own_lines(detector: SQLInjectionDetector, tmp_project: Path) -> None:
    """A Vue or Svelte component's <script> and an HTML page's were not read for SQL (nor said to be skipped)."""
    (tmp_project / "Users.vue").write_text(
        "<template>\n  <div>{{ rows }}</div>\n</template>\n\n<script setup lang=\"ts\">\nconst route = useRoute()\n"
        "const rows = await db.query(`SELECT * FROM users WHERE name = '${route.query.name}'`)\n</script>\n"
    )
    (tmp_project / "List.svelte").write_text("<script>\n  export let id;\n  db.query('SELECT * FROM t WHERE id = ' + id);\n</script>\n<p>{id}</p>\n")
    (tmp_project / "page.html").write_text(
        '<html><body>\n<script type="application/json">{"q": "SELECT * FROM t WHERE id = " + id}</script>\n'
        "<script>\nconst { Pool } = require('pg');\napp.get('/x', async (req, res) => { await pool.query('SELECT * FROM t WHERE id = ' + req.params.id); });\n"
        "</script>\n<p>db.query('SELECT ' + x) is an example</p>\n</body></html>\n"
    )
    found = [(f.file_path, f.line_number, f.severity) for f in detector.check_directory()]
    assert found == [("List.svelte", 3, "medium"), ("Users.vue", 7, "medium"), ("page.html", 5, "high")]
    assert not [s for s in detector.last_report.skipped if s.path.endswith((".vue", ".svelte", ".html"))]


def _bandit_sample(tmp_path: Path) -> str:
    """bandit's examples/sql_statements.py from its sdist (pip download), or skip outside CI."""
    cached = os.environ.get("BANDIT_SDIST")
    if cached and Path(cached).is_file():
        sdist = Path(cached)
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "bandit", "--no-deps", "--no-binary", ":all:", "-d", str(tmp_path), "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        found = sorted(tmp_path.glob("bandit-*.tar.gz"))
        if proc.returncode != 0 or not found:
            if os.environ.get("CI"):
                pytest.fail(f"could not download bandit's sdist: {proc.stderr.strip()[-300:]}")
            pytest.skip("bandit's sdist is not downloadable here (no network); set BANDIT_SDIST to a local copy")
        sdist = found[0]
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("examples/sql_statements.py"))
        return tar.extractfile(member).read().decode()  # type: ignore[union-attr]


def _labelled(source: str) -> dict[int, str]:
    """The sample's labels, parsed by the public check script (bench/security_bandit_sample.py)."""
    import importlib.util

    script = Path(__file__).parents[2] / "bench" / "security_bandit_sample.py"
    spec = importlib.util.spec_from_file_location("security_bandit_sample", script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.labelled(source)


@pytest.mark.slow
def test_bandit_labelled_sample(detector: SQLInjectionDetector, tmp_path: Path) -> None:
    source = _bandit_sample(tmp_path)
    labels = _labelled(source)
    bad = {n for n, label in labels.items() if label == "bad"}
    good = {n for n, label in labels.items() if label == "good"}
    found = set(lines(detector.check_code(source)))
    assert len(bad) >= 20 and len(good) >= 6
    assert bad <= found, f"missed bad lines {sorted(bad - found)}"
    assert not (good & found), f"flagged good lines {sorted(good & found)}"


def test_loop_variable_is_not_its_earlier_constant(detector: SQLInjectionDetector) -> None:
    code = 'def f(cur, names):\n    name = "users"\n    for name in names:\n        cur.execute("DELETE FROM " + name)\n'
    assert lines(detector.check_code(code)) == [4]


@pytest.mark.parametrize(
    ("language", "call"),
    [
        ("python", 'c.execute(\n    f"SELECT * FROM t WHERE n = {name}"<A>\n)<B>\n'),
        ("javascript", "db.query(\n  `SELECT * FROM t WHERE n = ${name}`<A>\n)<B>;\n"),
    ],
)
def test_br_allow_counts_on_any_line_of_a_call_spread_over_several(detector: SQLInjectionDetector, language: str, call: str) -> None:
    """Formatters spread a call over lines; the comment goes where the reviewer looked, not only on the first line."""
    head = "def f(c, name):\n" if language == "python" else "function f(db, name) {\n"
    indent = "    " if language == "python" else "  "
    comment = "  # br:allow" if language == "python" else "  // br:allow"

    def code(a: str, b: str) -> str:
        return head + "".join(indent + line + "\n" for line in call.replace("<A>", a).replace("<B>", b).splitlines()) + ("" if language == "python" else "}\n")

    assert len(detector.check_code(code("", ""), language=language)) == 1
    assert detector.check_code(code(comment, ""), language=language) == []
    assert detector.check_code(code("", comment), language=language) == []


def test_br_allow_inside_a_callback_of_the_call_does_not_hide_its_sql(detector: SQLInjectionDetector) -> None:
    """The comment must sit on the call, its SQL argument or its closing line: a callback's body is other code."""
    code = (
        "function f(connection, req) {\n"
        '  connection.query("SELECT * FROM users WHERE id = " + req.params.id, function (err, rows) {\n'
        "    if (err) throw err;\n"
        "    other(); // br:allow\n"
        "  });\n"
        "}\n"
    )
    assert [f.line_number for f in detector.check_code(code, language="javascript")] == [2]
    python = 'def f(c, name):\n    c.execute(\n        f"SELECT * FROM t WHERE n = {name}",\n        params(),  # nosec - about params()\n    )\n'
    assert [f.line_number for f in detector.check_code(python)] == [2]


def test_a_findings_fingerprint_survives_lines_added_above_it(tmp_project: Path) -> None:
    """The fingerprint is what a whitelist entry names: an import added at the top must not bring a reviewed finding back."""
    code = 'def find(request, cur):\n    name = request.args["name"]\n    sql = "SELECT * FROM users WHERE name = %s" % name\n    cur.execute(sql)\n'
    (tmp_project / "db.py").write_text(code)
    [before] = SQLInjectionDetector(Project(tmp_project)).check_file(tmp_project / "db.py")
    assert "line 3" in before.description  # it says where the query was built
    whitelist = tmp_project / ".buildrunner" / "security" / "whitelist.txt"
    whitelist.parent.mkdir(parents=True, exist_ok=True)
    whitelist.write_text(before.fingerprint + "\n")
    (tmp_project / "db.py").write_text("import logging\n\n" + code)
    assert SQLInjectionDetector(Project(tmp_project)).check_file(tmp_project / "db.py") == []
    whitelist.write_text("")
    [after] = SQLInjectionDetector(Project(tmp_project)).check_file(tmp_project / "db.py")
    assert (after.line_number, after.fingerprint) == (before.line_number + 2, before.fingerprint) and "line 5" in after.description


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("manage", '#!/usr/bin/env python3\nimport sys\ndef f(cur):\n    cur.execute("SELECT * FROM t WHERE a = " + sys.argv[1])\n'),
        ("deploy", '#!/usr/bin/python3.11 -u\nimport sys\ndef f(cur):\n    cur.execute("SELECT * FROM t WHERE a = " + sys.argv[1])\n'),
        ("serve", "#!/usr/bin/env -S node --no-warnings\napp.get('/u', (req, res) => db.query(`SELECT * FROM users WHERE id = ${req.query.id}`));\n"),
    ],
)
def test_a_script_without_an_extension_is_read_by_its_interpreter_line(tmp_project: Path, name: str, script: str) -> None:
    """`manage`, `bin/deploy`: scripts named without an extension were passed over with no note."""
    (tmp_project / name).write_text(script)
    (tmp_project / "run").write_text('#!/bin/sh\necho "SELECT * FROM t WHERE a = $1"\n')  # a shell script: not read as Python
    report = SQLInjectionDetector(Project(tmp_project)).scan([tmp_project])
    assert [(f.file_path, f.severity) for f in report.matches] == [(name, "high")]
    assert not [s for s in report.skipped if s.path == "run"]


def test_a_whitelist_entry_written_with_the_old_fingerprint_still_allows_its_finding(tmp_project: Path) -> None:
    """Fingerprints used to hold the line the query was built at; entries users wrote then must keep working."""
    import hashlib

    code = 'def find(request, cur):\n    name = request.args["name"]\n    sql = "SELECT * FROM users WHERE name = %s" % name\n    cur.execute(sql)\n'
    (tmp_project / "db.py").write_text(code)
    [finding] = SQLInjectionDetector(Project(tmp_project)).check_file(tmp_project / "db.py")
    old = hashlib.sha256(f"db.py\0{finding.description}\0{finding.code}".encode()).hexdigest()[:16]
    assert old != finding.fingerprint
    whitelist = tmp_project / ".buildrunner" / "security" / "whitelist.txt"
    whitelist.parent.mkdir(parents=True, exist_ok=True)
    whitelist.write_text(old + "\n")
    assert SQLInjectionDetector(Project(tmp_project)).check_file(tmp_project / "db.py") == []
