"""SQL injection through real data flow in Python: every statement kind, across functions, each framework's sources and sinks.

Each case is a small program as a user writes it; the assertion is the line (and
severity) the detector reports: high when request data provably reaches the sink,
medium when only a parameter does.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from security_helpers import marked, sql_found

from buildrunner.project import Project
from buildrunner.security import SQLInjectionDetector


@pytest.fixture
def detector(sql_detector: SQLInjectionDetector) -> SQLInjectionDetector:
    return sql_detector


def found(detector: SQLInjectionDetector, code: str, language: str = "python") -> list[tuple[int, str]]:
    return sql_found(detector, code, language)


FLASK = "from flask import request\nimport sqlite3\ndb = sqlite3.connect('x')\n"

STATEMENT_KINDS = {
    "match arm": """
        def view():
            kind = request.args.get("kind")
            match kind:
                case "name":
                    q = f"SELECT * FROM users WHERE name = '{request.args['v']}'"
                case _:
                    q = "SELECT * FROM users"
            db.execute(q)  # <-
    """,
    "match capture": """
        def view():
            match request.get_json():
                case {"id": uid}:
                    db.execute("SELECT * FROM users WHERE id = " + uid)  # <-
    """,
    "with": """
        def view():
            with db:
                with open("f") as fh, db.cursor() as cur:
                    cur.execute("DELETE FROM t WHERE id = %s" % request.form["id"])  # <-
    """,
    "try arms": """
        def view():
            try:
                sql = "SELECT * FROM t WHERE id = " + request.args["id"]
            except KeyError:
                sql = "SELECT * FROM t"
            else:
                sql += " LIMIT 1"
            finally:
                pass
            db.execute(sql)  # <-
    """,
    "except arm": """
        def view():
            try:
                sql = "SELECT 1"
            except Exception:
                sql = "SELECT * FROM t WHERE id = " + request.args["id"]
            db.execute(sql)  # <-
    """,
    "list comprehension": """
        def view():
            parts = [f"tag = '{t}'" for t in request.args.getlist("tag")]
            db.execute("SELECT * FROM posts WHERE " + " OR ".join(parts))  # <-
    """,
    "generator in join": """
        def view():
            names = ", ".join(f"'{n}'" for n in request.args.getlist("n") if n)
            db.execute(f"DELETE FROM t WHERE name IN ({names})")  # <-
    """,
    "dict comprehension": """
        def view():
            where = {k: v for k, v in request.args.items()}
            db.execute("SELECT * FROM t WHERE " + " AND ".join(f"{k} = '{v}'" for k, v in where.items()))  # <-
    """,
    "augmented assignment": """
        def view():
            sql = "SELECT * FROM t WHERE 1 = 1"
            sql += " AND a = '" + request.args["a"] + "'"
            db.execute(sql)  # <-
    """,
    "tuple unpacking": """
        def view():
            a, b = request.args["a"], "x"
            db.execute(f"SELECT * FROM t WHERE a = '{a}' AND b = '{b}'")  # <-
    """,
    "starred unpacking": """
        def view():
            first, *rest = request.args.getlist("v")
            db.execute("SELECT * FROM t WHERE v = '" + first + "'")  # <-
    """,
    "for loop": """
        def view():
            for table in request.args.getlist("t"):
                db.execute("DROP TABLE " + table)  # <-
    """,
    "while loop": """
        def view():
            sql, parts = "SELECT * FROM t WHERE 1 = 1", request.args.getlist("p")
            while parts:
                sql = sql + " AND p = '" + parts.pop() + "'"
            db.execute(sql)  # <-
    """,
    "if and else join": """
        def view():
            if request.args.get("all"):
                sql = "SELECT * FROM t"
            else:
                sql = "SELECT * FROM t WHERE owner = '%s'" % request.args["owner"]
            db.execute(sql)  # <-
    """,
    "walrus": """
        def view():
            if (name := request.args.get("name")):
                db.execute("SELECT * FROM t WHERE name = '{}'".format(name))  # <-
    """,
    "percent with tuple": """
        def view():
            db.execute("SELECT * FROM t WHERE a = '%s' AND b = %d" % (request.args["a"], 5))  # <-
    """,
    "format by keyword": """
        def view():
            db.execute("SELECT * FROM {table}".format(table=request.args["t"]))  # <-
    """,
    "str and strip": """
        def view():
            v = str(request.args.get("v")).strip().lower()
            db.execute("SELECT * FROM t WHERE v = '" + v + "'")  # <-
    """,
    "append to a list": """
        def view():
            clauses = []
            clauses.append("owner = '%s'" % request.args["o"])
            db.execute("SELECT * FROM t WHERE " + " AND ".join(clauses))  # <-
    """,
    "attribute on self": """
        class View:
            def get(self, request):
                self.sql = "SELECT * FROM t WHERE id = " + request.GET["id"]
                db.execute(self.sql)  # <-
    """,
}


@pytest.mark.parametrize("kind", sorted(STATEMENT_KINDS))
def test_request_data_is_followed_through_every_statement_kind(detector: SQLInjectionDetector, kind: str) -> None:
    code = FLASK + textwrap.dedent(STATEMENT_KINDS[kind])
    expected = marked(code)
    assert found(detector, code) == [(line, "high") for line in expected]


def test_match_arm_flow_as_the_issue_describes(detector: SQLInjectionDetector) -> None:
    code = FLASK + textwrap.dedent(
        """
        @app.route("/items")
        def items():
            action = request.args.get("action", "list")
            match action:
                case "search":
                    term = request.args.get("q", "")
                    query = "SELECT * FROM items WHERE name LIKE '%" + term + "%'"
                case "recent":
                    query = "SELECT * FROM items ORDER BY created DESC"
                case _:
                    query = "SELECT * FROM items"
            rows = db.execute(query).fetchall()  # <-
            return str(rows)
        """
    )
    [finding] = SQLInjectionDetector(Project(Path.cwd())).check_code(code)
    assert (finding.line_number, finding.severity) == (marked(code)[0], "high")
    built = next(n for n, line in enumerate(code.splitlines(), 1) if "LIKE '%\" + term" in line)
    assert "request.args" in finding.description and f"built at line {built}" in finding.description


SAFE_FLOWS = {
    "allow-list guard that returns": """
        def view():
            col = request.args["sort"]
            if col not in ("name", "date"):
                return "bad"
            db.execute(f"SELECT * FROM t ORDER BY {col}")
    """,
    "allow-list from a module constant": """
        COLUMNS = frozenset({"name", "date"})
        def view():
            col = request.args["sort"]
            if col in COLUMNS:
                db.execute(f"SELECT * FROM t ORDER BY {col}")
    """,
    "lookup in a constant mapping": """
        ORDER = {"asc": "ASC", "desc": "DESC"}
        def view():
            direction = ORDER.get(request.args.get("dir"), "ASC")
            db.execute("SELECT * FROM t ORDER BY id " + direction)
    """,
    "int()": """
        def view():
            db.execute("SELECT * FROM t LIMIT %s" % int(request.args["n"]))
    """,
    "numeric conversions": """
        def view():
            db.execute("SELECT * FROM t WHERE id = %d AND p < %.2f" % (request.args["id"], request.args["p"]))
            db.execute("SELECT * FROM t WHERE id = {:d}".format(request.args["id"]))
            db.execute(f"SELECT * FROM t WHERE id = {request.args['id']:d}")
    """,
    "type=int": """
        def view():
            page = request.args.get("page", 1, type=int)
            db.execute(f"SELECT * FROM t OFFSET {page * 20}")
    """,
    "isdigit guard": """
        def view():
            uid = request.args["id"]
            if not uid.isdigit():
                raise ValueError(uid)
            db.execute("SELECT * FROM t WHERE id = " + uid)
    """,
    "re.fullmatch guard": """
        import re
        def view():
            name = request.args["table"]
            if re.fullmatch(r"[a-z_]+", name):
                db.execute("SELECT * FROM " + name)
    """,
    "match on literals": """
        def view():
            col = request.args["c"]
            match col:
                case "a" | "b":
                    db.execute(f"SELECT {col} FROM t")
    """,
    "ternary on a literal test": """
        def view():
            direction = "DESC" if request.args.get("desc") == "1" else "ASC"
            db.execute("SELECT * FROM t ORDER BY id " + direction)
    """,
    "quote_ident": """
        from psycopg2.extensions import quote_ident
        def view(conn):
            db.execute("SELECT * FROM " + quote_ident(request.args["t"], conn))
    """,
    "psycopg composition": """
        from psycopg import sql
        def view(cur):
            cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(request.args["t"])), (request.args["id"],))
    """,
    "placeholders from the length": """
        def view():
            ids = request.args.getlist("id")
            marks = ", ".join(["?"] * len(ids))
            db.execute(f"SELECT * FROM t WHERE id IN ({marks})", ids)
            db.execute("SELECT * FROM t WHERE id IN (%s)" % ",".join("?" for _ in ids), ids)
    """,
    "parameters": """
        def view():
            db.execute("SELECT * FROM t WHERE a = ? AND b = ?", (request.args["a"], request.args["b"]))
            db.execute("SELECT * FROM t WHERE a = %(a)s", {"a": request.args["a"]})
    """,
    "constant SQL built in steps": """
        BASE = "SELECT id, name FROM users"
        def view():
            sql = BASE + " WHERE active"
            sql += " ORDER BY " + "name"
            for table in ("users", "admins"):
                db.execute(f"SELECT count(*) FROM {table}")
            db.execute(sql)
    """,
    "prose that only looks like SQL": """
        import logging
        def view():
            logging.info("select %s from the menu", request.args["item"])
            print(f"Delete from your list: {request.args['item']}")
    """,
}


@pytest.mark.parametrize("kind", sorted(SAFE_FLOWS))
def test_sanitised_guarded_and_parameterised_flows_stay_quiet(detector: SQLInjectionDetector, kind: str) -> None:
    assert found(detector, FLASK + textwrap.dedent(SAFE_FLOWS[kind])) == []


def test_a_helper_that_returns_a_built_query(detector: SQLInjectionDetector) -> None:
    code = FLASK + textwrap.dedent(
        """
        def build_query(table, where):
            return f"SELECT * FROM {table} WHERE {where}"

        def view():
            sql = build_query("users", request.args["where"])
            db.execute(sql)  # <-

        def job():
            db.execute(build_query("users", "active"))
        """
    )
    assert found(detector, code) == [(marked(code)[0], "high")]


def test_a_function_whose_parameter_reaches_a_sink(detector: SQLInjectionDetector) -> None:
    code = FLASK + textwrap.dedent(
        """
        def run(sql):
            return db.execute(sql).fetchall()

        def delete_where(table, where):
            run("DELETE FROM " + table + " WHERE " + where)  # <-

        def view():
            run("SELECT * FROM t WHERE id = " + request.args["id"])  # <-
            delete_where("t", request.args["where"])  # <-
            run("SELECT 1")
            delete_where("t", "id = 3")
        """
    )
    lines = marked(code)
    assert found(detector, code) == [(lines[0], "medium"), (lines[1], "high"), (lines[2], "high")]
    descriptions = [f.description for f in detector.check_code(code)]
    assert "through delete_where() and run()" in descriptions[2]


def test_methods_of_the_modules_classes_are_followed(detector: SQLInjectionDetector) -> None:
    code = FLASK + textwrap.dedent(
        """
        class Repo:
            def __init__(self, conn):
                self.conn = conn

            def find(self, name):
                return self.conn.execute(self._sql(name))  # <-

            def _sql(self, name):
                return "SELECT * FROM users WHERE name = '" + name + "'"

        def view():
            return Repo(db).find(request.args["name"])  # <-
        """
    )
    lines = marked(code)
    assert found(detector, code) == [(lines[0], "medium"), (lines[1], "high")]


def test_recursion_between_helpers_terminates(detector: SQLInjectionDetector) -> None:
    code = FLASK + textwrap.dedent(
        """
        def a(x, n):
            return b(x + " AND 1=1", n - 1) if n else x

        def b(x, n):
            return a(x, n)

        def view():
            db.execute(a("SELECT * FROM t WHERE v = '" + request.args["v"] + "'", 3))  # <-
        """
    )
    assert [line for line, _ in found(detector, code)] == marked(code)


SOURCES = {
    "flask": ("from flask import request", "def view():\n    v = request.form.get('v')"),
    "flask json": ("from flask import request", "def view():\n    v = request.get_json()['v']"),
    "django": ("from django.http import HttpResponse", "def view(request):\n    v = request.POST['v']"),
    "django url kwarg": ("from django.http import HttpResponse", "def view(request, slug):\n    v = slug"),
    "rest framework": ("from rest_framework.views import APIView", "class V(APIView):\n  def get(self, request):\n    v = request.query_params['v']\n    pass"),
    "fastapi route parameter": ("from fastapi import FastAPI", "@app.get('/x')\ndef view(v: str):\n    pass"),
    "fastapi request": ("from fastapi import Request", "@app.post('/x')\nasync def view(r: Request):\n    v = (await r.json())['v']"),
    "starlette": ("from starlette.requests import Request", "async def view(request):\n    v = request.path_params['v']"),
    "aiohttp": ("from aiohttp import web", "async def view(request):\n    v = request.match_info['v']"),
    "aiohttp post": ("from aiohttp import web", "async def view(request):\n    v = (await request.post())['v']"),
    "input()": ("", "def view():\n    v = input('v? ')"),
    "sys.argv": ("import sys", "def view():\n    v = sys.argv[1]"),
    "environment": ("import os", "def view():\n    v = os.environ['V']"),
    "argparse": ("import argparse", "def view(parser):\n    v = parser.parse_args().v"),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_source_reaching_a_sink_is_high(detector: SQLInjectionDetector, source: str) -> None:
    imports, body = SOURCES[source]
    code = f"import sqlite3\n{imports}\ndb = sqlite3.connect('x')\n{body}\n    db.execute(\"SELECT * FROM t WHERE v = '\" + v + \"'\")\n"
    assert found(detector, code) == [(code.count("\n"), "high")]


def test_validated_handler_parameters_are_not_sources(detector: SQLInjectionDetector) -> None:
    code = textwrap.dedent(
        """
        from fastapi import Depends, FastAPI
        import sqlite3
        db = sqlite3.connect("x")

        @app.get("/items/{item_id}")
        def item(item_id: int, conn=Depends(get_conn), limit: Annotated[int, Query()] = 10):
            db.execute(f"SELECT * FROM items WHERE id = {item_id} LIMIT {limit}")
            conn.execute(f"SELECT * FROM items WHERE id = {item_id}")

        @bp.route("/user/<int:user_id>")
        def user(user_id):
            db.execute(f"SELECT * FROM users WHERE id = {user_id}")
        """
    )
    assert found(detector, code) == []


# Each framework's sink, fed from a parameter (medium) and from request data (high).
SINKS = {
    "sqlite3 execute": ("import sqlite3", "conn.execute({sql})"),
    "sqlite3 executescript": ("import sqlite3", "conn.executescript({sql})"),
    "DB-API executemany": ("import pymysql", "cur.executemany({sql}, rows)"),
    "psycopg mogrify": ("import psycopg2", "cur.mogrify({sql})"),
    "psycopg sql.SQL": ("from psycopg import sql", "cur.execute(sql.SQL({sql}))"),
    "pymssql": ("import pymssql", "cur.execute({sql})"),
    "pg8000 run": ("import pg8000.native", "con.run({sql})"),
    "asyncpg fetch": ("import asyncpg", "await conn.fetch({sql})"),
    "asyncpg fetchrow": ("import asyncpg", "await conn.fetchrow({sql})"),
    "asyncpg fetchval": ("import asyncpg", "await conn.fetchval({sql})"),
    "asyncpg execute": ("import asyncpg", "await conn.execute({sql})"),
    "aiopg": ("import aiopg", "await cur.execute({sql})"),
    "databases fetch_all": ("from databases import Database", "await database.fetch_all({sql})"),
    "django raw": ("from django.db import models", "User.objects.raw({sql})"),
    "django extra": ("from django.db import models", "User.objects.extra(where=[{sql}])"),
    "django RawSQL": ("from django.db.models.expressions import RawSQL", "User.objects.annotate(x=RawSQL({sql}, ()))"),
    "django cursor": ("from django.db import connection", "connection.cursor().execute({sql})"),
    "sqlalchemy text": ("from sqlalchemy import text", "session.execute(text({sql}))"),
    "sqlalchemy sa.text": ("import sqlalchemy as sa", "conn.execute(sa.text({sql}))"),
    "sqlalchemy session.execute": ("from sqlalchemy.orm import Session", "session.execute({sql})"),
    "sqlalchemy exec_driver_sql": ("import sqlalchemy", "conn.exec_driver_sql({sql})"),
    "sqlalchemy order_by": ("from sqlalchemy import select", "select(User).order_by({sql})"),
    "sqlalchemy group_by": ("from sqlalchemy import select", "select(User).group_by({sql})"),
    "sqlalchemy having": ("from sqlalchemy import select", "select(User).having({sql})"),
    "sqlalchemy distinct": ("from sqlalchemy import select", "select(User).distinct({sql})"),
    "sqlalchemy filter": ("from sqlalchemy.orm import Query", "session.query(User).filter({sql})"),
    "sqlalchemy from_statement": ("from sqlalchemy import select", "select(User).from_statement({sql})"),
    "pandas read_sql": ("import pandas as pd", "pd.read_sql({sql}, con)"),
}


@pytest.mark.parametrize("sink", sorted(SINKS))
def test_each_framework_sink(detector: SQLInjectionDetector, sink: str) -> None:
    imports, call = SINKS[sink]
    built_from_param = call.format(sql="'SELECT * FROM t WHERE v = ' + value")
    built_from_request = call.format(sql="'name = ' + request.args['v']")
    constant = call.format(sql="'SELECT * FROM t WHERE v = 1'")
    header = "async def f(conn, cur, con, session, database, rows, value):"
    assert found(detector, f"{imports}\n{header}\n    {built_from_param}\n") == [(3, "medium")]
    assert found(detector, f"{imports}\nfrom flask import request\n{header}\n    {built_from_request}\n") == [(4, "high")]
    assert found(detector, f"{imports}\n{header}\n    {constant}\n") == []


def test_sinks_that_need_their_library_are_not_sinks_without_it(detector: SQLInjectionDetector) -> None:
    code = textwrap.dedent(
        """
        import subprocess
        from flask import request
        def f(session, client, qs):
            subprocess.run("ls " + request.args["d"])
            client.fetch("https://api/" + request.args["u"])
            qs.order_by("-" + request.args["sort"])
            qs.filter(request.args["f"])
        """
    )
    assert found(detector, code) == []


def test_q_equals_q_plus_q_is_linear_and_still_found(detector: SQLInjectionDetector) -> None:
    """The issue's hostile file (memory doubled per line before): bounded values, one finding, no note."""
    import tracemalloc

    code = "import sqlite3\nq = 'SELECT * FROM t WHERE a = ' + input()\n" + "q = q + q\n" * 40 + "sqlite3.connect('x').execute(q)\n"
    tracemalloc.start()
    try:
        findings = detector.check_code(code)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(f.line_number, f.severity) for f in findings] == [(43, "high")]
    assert detector.last_report.skipped == []
    assert peak < 20_000_000  # the abstract text is capped; 2**40 characters before
    big = "q = 'SELECT * FROM t WHERE a = ' + x\n" + "q = q + q\n" * 6_000 + "cur.execute(q)\n"  # near the token budget
    assert [f.line_number for f in detector.check_code(big)] == [6_002]


