"""Plans: the tasks of a session, read from JSON, YAML or TOML and checked before anything runs.

Every problem is reported with where it is (file, line when the format gives one,
and the path of the key), so a typo in task 40 never starts 39 tasks first.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from buildrunner.config import no_repeated_keys
from buildrunner.errors import ConfigError, NotFoundError
from buildrunner.parallel.models import MAX_WORKERS, NO_ISOLATION, WORKTREE
from buildrunner.paths import STATE_DIR_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

PLAN_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Hostile plans: YAML aliases may add at most this many nodes beyond those written out ("billion laughs"),
# and no plan nests deeper than this (a real one nests four levels).
MAX_ALIAS_EXPANSION = 100_000
MAX_DEPTH = 32
MAX_SECONDS = 7 * 86_400.0
MAX_COST = 1_000_000.0


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _seconds(value: Any) -> Any:
    """A timeout as a number of seconds, or written as a duration (`90s`, `10m`, `1h30m`, `2d`): `timeout: 10m` was
    "Input should be a valid number". Anything else is left for the field's own check."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text and _DURATION.sub("", text) == "":
        return float(sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(text)))
    raise ValueError(f"{value!r} is not a duration: give seconds (600) or a duration such as 90s, 10m, 1h30m")


# Seconds per attempt, written as a number or a duration (`_seconds`)
Timeout = Annotated[Optional[float], BeforeValidator(_seconds)]


def _no_nul(value: str | None) -> str | None:
    """The kernel cannot pass a NUL byte in an argument or environment value: refuse it here, with its place."""
    if value is not None and "\x00" in value:
        raise ValueError("contains a NUL byte, which no program can receive; remove it")
    return value


