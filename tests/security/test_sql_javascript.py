"""SQL injection in JavaScript and TypeScript (tree-sitter): pg, mysql2, knex.raw, sequelize.query and friends."""

from __future__ import annotations

import pytest
from security_helpers import marked, sql_found

from buildrunner.security import SQLInjectionDetector


@pytest.fixture
def detector(sql_detector: SQLInjectionDetector) -> SQLInjectionDetector:
    return sql_detector


def found(detector: SQLInjectionDetector, code: str, language: str = "javascript") -> list[tuple[int, str]]:
    return sql_found(detector, code, language)


# library -> (import line, a call running {sql})
LIBRARIES = {
    "pg pool.query": ("const { Pool } = require('pg');", "await pool.query({sql});"),
    "pg client.query options": ("import pg from 'pg';", "await client.query({{ text: {sql}, values: [] }});"),
    "mysql2 query": ("const mysql = require('mysql2');", "connection.query({sql}, (err, rows) => {{}});"),
    "mysql2 execute": ("import mysql from 'mysql2/promise';", "await conn.execute({sql});"),
    "knex.raw": ("const knex = require('knex')({ client: 'pg' });", "await knex.raw({sql});"),
    "knex whereRaw": ("const knex = require('knex')({ client: 'pg' });", "await knex('t').whereRaw({sql});"),
    "sequelize.query": ("import { Sequelize } from 'sequelize';", "await sequelize.query({sql}, {{ type: QueryTypes.SELECT }});"),
    "prisma $queryRawUnsafe": ("import { PrismaClient } from '@prisma/client';", "await prisma.$queryRawUnsafe({sql});"),
    "better-sqlite3 prepare": ("const Database = require('better-sqlite3');", "db.prepare({sql}).all();"),
    "sqlite3 all": ("const sqlite3 = require('sqlite3');", "db.all({sql}, (err, rows) => {{}});"),
    "mssql request.query": ("const sql = require('mssql');", "await new sql.Request().query({sql});"),
}


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("language", ["javascript", "typescript"])
def test_each_library_sink_with_template_literals_and_concatenation(detector: SQLInjectionDetector, library: str, language: str) -> None:
    imports, call = LIBRARIES[library]
    for sql, severity in (
        ("`SELECT * FROM t WHERE id = ${req.params.id}`", "high"),
        ("'SELECT * FROM t WHERE name = \\'' + req.query.name + '\\''", "high"),
        ("`DELETE FROM t WHERE id = ${id}`", "medium"),
        ("'SELECT * FROM t WHERE id = ' + id", "medium"),
    ):
        code = f"{imports}\nasync function handler(req, res, id) {{\n  {call.format(sql=sql)}\n}}\n"
        assert found(detector, code, language) == [(3, severity)], (sql, code)
    safe = f"{imports}\nasync function handler(req, res) {{\n  {call.format(sql=repr('SELECT * FROM t WHERE id = $1'))}\n}}\n"
    assert found(detector, safe, language) == []


