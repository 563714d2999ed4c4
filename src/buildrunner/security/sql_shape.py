"""What SQL text looks like, shared by the Python and JavaScript analyses."""

from __future__ import annotations

import re
from dataclasses import dataclass

HOLE = "\x00"  # stands for a non-constant value inside built text

# "select ... from the list", "delete from the cache": prose, not a table name.
_NOT_PROSE = r"(?!(?:the|a|an|your|this|that|these|those|my|our|their|its|here|there|which|where|it|them)\b)"
_STATEMENT = re.compile(
    rf"""^[\s(]*(?:
        select\s+(?:distinct\s+)?[^;]*?\bfrom\s+{_NOT_PROSE}[\w."`\[\]\x00]
      | insert\s+(?:or\s+\w+\s+)?into\s+{_NOT_PROSE}[\w."`\[\]\x00]
      | replace\s+into\s+{_NOT_PROSE}[\w."`\[\]\x00]
      | delete\s+from\s+{_NOT_PROSE}[\w."`\[\]\x00]
      | update\s+{_NOT_PROSE}[\w."`\[\]\x00]+\s+set\s
      | with\s+(?:recursive\s+)?[\w\x00]+\s+as\s*\(
      | merge\s+into\s
      | (?:create|drop|alter|truncate)\s+(?:temp(?:orary)?\s+)?(?:table|view|index|database|schema)\s
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_SELECT_EXPRESSION = re.compile(r"(?i)^[\s(]*select\s+\S*\x00")  # f"SELECT {expr}" with no FROM
_SENTENCE_CASE = re.compile(r"^[\s(]*(?:Select|Insert|Delete|Update|Replace|Create|Drop|Alter|With)\b")
_UPPER_KEYWORD = re.compile(r"\b(?:FROM|WHERE|SET|INTO|VALUES|TABLE|AS)\b")


def looks_like_sql(text: str) -> bool:
    """Text starting like a SQL statement; sentence-case prose ("Select {n} items from the list") is not."""
    if not text or (_SENTENCE_CASE.match(text) and not _UPPER_KEYWORD.search(text)):
        return False
    if _STATEMENT.match(text):
        return True
    return bool(_SELECT_EXPRESSION.match(text)) and not re.search(r"(?i)\bfrom\b", text)


@dataclass(frozen=True)
class RawSQLFinding:
    """A finding before it is tied to a file: line, severity, what and how to fix it."""

    line: int
    severity: str
    description: str
    recommendation: str
    allow_lines: tuple[int, ...] = ()  # besides `line`: the SQL argument's lines and the call's closing line, where `br:allow` counts too
