"""Credentials inside connection strings and database command lines: each shape found, masked; placeholders quiet.

Passwords are built at run time; the placeholders are the ones the tools' own
documentation and sample files use (redis.conf, the postgres and mysql images,
connectionstrings.com, Microsoft's SQL Server docs, docker-compose files).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from security_helpers import ALNUM, rnd

from buildrunner.project import Project
from buildrunner.security import SecretScanner
from buildrunner.security.rules import ruleset

SCANNER = SecretScanner(Project(Path(__file__).parent))

def _corpus() -> tuple[list[tuple[str, str]], list[str]]:
    """The shapes (template with {pw}, rule) and placeholder lines of tests/security/corpus/secrets/connection_strings.txt."""
    shapes, placeholders = [], []
    for line in (Path(__file__).parent / "corpus" / "secrets" / "connection_strings.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind, _, text = line.partition(" | ")
            (placeholders.append(text) if kind == "placeholder" else shapes.append((text, kind)))
    return shapes, placeholders


SHAPES, PLACEHOLDER_LINES = _corpus()
# Placeholder values seen in the tools' own docs, tried in every shape.
PLACEHOLDERS = [
    "${REDIS_PASSWORD}",
    "<password>",
    "changeme",
    "password",
    "$DB_PASSWORD",
    "{{ db_password }}",
    "%(password)s",
    "********",
    "your_password",
    "YourStrong!Passw0rd",  # Microsoft's SQL Server container docs
    "myPassword",  # connectionstrings.com
    "foobared",  # redis.conf
    "mysecretpassword",  # the postgres image's docs
    "example",  # docker-compose samples
    "secret",
    "{0}",
]


def password() -> str:
    return rnd(6, "ABCDEFGHJKLMNPQRSTUVWXYZ") + rnd(10, ALNUM, seed=11) + "~9"


def found(text: str) -> list[str]:
    return [h.rule.id for h in ruleset().find(text.encode())]


@pytest.mark.parametrize(("shape", "rule_id"), SHAPES)
def test_each_connection_string_shape_is_found_and_masked(shape: str, rule_id: str) -> None:
    pw = password()
    line = shape.format(pw=pw)
    assert found(line) == [rule_id]
    [match] = SCANNER.scan_content(line, "settings.txt")
    assert match.masked_value == f"{pw[:4]}...{pw[-4:]}" and pw not in match.context


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
@pytest.mark.parametrize(("shape", "rule_id"), SHAPES)
def test_placeholders_stay_quiet_in_every_shape(shape: str, rule_id: str, placeholder: str) -> None:
    assert found(shape.format(pw=placeholder)) == []


@pytest.mark.parametrize("line", PLACEHOLDER_LINES)
def test_placeholder_lines_of_the_corpus_stay_quiet(line: str) -> None:
    assert found(line) == []


@pytest.mark.parametrize(
    "text",
    [
        "psql -h db -U app -p 5432 app",  # psql's -p is the port
        "mysql -u root -p shop",  # -p alone prompts; shop is the database
        "redis-cli -p 6379 ping",
        "amqp://guest:guest@localhost:5672/",  # RabbitMQ's documented default
        "postgresql://localhost/app",
        "Server=db;Database=app;Trusted_Connection=True;",
        "jdbc:mysql://db:3306/app?useSSL=true",
        "# requirepass foobared",
    ],
)
def test_connection_strings_without_a_password_are_not_findings(text: str) -> None:
    assert found(text) == []


def test_user_placeholders_from_the_config(tmp_project: Path) -> None:
    from security_helpers import write_config

    line = f'REDIS_URL = "redis://:Vault-Ref-{rnd(10, "0123456789abcdef")}@cache:6379/0"'
    assert [m.secret_type for m in SecretScanner(Project(tmp_project)).scan_content(line)] == ["database_url"]
    write_config(tmp_project, placeholders=["^Vault-Ref-[0-9a-f]+$"])
    assert SecretScanner(Project(tmp_project)).scan_content(line) == []


def test_a_placeholder_regex_re2_cannot_run_is_a_config_error(run_br, tmp_project: Path) -> None:
    from security_helpers import write_config

    write_config(tmp_project, placeholders=["(a)\\1"])
    r = run_br("security", "scan")
    assert r.returncode == 2 and "security.placeholders" in r.stderr and "backreferences" in r.stderr


PASSWORDS = st.from_regex(r"\A[A-Z][A-Za-z0-9]{8,24}[0-9][~!^*+=_-]\Z")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SHAPES), PASSWORDS)
def test_any_strong_password_in_any_shape_is_found_and_never_shown(shape: tuple[str, str], pw: str) -> None:
    text, rule_id = shape
    line = text.format(pw=pw)
    matches = SCANNER.scan_content(line, "x.txt")
    assert [m.secret_type for m in matches] == [rule_id]
    assert pw not in matches[0].context + matches[0].masked_value