FLOWS = {
    "destructuring": """
        const { Pool } = require('pg');
        app.get('/u', async (req, res) => {
          const { id, name: who } = req.query;
          await pool.query(`SELECT * FROM u WHERE id = ${id} AND name = '${who}'`); // <-
        });
    """,
    "variable and +=": """
        const mysql = require('mysql2');
        router.post('/s', (req, res) => {
          let sql = 'SELECT * FROM t WHERE 1 = 1';
          if (req.body.name) {
            sql += " AND name = '" + req.body.name + "'";
          }
          connection.query(sql, (err, rows) => res.json(rows)); // <-
        });
    """,
    "array join": """
        const knex = require('knex')({});
        async function h(req, res) {
          const where = req.body.ids.map((i) => `id = ${i}`).join(' OR ');
          await knex.raw('SELECT * FROM t WHERE ' + where); // <-
        }
    """,
    "push in a callback": """
        const { Pool } = require('pg');
        app.get('/f', async (req, res) => {
          const parts = [];
          Object.entries(req.query).forEach(([k, v]) => { parts.push(`${k} = '${v}'`); });
          await pool.query('SELECT * FROM t WHERE ' + parts.join(' AND ')); // <-
        });
    """,
    "koa context": """
        const { Pool } = require('pg');
        router.get('/k', async (ctx) => {
          ctx.body = await pool.query(`SELECT * FROM t WHERE a = '${ctx.query.a}' AND b = '${ctx.request.body.b}'`); // <-
        });
    """,
    "helper returning a query": """
        const { Pool } = require('pg');
        function byStatus(status) {
          return `SELECT * FROM orders WHERE status = '${status}'`;
        }
        app.get('/o', async (req, res) => {
          const sql = byStatus(req.query.status);
          res.json(await pool.query(sql)); // <-
        });
    """,
    "helper running a query": """
        const { Pool } = require('pg');
        const run = (sql) => pool.query(sql);
        app.get('/r', async (req, res) => {
          res.json(await run('SELECT * FROM t WHERE id = ' + req.params.id)); // <-
        });
    """,
    "method of the file's class": """
        const { Pool } = require('pg');
        class Repo {
          find(where) { return this.db.query('SELECT * FROM t WHERE ' + where); } // <-
        }
        const repo = new Repo();
        app.get('/c', async (req, res) => res.json(await repo.find(req.query.where))); // <-
    """,
    "values listed by map": """
        const { Pool } = require('pg');
        app.post('/m', async (req, res) => {
          await pool.query(`SELECT * FROM t WHERE id IN (${req.body.ids.map((x) => `'${x}'`).join(',')})`); // <-
        });
    """,
    "keys of a Map and elements being sorted": """
        const { Pool } = require('pg');
        app.get('/k', async (req, res) => {
          let sql = 'SELECT * FROM t WHERE 1 = 1';
          const m = new Map(Object.entries(req.query));
          m.forEach((value, key) => { sql += ' AND ' + key + ' = ?'; });
          await pool.query(sql); // <-
          req.body.names.sort((a, b) => { pool.query("SELECT * FROM t WHERE name = '" + b + "'"); return 0; }); // <-
        });
    """,
    "util.format": """
        const util = require('util');
        const { Pool } = require('pg');
        app.get('/u', async (req, res) => {
          await pool.query(util.format("SELECT * FROM t WHERE a = '%s'", req.query.a)); // <-
        });
    """,
}


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_request_data_through_javascript_flows(detector: SQLInjectionDetector, flow: str) -> None:
    code = FLOWS[flow]
    lines = marked(code)
    reported = found(detector, code, "typescript")
    assert [line for line, _ in reported] == lines
    assert reported[-1][1] == "high"


SAFE = {
    "tagged templates": """
        const rows = await sql`SELECT * FROM users WHERE id = ${req.params.id}`;
        await prisma.$queryRaw`SELECT * FROM users WHERE id = ${req.params.id}`;
        await prisma.$executeRaw(Prisma.sql`DELETE FROM t WHERE id = ${req.body.id}`);
    """,
    "placeholders": """
        const { Pool } = require('pg');
        await pool.query('SELECT * FROM t WHERE id = $1 AND name = $2', [req.params.id, req.query.name]);
        await knex.raw('SELECT * FROM t WHERE id = ?', [req.params.id]);
        await sequelize.query('SELECT * FROM t WHERE id = :id', { replacements: { id: req.params.id } });
    """,
    "numbers and escaping": """
        const mysql = require('mysql2');
        const limit = parseInt(req.query.limit, 10);
        connection.query(`SELECT * FROM t LIMIT ${limit} OFFSET ${Number(req.query.offset)}`);
        connection.query('SELECT * FROM t WHERE name = ' + mysql.escape(req.query.name) + ' ORDER BY ' + connection.escapeId(req.query.sort));
    """,
    "allow-list": """
        const { Pool } = require('pg');
        const COLUMNS = ['name', 'created_at'];
        const col = COLUMNS.includes(req.query.sort) ? req.query.sort : 'name';
        await pool.query(`SELECT * FROM t ORDER BY ${col}`);
        if (['asc', 'desc'].includes(req.query.dir)) {
          await pool.query('SELECT * FROM t ORDER BY id ' + req.query.dir);
        }
        const dir = req.query.dir === 'desc' ? 'DESC' : 'ASC';
        await pool.query(`SELECT * FROM t ORDER BY id ${dir}`);
    """,
    "placeholder lists": """
        const db = require('./mysqlpool');
        const ids = req.body.ids;
        await db.query(`SELECT * FROM users WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
        await pool.query(`SELECT * FROM users WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`, ids);
        await pool.query('SELECT * FROM t WHERE id IN (' + ids.map(function () { return '?'; }).join(',') + ')', ids);
    """,
    "not a database": """
        const m = /^id=(\\d+)$/.exec('id=' + req.query.id);
        client.query(`page=${req.query.page}`);
        el.textContent = `Select ${n} items from the list`;
        cache.get('user:' + req.params.id);
        router.get('/users/' + req.params.id, handler);
    """,
}


@pytest.mark.parametrize("case", sorted(SAFE))
def test_safe_javascript_stays_quiet(detector: SQLInjectionDetector, case: str) -> None:
    assert found(detector, SAFE[case], "typescript") == []