def test_what_the_analysis_gives_up_on_is_a_note(detector: SQLInjectionDetector) -> None:
    nested = "def f(x):\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(40)) + "    " * 41 + "y = " + "g(" * 150 + ")" * 150 + "\ncur.execute('SELECT 1')\n"
    assert detector.check_code(nested) == []
    [note] = detector.last_report.skipped
    assert note.kind == "not_analysed" and note.reason.startswith("not analysed: code nested more than") and "f()" in note.reason
    chained = "x = a" + ".b" * 300 + "\ncur.execute('SELECT * FROM t WHERE a = ' + x)\n"
    detector.check_code(chained)
    assert [s.reason for s in detector.last_report.skipped] == ["not analysed: code nested more than 120 levels deep in the module"]


def test_findings_carry_the_fix_for_their_library(detector: SQLInjectionDetector) -> None:
    code = "import asyncpg\nfrom django.db import models\nasync def f(conn, v):\n    await conn.fetch('SELECT * FROM t WHERE a = ' + v)\n    M.objects.raw('SELECT * FROM t WHERE a = ' + v)\n"
    fixes = [f.recommendation for f in detector.check_code(code)]
    assert "$1" in fixes[0] and "Model.objects.raw" in fixes[1]


def test_a_file_too_big_for_the_sql_analysis_is_a_note_not_a_pass(detector: SQLInjectionDetector) -> None:
    from buildrunner.security.sql_detector import ANALYSIS_MAX_BYTES

    code = "cur.execute('SELECT * FROM t WHERE a = ' + x)\n" + "y = 1\n" * (ANALYSIS_MAX_BYTES // 6)
    assert detector.check_code(code) == []
    [note] = detector.last_report.skipped
    assert note.kind == "not_analysed" and "larger than 1 MB for the SQL analysis" in note.reason


def test_dense_code_over_the_token_budget_is_a_note_and_code_within_it_is_analysed(detector: SQLInjectionDetector) -> None:
    """`q = q + q` a node every two bytes: a file of it well under 1 MB would take hundreds of MB to parse."""
    def hostile(lines: int) -> str:
        return "def f(request):\n    q = request.GET['q']\n" + "    q = q + q\n" * lines + "    cursor.execute(q)\n"

    assert len(hostile(60_000)) < 1_000_000
    assert detector.check_code(hostile(60_000)) == []
    [note] = detector.last_report.skipped
    assert note.kind == "not_analysed" and "tokens, over the SQL analysis's budget" in note.reason
    [finding] = detector.check_code(hostile(2_000))
    assert finding.severity == "high" and finding.line_number == 2_003


@given(st.lists(st.sampled_from([*"ab_(),.+=:[]'\" \n\t1é", "not ", " if ", " else ", "lambda:", "**"]), max_size=60).map("".join))
@example("1a")  # a number run into a name: two tokens in one chunk (found by this test under load)
@example("x = 1if 1else 2")
def test_the_token_estimate_is_never_below_the_real_count(parts: str) -> None:
    """Whatever the tokenizer can read, the estimate is at least its token count: the budget cannot be slipped under."""
    import io
    import tokenize

    from buildrunner.security.sql_detector import estimated_tokens

    try:
        real = [t for t in tokenize.generate_tokens(io.StringIO(parts).readline) if t.type in (tokenize.OP, tokenize.NAME, tokenize.NUMBER, tokenize.STRING)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return
    assert estimated_tokens(parts.encode()) >= len(real)


def test_words_split_by_unicode_spaces_count_as_tokens(detector: SQLInjectionDetector) -> None:
    """JavaScript reads U+2028, U+00A0 and friends as separators: a file of them is as dense as one of newlines."""
    from buildrunner.security.sql_detector import ANALYSIS_MAX_TOKENS, estimated_tokens

    for separator in ("\u2028", "\u00a0", "\u3000", "\ufeff"):
        assert estimated_tokens(("a" + separator).encode() * 140_000) > ANALYSIS_MAX_TOKENS
    code = "db.query('SELECT * FROM t WHERE a = ' + process.argv[2]);\n" + "a\u2028" * 140_000
    assert detector.check_code(code, language="javascript") == [] and detector.last_report.skipped[0].kind == "not_analysed"



@pytest.mark.parametrize(
    ("imports", "stop"),
    [
        ("from flask import abort", "abort(400)"),
        ("import flask", "flask.abort(400)"),
        ("from werkzeug.exceptions import abort", "abort(404)"),
        ("from django.http import Http404", "raise Http404('no such column')"),
        ("from fastapi import HTTPException", "raise HTTPException(status_code=400, detail='bad sort')"),
        ("import sys", "sys.exit(2)"),
    ],
)
def test_a_call_that_ends_the_request_after_an_allow_list_check_is_a_guard(detector: SQLInjectionDetector, imports: str, stop: str) -> None:
    """`if sort not in SORTABLE: abort(400)` then f"... ORDER BY {sort}" was reported high; `return` and `raise` were not."""
    code = f"""
        {imports}
        from flask import request
        import sqlite3
        cur = sqlite3.connect("x").cursor()
        SORTABLE = {{"name", "created_at", "price"}}

        def products():
            sort = request.args.get("sort", "name")
            if sort not in SORTABLE:
                {stop}
            cur.execute(f"SELECT * FROM products ORDER BY {{sort}}")
            cur.execute(f"SELECT * FROM products WHERE name = '{{request.args['q']}}'")  # <-
    """
    assert found(detector, code) == [(line, "high") for line in marked(code)]


def test_an_abort_of_the_modules_own_that_returns_ends_nothing(detector: SQLInjectionDetector) -> None:
    code = """
        from flask import request
        import sqlite3
        cur = sqlite3.connect("x").cursor()

        def abort(code):
            print("would abort", code)

        def products():
            sort = request.args.get("sort")
            if sort not in {"name", "price"}:
                abort(400)
            cur.execute(f"SELECT * FROM products ORDER BY {sort}")  # <-
    """
    assert found(detector, code) == [(line, "high") for line in marked(code)]
