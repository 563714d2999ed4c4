"""The labelled corpus (tests/security/corpus/): the issue's recall and precision targets, per framework.

Scored by the same functions as `python bench/security_corpus.py`, which prints the table.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from buildrunner.project import Project
from buildrunner.security import SQLInjectionDetector


def _bench() -> ModuleType:
    script = Path(__file__).parents[2] / "bench" / "security_corpus.py"
    spec = importlib.util.spec_from_file_location("security_corpus", script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


BENCH = _bench()
FILES = sorted((BENCH.CORPUS / "sql").glob("*.txt"))


def test_the_corpus_covers_every_framework_the_issue_names() -> None:
    names = {p.name.split(".")[0] for p in FILES}
    assert {"django", "sqlalchemy", "psycopg", "pymysql", "pymssql", "pg8000", "asyncpg", "aiopg", "sqlite3", "starlette"} <= names
    assert {"pg", "mysql2", "knex", "sequelize"} <= names
    for path in FILES:
        expected, safe = BENCH.labels(path.read_text())
        assert expected and safe, f"{path.name} needs both vulnerable and safe lines"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_framework_recall_is_at_least_0_7(path: Path) -> None:
    score = BENCH.score_sql_file(path, SQLInjectionDetector(Project(BENCH.CORPUS)))
    assert score.recall >= 0.7, f"missed lines {score.missed}"


def test_overall_recall_and_precision_targets() -> None:
    detector = SQLInjectionDetector(Project(BENCH.CORPUS))
    total = BENCH.Score("all")
    for path in FILES:
        total.add(BENCH.score_sql_file(path, detector))
    assert total.recall >= 0.85 and total.precision >= 0.95, (total.recall, total.precision)


def test_every_connection_string_shape_is_found_and_no_placeholder_flagged() -> None:
    result = BENCH.score_secrets(rounds=5)
    assert result["shapes"] >= 25 and result["placeholders"] >= 20
    assert result["misses"] == [] and result["flagged"] == []
