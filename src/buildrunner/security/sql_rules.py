"""The SQL-injection sources, sinks and sanitisers of `sql_rules.toml`, as typed tables."""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

SQL_SHAPED, IGNORE = "sql-shaped", "ignore"


@dataclass(frozen=True)
class Sink:
    """A call that runs SQL text (see the header of `sql_rules.toml`)."""

    id: str
    methods: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()
    args: tuple[int, ...] = (0,)
    keywords: frozenset[str] = frozenset()
    elements: bool = False
    elsewhere: str = SQL_SHAPED
    fix: str = "none"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Sink":
        return cls(
            id=str(raw["id"]),
            methods=frozenset(raw.get("methods", ())),
            functions=frozenset(raw.get("functions", ())),
            modules=tuple(raw.get("modules", ())),
            args=tuple(int(a) for a in raw.get("args", (0,))),
            keywords=frozenset(raw.get("keywords", ())),
            elements=bool(raw.get("elements", False)),
            elsewhere=str(raw.get("elsewhere", SQL_SHAPED)),
            fix=str(raw.get("fix", "none")),
        )


@dataclass(frozen=True)
class LanguageRules:
    """One language's table: what is untrusted, what runs SQL, what makes a value safe."""

    sinks: tuple[Sink, ...]
    fixes: dict[str, str]
    request_objects: frozenset[str] = frozenset()  # names of request objects: `request`, `req`, `ctx`
    request_attributes: frozenset[str] = frozenset()  # their untrusted parts: `GET`, `args`, `query`
    calls: frozenset[str] = frozenset()  # calls that return untrusted input: `input`, `.parse_args`
    attributes: frozenset[str] = frozenset()  # attributes that are untrusted input: `sys.argv`
    sanitiser_functions: frozenset[str] = frozenset()
    sanitiser_methods: frozenset[str] = frozenset()
    propagators: frozenset[str] = frozenset()  # calls that hand their argument's text through
    mutators: frozenset[str] = frozenset()  # methods that put their argument into the receiver
    request_types: frozenset[str] = frozenset()
    route_decorators: frozenset[str] = frozenset()
    safe_annotations: frozenset[str] = frozenset()
    not_request_parameters: frozenset[str] = frozenset()
    view_first_parameters: frozenset[str] = frozenset()
    guard_methods: frozenset[str] = frozenset()
    guard_functions: frozenset[str] = frozenset()
    iteration_methods: frozenset[str] = frozenset()
    statement_factories: frozenset[str] = frozenset()  # methods returning a prepared statement: its methods take values
    terminating_calls: frozenset[str] = frozenset()  # calls that never return (abort(400), sys.exit()): like `raise`

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "LanguageRules":
        """Every list in the table becomes a frozenset field of the same name; sinks and fixes are typed."""
        names = {f.name: frozenset(str(v) for v in raw.get(f.name, ())) for f in fields(cls) if f.name not in ("sinks", "fixes")}
        return cls(**names, sinks=tuple(Sink.from_dict(s) for s in raw.get("sink", ())), fixes={str(k): str(v) for k, v in raw.get("fix", {}).items()})

    @cached_property
    def _sinks_by_name(self) -> dict[str, tuple[Sink, ...]]:
        out: dict[str, list[Sink]] = {}
        for sink in self.sinks:
            for name in sink.methods | sink.functions:
                out.setdefault(name, []).append(sink)
        return {name: tuple(sinks) for name, sinks in out.items()}

    def sinks_named(self, name: str) -> tuple[Sink, ...]:
        """The sinks a method or function of this name may be (in table order)."""
        return self._sinks_by_name.get(name, ())

    def fix(self, key: str) -> str:
        return self.fixes.get(key) or self.fixes.get("none", "")

    def is_source_chain(self, chain: str) -> bool:
        """`request.GET`, `req.query.id`, `sys.argv`: an attribute chain that holds untrusted input."""
        if chain in self.attributes:
            return True
        head, _, attr = chain.rpartition(".")
        return bool(head) and head in self.request_objects and attr in self.request_attributes


@lru_cache(maxsize=1)
def sql_rules() -> dict[str, LanguageRules]:
    """`{"python": ..., "javascript": ...}` from the shipped `sql_rules.toml`."""
    text = resources.files("buildrunner.security").joinpath("sql_rules.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {language: LanguageRules.from_dict(data[language]) for language in ("python", "javascript")}