def test_q_equals_q_plus_q_twin_is_linear(detector: SQLInjectionDetector) -> None:
    import tracemalloc

    code = "const { Pool } = require('pg');\nlet q = 'SELECT * FROM t WHERE a = ' + process.argv[2];\n" + "q = q + q;\n" * 40 + "pool.query(q);\n"
    tracemalloc.start()
    try:
        findings = detector.check_code(code, language="javascript")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(f.line_number, f.severity) for f in findings] == [(43, "high")] and peak < 20_000_000
    chain = "pool.query('SELECT * FROM t WHERE a = ' + " + " + ".join(["x"] * 12_000) + ");\n"  # near the token budget
    assert [f.line_number for f in detector.check_code(chain, language="javascript")] == [1]


def test_nesting_the_analysis_gives_up_on_is_a_note(detector: SQLInjectionDetector) -> None:
    code = "db.query('SELECT 1');\nconst y = " + "f(" * 300 + ")" * 300 + ";\n"
    assert detector.check_code(code, language="javascript") == []
    [note] = detector.last_report.skipped
    assert note.reason.startswith("not analysed: code nested more than") and "top level" in note.reason


@pytest.mark.parametrize("driver", ["better-sqlite3", "sqlite3", "bun:sqlite"])
def test_a_prepared_statements_methods_bind_values_they_run_no_sql(detector: SQLInjectionDetector, driver: str) -> None:
    """node-sqlite3 / better-sqlite3: stmt.get(req.params.id) was "untrusted input used as SQL text by get()"."""
    code = f"""
        const sqlite = require('{driver}');
        const db = new sqlite.Database('app.db');
        router.get('/a/:id', (req, res) => {{
          const stmt = db.prepare('SELECT * FROM t WHERE id = ?');
          stmt.get(req.params.id, (err, row) => res.json(row));
          res.json(db.prepare('SELECT * FROM t WHERE key = ?').get(req.params.key));
          db.prepare('SELECT * FROM t WHERE a = ? AND b = ?').all(req.query.a, req.query.b);
          const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
          insert.run(req.body.v);
          db.prepare(`SELECT * FROM t WHERE v = '${{req.query.v}}'`).all(); // <-
        }});
    """
    assert found(detector, code) == [(line, "high") for line in marked(code)]


def test_node_sqlite3s_own_run_all_get_still_take_sql(detector: SQLInjectionDetector) -> None:
    code = """
        const sqlite3 = require('sqlite3');
        const db = new sqlite3.Database('app.db');
        router.get('/b', (req, res) => {
          db.get(`SELECT * FROM t WHERE id = ${req.query.id}`, (err, row) => res.json(row)); // <-
          db.all('SELECT * FROM t WHERE id = ?', [req.query.id], (err, rows) => res.json(rows));
        });
    """
    assert found(detector, code) == [(line, "high") for line in marked(code)]


def test_typeorm_query_builder_fragments_are_sql(detector: SQLInjectionDetector) -> None:
    code = """
        import { DataSource, Brackets } from 'typeorm';
        import type { Request } from 'express';
        const ds = new DataSource({ type: 'postgres' });
        export async function list(req: Request) {
          const qb = ds.getRepository(User).createQueryBuilder('u');
          qb.where(`u.name = '${req.query.name}'`); // <-
          qb.andWhere("u.role = '" + req.body.role + "'"); // <-
          qb.orderBy(`u.${req.query.sort}`, 'ASC'); // <-
          qb.leftJoinAndSelect('u.photos', 'p', `p.kind = '${req.query.kind}'`); // <-
          qb.where('u.id = :id', { id: req.query.id });
          qb.andWhere(new Brackets((sub) => sub.where('u.age > :age', { age: req.query.age })));
          qb.orderBy('u.createdAt', req.query.desc ? 'DESC' : 'ASC');
          return qb.getMany();
        }
    """
    assert found(detector, code, "typescript") == [(line, "high") for line in marked(code)]


def test_sequelize_literal_is_sql_and_where_elsewhere_is_not_typeorms(detector: SQLInjectionDetector) -> None:
    code = """
        const { Sequelize, literal } = require('sequelize');
        async function h(req, res) {
          await User.findAll({ where: Sequelize.literal(`name = '${req.query.n}'`) }); // <-
          await User.findAll({ order: literal(req.query.order) }); // <-
          await User.findAll({ attributes: [[sequelize.literal('COUNT(*)'), 'n']] });
        }
    """
    assert found(detector, code) == [(line, "high") for line in marked(code)]
    knex = """
        const knex = require('knex')({ client: 'pg' });
        async function h(req, res) {
          await knex('users').where('name', req.query.name).orderBy('created_at');
          await knex('users').whereRaw(`name = '${req.query.name}'`); // <-
        }
    """
    assert found(detector, knex) == [(line, "high") for line in marked(knex)]
