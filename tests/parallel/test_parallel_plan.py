"""Plans are checked before anything runs: every problem named with its place, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildrunner.errors import ConfigError, NotFoundError
from buildrunner.parallel.plan import PlanModel, PlanTask, load_plan, validate_plan


def test_yaml_json_and_toml_plans_load_the_same_tasks(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("workers: 2\ntasks:\n  - id: a\n    command: echo a\n  - id: b\n    prompt: fix it\n    depends_on: [a]\n")
    (tmp_path / "p.json").write_text(json.dumps({"workers": 2, "tasks": [{"id": "a", "command": "echo a"}, {"id": "b", "prompt": "fix it", "depends_on": ["a"]}]}))
    (tmp_path / "p.toml").write_text('workers = 2\n[[tasks]]\nid = "a"\ncommand = "echo a"\n[[tasks]]\nid = "b"\nprompt = "fix it"\ndepends_on = ["a"]\n')
    plans = [load_plan(tmp_path / name) for name in ("p.yaml", "p.json", "p.toml")]
    for plan in plans:
        assert plan.workers == 2
        assert [(t.id, t.kind, t.depends_on) for t in plan.tasks] == [("a", "command", []), ("b", "prompt", ["a"])]
        assert plan.has_prompts


def test_unknown_key_names_file_line_task_and_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("tasks:\n  - id: build\n    command: make\n  - id: test\n    comand: pytest\n")
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    text = str(err.value)
    assert f"{path}:5" in text and "tasks[1].comand" in text and "'test'" in text and "did you mean 'command'" in text
    assert err.value.exit_code == 2


def test_yaml_values_that_are_not_text_are_explained(tmp_path: Path) -> None:
    """`command: true` is YAML's boolean, not the `true` program: the error says so and how to write it."""
    path = tmp_path / "plan.yaml"
    path.write_text("tasks:\n  - id: ok\n    command: make\n  - id: t\n    command: true\n  - id: v\n    command: 1.10\n")
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert f"{path}:5: tasks[1].command (task 't'): expected text, got a boolean (true)" in str(err.value)
    assert "put the value in quotes" in (err.value.hint or "") and "YAML reads true" in (err.value.hint or "")
    path.write_text('tasks:\n  - id: t\n    command: "true"\n')
    assert load_plan(path).tasks[0].command == "true"
    with pytest.raises(ConfigError, match=r"expected text, got a number \(5\)"):
        validate_plan({"tasks": [{"id": "a", "command": 5}]}, "plan.json")


@pytest.mark.parametrize(("written", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172_800), (45, 45)])
def test_a_timeout_may_be_written_as_a_duration(written: object, seconds: float) -> None:
    """`timeout: 10m` was "Input should be a valid number"."""
    plan = validate_plan({"timeout": written, "tasks": [{"id": "a", "command": "x", "timeout": written}]}, "plan.yaml")
    assert plan.tasks[0].timeout == plan.timeout == seconds


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([{"id": "a", "command": "x"}, {"id": "a", "command": "y"}], "duplicate task id 'a' (first at tasks[0])"),
        ([{"id": "a", "command": "x", "depends_on": ["nope"]}], "tasks[0].depends_on[0] (task 'a'): unknown dependency 'nope'"),
        ([{"id": "a", "command": "x", "depends_on": ["b"]}, {"id": "b", "command": "y", "depends_on": ["a"]}], "dependency cycle a -> b -> a"),
        ([{"id": "a", "command": "x", "depends_on": ["a"]}], "dependency cycle a -> a"),
        ([{"id": "a", "command": "x"}, {"id": "b", "command": "y", "depends_on": ["a", "a"]}], "tasks[1].depends_on[1] (task 'b'): 'a' is listed twice"),
        ([{"id": "a", "command": "x", "retries": "2"}], "tasks[0].retries (task 'a'): Input should be a valid integer"),  # was 2 retries
        ([{"id": "a", "command": "x", "escalate": "no"}], "tasks[0].escalate (task 'a'): Input should be a valid boolean"),
        ([{"id": "a"}], "exactly one of 'command'"),
        ([{"id": "a", "command": "x", "prompt": "y"}], "exactly one of 'command'"),
        ([{"id": "bad id", "command": "x"}], "task ids use ASCII letters"),
        ([{"id": "café", "command": "x"}], "task ids use ASCII letters"),  # the message said "letters" and refused ü
        ([{"id": "a", "command": "x", "cwd": "/tmp"}], "tasks[0].cwd (task 'a'): '/tmp': give a folder of the project"),
        ([{"id": "a", "command": "x", "cwd": "services/../../elsewhere"}], "give a folder of the project"),  # out of a worktree
        ([{"id": "a", "command": "x", "timeout": -1}], "tasks[0].timeout"),
        ([{"id": "a", "command": "x", "timeout": "ten minutes"}], "tasks[0].timeout (task 'a'): 'ten minutes' is not a duration: give seconds (600) or a duration such as 90s"),
        ([], "tasks"),
    ],
)
def test_plan_errors_are_located(tasks: list[dict[str, object]], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_plan({"tasks": tasks}, "plan.json")
    assert expected in str(err.value)
    assert str(err.value).startswith("plan.json")


def test_tasks_n_keeps_the_first_n_and_checks_their_dependencies() -> None:
    plan = validate_plan({"tasks": [{"id": "a", "command": "x"}, {"id": "b", "command": "y"}, {"id": "c", "command": "z", "depends_on": ["a"]}]}, "p")
    assert [t.id for t in plan.first(2).tasks] == ["a", "b"]
    assert plan.first(4) is plan and plan.first(3) is plan  # asking for more than there are runs them all
    later = validate_plan({"tasks": [{"id": "a", "command": "x", "depends_on": ["b"]}, {"id": "b", "command": "y"}]}, "p")
    with pytest.raises(ConfigError, match="not among the first 1 tasks"):
        later.first(1)


def test_missing_plan_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_plan(tmp_path / "absent.yaml")


@st.composite
def dags(draw: st.DrawFn) -> list[dict[str, object]]:
    """Random plans whose dependencies only point backwards (so they are acyclic)."""
    n = draw(st.integers(1, 25))
    tasks = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=4)) if i else []
        tasks.append({"id": f"t{i}", "command": "true", "depends_on": [f"t{d}" for d in deps]})
    return tasks