class PlanTask(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # `workers: true` was 1 worker, `retries: "2"` two retries

    id: str = Field(pattern=TASK_ID_PATTERN)
    description: str = ""
    command: str | None = Field(None, min_length=1)
    prompt: str | None = Field(None, min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    model: str | None = None
    timeout: Timeout = Field(None, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    retries: int | None = Field(None, ge=0, le=100)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    isolation: Literal["none", "worktree"] | None = None
    cost_limit: float | None = Field(None, ge=0, le=MAX_COST, allow_inf_nan=False)
    max_cost: float | None = Field(None, ge=0, le=MAX_COST, allow_inf_nan=False, description="USD one task may spend, all its attempts together")
    agent: str | None = Field(None, min_length=1, description="claude, codex, gemini or a custom agent (default: the plan's, else agents.default)")
    verify: str | None = Field(None, min_length=1, description="run after the task exits 0; the attempt passes only if it exits 0 too")
    escalate: bool | None = None

    @field_validator("description", "command", "prompt", "model", "cwd", "agent", "verify")
    @classmethod
    def _strings(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("cwd")
    @classmethod
    def _inside(cls, cwd: str | None) -> str | None:
        """A folder of the project, relative to its root (or the task's worktree): an absolute or `..` path would put
        a worktree task's writes outside its worktree, in the shared checkout or anywhere else."""
        if cwd is not None and (posixpath.isabs(cwd) or posixpath.normpath(cwd).split("/")[0] == ".."):
            raise ValueError(f"{cwd!r}: give a folder of the project, relative to its root (the task runs there, or in its worktree)")
        return cwd

    @field_validator("env")
    @classmethod
    def _environment(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not re.fullmatch(ENV_NAME_PATTERN, name):
                raise ValueError(f"variable name {name[:40]!r}: use letters, digits and '_' (not starting with a digit)")
            if "\x00" in value:
                raise ValueError(f"{name}: the value contains a NUL byte, which no program can receive; remove it")
        return env

    @model_validator(mode="after")
    def _one_action(self) -> "PlanTask":
        if (self.command is None) == (self.prompt is None):
            raise ValueError("give exactly one of 'command' (a shell command) or 'prompt' (for the agent)")
        if self.max_cost is not None and self.cost_limit is not None:
            raise ValueError("give max_cost or its old name cost_limit, not both")
        if self.max_cost is not None:
            self.cost_limit = self.max_cost
        if self.command is not None and self.agent is not None:
            raise ValueError("'agent' is for prompt tasks; a command task runs its command")
        return self

    @property
    def kind(self) -> str:
        return "command" if self.command is not None else "prompt"


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    description: str = ""
    workers: int | None = Field(None, ge=1, le=MAX_WORKERS)
    timeout: Timeout = Field(None, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    retries: int | None = Field(None, ge=0, le=100)
    cost_limit: float | None = Field(None, ge=0, le=MAX_COST, allow_inf_nan=False)
    max_cost: float | None = Field(None, ge=0, le=MAX_COST, allow_inf_nan=False, description="USD the whole session may spend")
    agent_command: str | None = Field(None, min_length=1)
    agent: str | None = Field(None, min_length=1)
    verify: str | None = Field(None, min_length=1, description="the default verify command of the plan's tasks")
    escalate: bool = True
    isolation: Literal["none", "worktree"] | None = None
    setup: str | None = Field(None, min_length=1, description="run once in each new worktree before its task (copy .env, install dependencies)")
    merge: bool = False
    halt_on_failure: bool = Field(False, description="at the first task that fails for good, stop the session: cancel what waits, end what runs")
    tasks: list[PlanTask] = Field(min_length=1)

    @field_validator("agent", "verify", "setup")
    @classmethod
    def _plan_strings(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("agent_command")
    @classmethod
    def _splittable(cls, value: str | None) -> str | None:
        _no_nul(value)
        if value is not None:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot be split into words ({exc}); fix its quoting") from None
            if not words:
                raise ValueError("is empty; give e.g. claude -p {prompt} --model {model_id} --output-format json")
        return value


@dataclass
class Plan:
    """A validated plan: session defaults and tasks in order."""

    source: str
    tasks: list[PlanTask]
    name: str | None = None
    workers: int | None = None
    timeout: float | None = None
    retries: int | None = None
    cost_limit: float | None = None
    agent_command: str | None = None
    agent: str | None = None
    verify: str | None = None
    escalate: bool = True
    isolation: str | None = None
    setup: str | None = None
    merge: bool = False
    halt_on_failure: bool = False

    @property
    def has_prompts(self) -> bool:
        return any(task.prompt is not None for task in self.tasks)

    def isolation_of(self, task: PlanTask) -> str:
        return task.isolation or self.isolation or NO_ISOLATION

    def waves(self) -> dict[str, int]:
        """Each task's wave: 1 for a task that can start at once, else one more than its latest dependency's (the plan
        has no cycles: `load_plan` refuses them)."""
        needs = {task.id: task.depends_on for task in self.tasks}
        waves: dict[str, int] = {}
        for task_id in needs:
            stack = [task_id]
            while stack:
                top = stack[-1]
                pending = [dep for dep in needs[top] if dep not in waves]
                if pending:
                    stack.extend(pending)
                    continue
                waves[top] = 1 + max((waves[dep] for dep in needs[top]), default=0)
                stack.pop()
        return waves

    def escalates(self, task: PlanTask) -> bool:
        """Whether a failed attempt of `task` runs again one tier up. A task naming its own `model` is pinned to it:
        the user chose that model, and a dearer one needs the task's own `escalate: true`."""
        if task.escalate is not None:
            return task.escalate
        return self.escalate and task.model is None

    def notes(self, workers: int = 1) -> list[str]:
        """What the plan does that its author may not expect (said at start; nothing is refused), run by `workers`."""
        notes = []
        waves = self.waves()
        shared = [task.id for task in self.tasks if task.kind == "prompt" and self.isolation_of(task) != WORKTREE]
        if workers > 1 and len({waves[t] for t in shared}) < len(shared):  # two of them can run at once
            notes.append(
                f"prompt tasks {', '.join(map(repr, shared[:3]))}{' ...' if len(shared) > 3 else ''} share your checkout: each one's "
                "security check sees what the others change meanwhile; isolation: worktree keeps them apart"
            )
        if self.merge and all(self.isolation_of(task) != WORKTREE for task in self.tasks):
            notes.append("merge: true lands passing tasks that run in a worktree, and no task has isolation: worktree: nothing will be merged")
        return notes + self._worktree_notes()

    def _worktree_notes(self) -> list[str]:
        by_id = {task.id: task for task in self.tasks}
        for task in self.tasks:
            if self.isolation_of(task) != WORKTREE:
                continue
            for dep in task.depends_on:
                if self.isolation_of(by_id[dep]) != WORKTREE:
                    return [
                        f"{task.id!r} runs in a worktree of the session's base commit and will not see what {dep!r}, which it "
                        f"depends on, changes in your checkout: give {dep!r} isolation: worktree and the plan merge: true"
                    ]
                if not self.merge:
                    return [
                        f"{task.id!r} runs in a worktree of the session's base commit and will not see what {dep!r}, which it "
                        "depends on, changed: set merge: true in the plan to land each passing task before the tasks after it start"
                    ]
        return []

    def first(self, count: int | None) -> "Plan":
        """The plan cut to its first `count` tasks (`--tasks N`, `total_tasks`): all of them when it has no more."""
        if count is None:
            return self
        if count < 1:
            raise ConfigError(f"--tasks {count}: must be at least 1", hint="pass how many of the plan's tasks to run")
        if count >= len(self.tasks):
            return self
        kept = self.tasks[:count]
        ids = {task.id for task in kept}
        for index, task in enumerate(kept):
            missing = [dep for dep in task.depends_on if dep not in ids]
            if missing:
                raise ConfigError(
                    f"{self.source}: tasks[{index}] ({task.id}) depends on {missing[0]!r}, which is not among the first {count} tasks",
                    hint="raise --tasks or reorder the plan",
                )
        return replace(self, tasks=kept)


def starter_plan() -> str:
    """The commented example plan `br init` writes to `.buildrunner/plan.yaml` when a project has none."""
    return (Path(__file__).with_name("starter_plan.yaml")).read_text(encoding="utf-8")


def find_plan(root: Path) -> Path | None:
    """`.buildrunner/plan.{yaml,yml,json,toml}`, the default plan of a project."""
    for suffix in PLAN_SUFFIXES:
        candidate = root / STATE_DIR_NAME / f"plan{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _check_repeated_keys(nodes: list[Any], where: str) -> None:
    """A key written twice in one mapping is an error: parsers keep the last, silently (a merge key's are overridable)."""
    import yaml  # PyYAML (about 20 ms) only to read a YAML plan: `br init` imports this module to write one

    for node in nodes:
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                if key.value in first:
                    raise ConfigError(
                        f"{where}:{key.start_mark.line + 1}: the key {key.value!r} is given twice in one mapping (first on line {first[key.value]})",
                        hint="keep one of them",
                    )
                first[key.value] = key.start_mark.line + 1


def _yaml_lines(root: Any) -> dict[tuple[Any, ...], int]:
    """Line (1-based) of every key path in a composed YAML document, for error locations."""
    import yaml

    lines: dict[tuple[Any, ...], int] = {}
    stack: list[tuple[Any, tuple[Any, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:  # an alias: its lines are those of its anchor
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                stack.append((value, path + (key.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (index,)) for index, item in enumerate(node.value))
    return lines


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_yaml_shape(root: Any, where: str) -> list[Any]:
    """Refuse alias expansion far beyond what is written ("billion laughs") and absurd nesting, before building anything.

    Returns every node once (an alias is its anchor's node), for the checks that follow."""
    sizes: dict[int, int] = {}
    order: list[Any] = []
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: nested deeper than {MAX_DEPTH} levels", hint="a plan is a mapping with a list of tasks; flatten it")
        if id(node) in sizes:
            continue
        sizes[id(node)] = 0
        order.append(node)
        stack.extend((child, depth + 1) for child in _children(node))
    for node in reversed(order):  # children before parents: the size each would have with its aliases written out
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
    if sizes[id(root)] > len(order) + MAX_ALIAS_EXPANSION:
        raise ConfigError(
            f"{where}: its aliases expand to {sizes[id(root)]:,} values from {len(order):,} written ones",
            hint="write the repeated parts out, or use fewer nested aliases",
        )
    return order


def _check_depth(data: Any, where: str) -> None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: nested deeper than {MAX_DEPTH} levels", hint="a plan is a mapping with a list of tasks; flatten it")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _parse(path: Path, text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        data, lines = _parse_format(path, text)
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels", hint="a plan is a mapping with a list of tasks; flatten it") from None
    except ValueError as exc:  # Python refuses integers of thousands of digits
        raise ConfigError(f"{path}: a number is out of range ({str(exc).split(':')[0]})", hint="fix the number") from None
    _check_depth(data, str(path))
    return data, lines


def _parse_format(path: Path, text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=no_repeated_keys(path)), {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}", hint="fix the syntax") from None
    if suffix == ".toml":
        try:
            return tomllib.loads(text), {}
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}", hint="fix the syntax") from None
    if suffix in {".yaml", ".yml"}:
        import yaml

        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)  # libyaml's parser when PyYAML has it: ~10x faster
            try:
                root = loader.get_single_node()
                if root is None:
                    return None, {}
                _check_repeated_keys(_check_yaml_shape(root, str(path)), str(path))
                return loader.construct_document(root), _yaml_lines(root)
            finally:
                loader.dispose()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}", hint="fix the syntax") from None
    raise ConfigError(f"{path}: unknown plan format {suffix or '(no suffix)'}", hint="use a .yaml, .json or .toml file")


class _Locator:
    """Formats `file:line: tasks[2].comand` for a key path."""

    def __init__(self, source: str, lines: dict[tuple[Any, ...], int], data: Any) -> None:
        self.source, self.lines, self.data = source, lines, data

    def __call__(self, loc: tuple[Any, ...]) -> str:
        line = None
        for cut in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:cut]))
            if line is not None:
                break
        where = f"{self.source}:{line}" if line else self.source
        return f"{where}: {self._describe(loc)}" if loc else where

    def _describe(self, loc: tuple[Any, ...]) -> str:
        text = ""
        for part in loc:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            tasks = self.data.get("tasks") if isinstance(self.data, dict) else None
            if isinstance(tasks, list) and loc[1] < len(tasks) and isinstance(tasks[loc[1]], dict) and "id" in tasks[loc[1]]:
                text += f" (task {tasks[loc[1]]['id']!r})"
        return text


def _explain(error: ErrorDetails, locate: _Locator) -> ConfigError:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        known = list(PlanTask.model_fields if len(loc) > 1 and loc[0] == "tasks" else PlanModel.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return ConfigError(f"{locate(loc)}: unknown key", hint=hint)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        message = "task ids use ASCII letters, digits, '.', '_' and '-' (they name log files and branches)"
    value = error.get("input")
    if error["type"] == "string_type" and isinstance(value, (bool, int, float)):
        kind = "a boolean" if isinstance(value, bool) else "a number"
        hint = "put the value in quotes, as written"
        if locate.source.endswith((".yaml", ".yml")):  # YAML reads `command: true` (or yes, on, 1.10) as a boolean or a number
            hint += ": YAML reads true, yes, on and numbers as values, not text"
        return ConfigError(f"{locate(loc)}: expected text, got {kind} ({str(value).lower() if isinstance(value, bool) else value})", hint=hint)
    return ConfigError(f"{locate(loc)}: {message}", hint="fix the plan; nothing was started")


def _check_graph(tasks: list[PlanTask], locate: _Locator) -> None:
    index_of: dict[str, int] = {}
    for index, task in enumerate(tasks):
        if task.id in index_of:
            raise ConfigError(
                f"{locate(('tasks', index, 'id'))}: duplicate task id {task.id!r} (first at tasks[{index_of[task.id]}])",
                hint="give every task its own id",
            )
        index_of[task.id] = index
    for index, task in enumerate(tasks):
        for position, dep in enumerate(task.depends_on):
            if dep in task.depends_on[:position]:
                raise ConfigError(f"{locate(('tasks', index, 'depends_on', position))}: {dep!r} is listed twice", hint="list each dependency once")
            if dep not in index_of:
                close = difflib.get_close_matches(dep, list(index_of), n=1)
                raise ConfigError(
                    f"{locate(('tasks', index, 'depends_on', position))}: unknown dependency {dep!r}",
                    hint=f"did you mean {close[0]!r}?" if close else "list ids of tasks in this plan",
                )
    # Depth-first search with colours; the grey stack is the cycle when we meet a grey node.
    colour: dict[str, int] = {}
    deps = {task.id: task.depends_on for task in tasks}
    for start in deps:
        if colour.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path = [start]
        colour[start] = 1
        while stack:
            node, next_dep = stack[-1]
            if next_dep < len(deps[node]):
                stack[-1] = (node, next_dep + 1)
                dep = deps[node][next_dep]
                if colour.get(dep) == 1:
                    cycle = path[path.index(dep) :] + [dep]
                    raise ConfigError(
                        f"{locate(('tasks', index_of[node], 'depends_on'))}: dependency cycle {' -> '.join(cycle)}",
                        hint="remove one of these dependencies",
                    )
                if not colour.get(dep):
                    colour[dep] = 1
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                colour[node] = 2
                stack.pop()
                path.pop()


def _resolve_agent_command(command: str, base: Path, where: str) -> str:
    """Words starting with `./` or `../` are paths relative to the plan's folder, so the plan runs from any cwd."""
    words = shlex.split(command)
    if not any(word.startswith(("./", "../")) for word in words):
        return command
    for index, word in enumerate(words):
        if word.startswith(("./", "../")):
            path = (base / word).resolve()
            if not path.exists():
                raise ConfigError(f"{where}: {word} ({path}) does not exist", hint="paths starting with ./ are relative to the plan file")
            words[index] = str(path)
    return shlex.join(words)


def validate_plan(data: Any, source: str, lines: dict[tuple[Any, ...], int] | None = None, base: Path | None = None) -> Plan:
    """Check a parsed plan; raise ConfigError naming the place of the first problem.

    `base` (the plan file's folder) anchors `./` paths in `agent_command`; default the cwd.
    """
    locate = _Locator(source, lines or {}, data)
    if isinstance(data, list):
        data = {"tasks": data}
        locate.data = data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a plan is a mapping with a 'tasks' list", hint="e.g. tasks: [{id: build, command: make}]; `br init` writes an example .buildrunner/plan.yaml")
    try:
        model = PlanModel.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc.errors()[0], locate) from None
    _check_graph(model.tasks, locate)
    agent_command = model.agent_command
    if agent_command is not None:
        agent_command = _resolve_agent_command(agent_command, base or Path.cwd(), locate(("agent_command",)))
    if model.max_cost is not None and model.cost_limit is not None:
        raise ConfigError(f"{locate(('max_cost',))}: give max_cost or its old name cost_limit, not both", hint="fix the plan; nothing was started")
    return Plan(
        source, model.tasks, model.name, model.workers, model.timeout, model.retries,
        model.max_cost if model.max_cost is not None else model.cost_limit, agent_command,
        agent=model.agent, verify=model.verify, escalate=model.escalate, isolation=model.isolation, setup=model.setup, merge=model.merge,
        halt_on_failure=model.halt_on_failure,
    )


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such plan file", hint="pass --config with an existing .yaml, .json or .toml plan") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})", hint="check the file's permissions and encoding") from None
    data, lines = _parse(path, text)
    return validate_plan(data, str(path), lines, path.parent)


__all__ = ["Plan", "PlanTask", "find_plan", "load_plan", "validate_plan"]