@settings(max_examples=80, deadline=None)
@given(dags())
def test_any_acyclic_plan_is_accepted(tasks: list[dict[str, object]]) -> None:
    assert len(validate_plan({"tasks": tasks}, "p").tasks) == len(tasks)


@settings(max_examples=80, deadline=None)
@given(dags(), st.data())
def test_a_back_edge_is_always_reported_as_a_cycle(tasks: list[dict[str, object]], data: st.DataObject) -> None:
    # Add an edge from an ancestor to a task reachable from it (through a chain we make explicit).
    if len(tasks) < 2:
        tasks.append({"id": f"t{len(tasks)}", "command": "true", "depends_on": []})
    low = data.draw(st.integers(0, len(tasks) - 2))
    high = data.draw(st.integers(low + 1, len(tasks) - 1))
    tasks[high]["depends_on"] = sorted({*tasks[high]["depends_on"], f"t{low}"})  # type: ignore[misc]
    tasks[low]["depends_on"] = sorted({*tasks[low]["depends_on"], f"t{high}"})  # type: ignore[misc]
    with pytest.raises(ConfigError, match="dependency cycle"):
        validate_plan({"tasks": tasks}, "p")


@given(st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_arbitrary_yaml_text_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_plan(path)
    except ConfigError:
        pass



def test_the_readmes_plan_example_is_a_plan_with_every_key_it_describes(tmp_path: Path) -> None:
    """The README's "Plans" section is where `br init`'s plan points for all keys: its example must load as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Plans\n", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "plan.yaml").write_text(example)
    plan = load_plan(tmp_path / "plan.yaml")
    lint, flag = plan.tasks
    assert (lint.kind, flag.kind, flag.depends_on, flag.model, flag.cost_limit, flag.env) == ("command", "prompt", ["lint"], "sonnet", 0.5, {"LOG_LEVEL": "debug"})
    assert (plan.workers, plan.timeout, plan.retries, plan.cost_limit, plan.isolation, plan.merge) == (4, 900, 1, 2.0, "worktree", False)
    documented = {line.split(":", 1)[0].strip(" -") for line in example.splitlines() if ":" in line and not line.lstrip().startswith("#")}
    # every key a plan takes is shown, except the two the text names (agent_command, and cost_limit, max_cost's old name)
    assert (set(PlanModel.model_fields) | set(PlanTask.model_fields)) - {"agent_command", "cost_limit"} <= documented


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("plan.yaml", "tasks:\n  - id: a\n    command: echo 1\n    command: echo 2\n", "plan.yaml:4: the key 'command' is given twice in one mapping (first on line 3)"),
        ("plan.yaml", "tasks:\n  - {id: b, command: 'true'}\n  - id: a\n    depends_on: [b]\n    command: 'true'\n    depends_on: []\n",
         "plan.yaml:6: the key 'depends_on' is given twice"),
        ("plan.json", '{"tasks": [{"id": "a", "command": "echo 1", "command": "echo 2"}]}', "plan.json: the key 'command' is given twice in one object"),
    ],
)
def test_a_key_given_twice_is_refused_not_silently_the_last(tmp_path: Path, name: str, text: str, message: str) -> None:
    """Parsers keep the last of two equal keys: a repeated `depends_on: []` would drop the ordering without a word."""
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_plan(tmp_path / name)


def test_a_yaml_merge_key_may_repeat_the_keys_it_brings(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text("defaults: &d {timeout: 60}\ntasks:\n  - <<: *d\n    id: a\n    command: 'true'\n    timeout: 30\n")
    with pytest.raises(ConfigError, match="defaults: unknown key"):  # the anchor's home is not a plan key; the merge itself is fine
        load_plan(tmp_path / "plan.yaml")


def test_halt_on_failure_is_a_plan_key_and_off_by_default() -> None:
    assert validate_plan({"halt_on_failure": True, "tasks": [{"id": "a", "command": "x"}]}, "p").halt_on_failure is True
    assert validate_plan({"tasks": [{"id": "a", "command": "x"}]}, "p").halt_on_failure is False
