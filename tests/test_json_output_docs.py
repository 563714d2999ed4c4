"""docs/json-output.md against the real `--format json` output of the commands it documents.

The page has one section per command (`## br parallel list`), each with a `Key | Type | Meaning` table: one
row per key, nested keys dotted (`metrics.p95_latency_ms`), list items as `[]` (`steps[].status`, `[].id` for
a top-level array). A segment written `<...>` (`by_model.<model>`) stands for any key of an open-ended map;
when such a placeholder ends a row and no row goes below it, it covers whatever the value holds (event
metadata, configuration sections).

Each command runs for real here (subprocesses of `python -m buildrunner`, a real git repository and store,
the agent stand-ins of tests/agents for prompt tasks) in the situations that make its optional parts appear
(findings, a failed task, a running agent, a merge that ran verify, ...). The keys of all of a command's
outputs, flattened the same dotted way, must equal its table's keys, both ways:

- a key in the output that no row documents fails (a new key needs its row);
- a documented key missing wherever its enclosing object appears fails (a removed or renamed key);
- a documented key whose enclosing object these runs never produce fails too, unless it is listed in
  NOT_PRODUCED with the reason the runs cannot produce it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "parallel"))
from parallel_helpers import FAKE_AWS_KEY, kill_left_in, make_repo, wait_for, write_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "json-output.md"
STANDINS = Path(__file__).resolve().parent / "agents" / "standins"
FINAL_STATES = ("completed", "failed", "stopped")

# Documented keys these runs cannot produce, and why; every other documented key must show up.
NOT_PRODUCED: dict[str, dict[str, str]] = {
    "br routing calibrate": {
        "weights.<signal>": "signal weights are refitted from 200 outcomes on; recording that many is too slow here",
        "calibration.weights.<signal>": "as weights.<signal>",
    },
}

Path_ = tuple[str, ...]


# -- the page -------------------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def documented_sections(text: str | None = None) -> dict[str, dict[str, Any]]:
    """`## br ...` heading -> {"header": the first table's header cells, "keys": its first column, in order}."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    sections: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    state = "before"  # before the section's first table, in it, after it
    for line in text.splitlines():
        if line.startswith("## "):
            current, state = None, "before"
            if line.startswith("## br "):
                current = sections.setdefault(line[3:].strip(), {"header": None, "keys": []})
            continue
        if current is None or state == "after":
            continue
        if line.startswith("|"):
            cells = _cells(line)
            if state == "before":
                current["header"], state = cells, "in"
            elif not set(line.replace("|", "").strip()) <= set("-: "):
                current["keys"].append(cells[0].strip("`"))
        elif state == "in":
            state = "after"
    return sections


def pattern(key: str) -> Path_:
    """`steps[].verify.exit_code` -> ("steps", "[]", "verify", "exit_code"); `[].id` -> ("[]", "id")."""
    out: list[str] = []
    for part in key.split("."):
        name, lists = part, 0
        while name.endswith("[]"):
            name, lists = name[:-2], lists + 1
        if name:
            out.append(name)
        out.extend(["[]"] * lists)
    return tuple(out)


def shown(path: Path_) -> str:
    parts: list[str] = []
    for segment in path:
        if segment == "[]" and parts:
            parts[-1] += "[]"
        else:
            parts.append(segment)
    return ".".join(parts)


def placeholder(segment: str) -> bool:
    return segment.startswith("<") and segment.endswith(">")


def matches(doc: Path_, actual: Path_) -> bool:
    return len(doc) == len(actual) and all(d == a or (placeholder(d) and a != "[]") for d, a in zip(doc, actual))


# -- the output -----------------------------------------------------------------------------------------


def flatten(value: Any, prefix: Path_ = ()) -> set[Path_]:
    """Every key path in a JSON value: each object key (nested ones too), list items as "[]"."""
    out: set[Path_] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = (*prefix, str(key))
            out.add(path)
            out |= flatten(item, path)
    elif isinstance(value, list):
        for item in value:
            out |= flatten(item, (*prefix, "[]"))
    return out


def differences(command: str, keys: Iterable[str], outputs: Iterable[Any]) -> list[str]:
    """What differs between a section's keys and the keys of the command's outputs (empty: they agree)."""
    documented = {pattern(k): k for k in keys}
    actual = set().union(*(flatten(o) for o in outputs))
    open_ended = {
        p for p in documented if p and placeholder(p[-1]) and not any(len(q) > len(p) and q[: len(p)] == p for q in documented)
    }

    def covered(path: Path_) -> bool:
        return any(matches(p, path) for p in documented) or any(
            len(path) > len(p) and matches(p, path[: len(p)]) for p in open_ended
        )

    problems = [f"{command}: `{shown(a)}` is in the output but not documented" for a in sorted(actual) if not covered(a)]
    allowed = NOT_PRODUCED.get(command, {})
    for p, key in documented.items():
        if any(matches(p, a) for a in actual) or key in allowed:
            continue
        if any(len(a) == len(p) and matches(p[:-1], a[:-1]) for a in actual):
            problems.append(f"{command}: `{key}` is documented but missing from the output")
        else:
            problems.append(
                f"{command}: `{key}` is documented but these runs never produce it (add it to NOT_PRODUCED with why, or produce it)"
            )
    return problems


def assert_documented(outputs: dict[str, list[Any]]) -> None:
    sections = documented_sections()
    problems: list[str] = []
    for command, docs in outputs.items():
        assert command in sections, f"docs/json-output.md has no section `## {command}`"
        problems += differences(command, sections[command]["keys"], docs)
    assert not problems, "docs/json-output.md and the JSON output differ:\n" + "\n".join(problems)


def as_json(result: Any, *codes: int) -> Any:
    assert result.returncode in (codes or (0,)), f"exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


# -- the page's own shape -------------------------------------------------------------------------------


def json_commands() -> set[str]:
    """Every `br` command with a `--format` option offering json, read from the Typer apps' own declarations."""
    import typing

    from buildrunner.cli.groups import GROUPS

    found: set[str] = set()

    def offers_json(hint: Any) -> bool:
        if typing.get_origin(hint) is not typing.Annotated:
            return False
        base, *infos = typing.get_args(hint)
        # typer takes a str first argument of an Annotated typer.Option as its first option name (`default`)
        names = {name for info in infos for name in (getattr(info, "default", None), *(getattr(info, "param_decls", None) or ()))}
        return "--format" in names and (base is str or "json" in typing.get_args(base))

    def walk(app: Any, path: str) -> None:
        for command in app.registered_commands:
            hints = typing.get_type_hints(command.callback, include_extras=True)
            if any(offers_json(hint) for hint in hints.values()):
                found.add(f"{path} {command.name or command.callback.__name__.replace('_', '-')}")
        for group in app.registered_groups:
            walk(group.typer_instance, f"{path} {group.name}")

    for name, (module, _, _) in GROUPS.items():
        walk(import_module(module).app, f"br {name}")
    return found


def test_the_page_has_one_section_per_command_with_json_output_each_with_a_key_table() -> None:
    sections = documented_sections()
    # `## br parallel start --dry-run`: an option that changes what a command prints has its own section
    assert {name for name in sections if " --" not in name} == json_commands()
    assert {name.partition(" --")[0] for name in sections} == json_commands()
    for command, section in sections.items():
        assert section["header"] == ["Key", "Type", "Meaning"], command
        assert section["keys"], f"{command}: no keys documented"
        assert len(section["keys"]) == len(set(section["keys"])), f"{command}: a key documented twice"


def test_the_comparison_catches_a_new_key_and_a_removed_one() -> None:
    keys = ["a", "b", "b.<name>", "c", "c[].d", "m", "m.<key>"]
    output = {"a": 1, "b": {"x": 1}, "c": [{"d": 1}], "m": {"k": {"deep": [1]}}}
    assert differences("x", keys, [output]) == []
    assert differences("x", keys, [{**output, "new": 1}]) == ["x: `new` is in the output but not documented"]
    assert differences("x", keys, [{**output, "c": [{"e": 1}]}]) == [
        "x: `c[].e` is in the output but not documented",
        "x: `c[].d` is documented but missing from the output",
    ]
    assert "x: `c[].d` is documented but these runs never produce it" in differences("x", keys, [{**output, "c": []}])[0]
    assert differences("x", ["[].id"], [[{"id": 1}]]) == [] and differences("x", ["[].id"], [[]])[0].endswith("produce it)")


# -- the commands ---------------------------------------------------------------------------------------


@pytest.fixture
def session_project(tmp_project: Path) -> Iterator[Path]:
    """`tmp_project` with a first commit, fast heartbeats, and a success-rate threshold a failed task trips."""
    make_repo(tmp_project)
    write_config(tmp_project)
    config = tmp_project / ".buildrunner" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "telemetry": {"thresholds": {"success_rate_warning": 99}}}))
    yield tmp_project
    kill_left_in(tmp_project)


PLAN = """\
tasks:
  - id: build
    command: echo built > build.txt && echo built
    isolation: worktree
    verify: echo verified && test -f build.txt
  - id: broken
    command: echo boom; exit 3
  - id: after-broken
    command: echo never
    depends_on: [broken]
  - id: docs
    prompt: Document the public API
    agent: claude
    env: {BR_STANDIN_DELAY: "0"}
  - id: hang
    prompt: Refactor the parser
    agent: claude
    env: {BR_STANDIN_SCENARIO: hang}
"""


def test_parallel_telemetry_and_costs_output_matches_the_docs(session_project: Path, run_br: Any, tmp_path: Path) -> None:
    (session_project / ".buildrunner" / "plan.yaml").write_text(PLAN)
    env = {"PATH": f"{STANDINS}{os.pathsep}{os.environ['PATH']}"}
    outputs: dict[str, list[Any]] = {}

    def br(*args: str, codes: tuple[int, ...] = (0,)) -> Any:
        return as_json(run_br(*args, "--format", "json", env=env), *codes)

    def keep(command: str, value: Any) -> Any:
        outputs.setdefault(command, []).append(value)
        return value

    keep("br parallel start --dry-run", br("parallel", "start", "jdoc", "--workers", "3", "--dry-run"))
    session = keep("br parallel start", br("parallel", "start", "jdoc", "--workers", "3"))
    sid = session["session_id"]
    try:
        # While the hanging agent runs and everything else has ended: an agent, live workers, a live session.
        def hanging() -> Any:
            status = br("parallel", "status", sid)
            others = [t for t in status["tasks"] if t["task_id"] != "hang"]
            done = all(t["status"] in ("completed", "failed", "skipped") for t in others)
            return status if done and any(a["task_id"] == "hang" and a["turns"] for a in status["agents"]) else None

        keep("br parallel status", wait_for(hanging, 90, "the hanging agent with every other task ended"))
        keep("br parallel workers", br("parallel", "workers", sid))
        keep("br parallel list", br("parallel", "list"))
    finally:
        run_br("parallel", "stop", sid, "--force")
    keep(
        "br parallel status",
        wait_for(
            lambda: (s := br("parallel", "status", sid))["status"] in FINAL_STATES and not s["running_tasks"] and s,
            60,
            "the stopped session",
        ),
    )
    keep("br parallel workers", br("parallel", "workers", sid))
    keep("br parallel list", br("parallel", "list"))
    keep("br parallel logs", br("parallel", "logs", sid, "build"))
    keep("br parallel logs", br("parallel", "logs", sid, "broken"))
    keep("br parallel merge", br("parallel", "merge", sid, "--dry-run"))
    keep("br parallel merge", br("parallel", "merge", sid))

    keep("br telemetry summary", br("telemetry", "summary"))
    keep("br telemetry events", br("telemetry", "events", "--limit", "1000"))
    keep("br telemetry alerts", br("telemetry", "alerts"))
    keep("br telemetry performance", br("telemetry", "performance"))
    keep("br telemetry prune", br("telemetry", "prune"))
    keep("br telemetry export", br("telemetry", "export", str(tmp_path / "events.csv"), "--type", "events"))
    keep("br telemetry export", _otlp_export(br))
    keep("br routing costs", br("routing", "costs"))
    keep("br routing costs", br("routing", "costs", "--period", "all"))
    keep("br routing models", br("routing", "models"))

    final = outputs["br parallel status"][-1]
    assert final["status"] == "stopped" and final["failures"] and final["tasks"][0]["ladder"][0]["branch"]
    assert any(step["verify"] for step in outputs["br parallel merge"][-1]["steps"])
    assert outputs["br telemetry alerts"][0] and outputs["br routing costs"][0]["by_agent"]
    assert_documented(outputs)


def _otlp_export(br: Any) -> Any:
    """`telemetry export --type otlp` to a collector on localhost that accepts everything."""
    import http.server
    import threading

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return br("telemetry", "export", "--type", "otlp", "--endpoint", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def test_viewing_commands_without_any_session_print_the_documented_empty_values(tmp_project: Path, run_br: Any) -> None:
    assert as_json(run_br("parallel", "status", "--format", "json")) is None
    assert as_json(run_br("parallel", "workers", "--format", "json")) == []
    assert as_json(run_br("parallel", "list", "--format", "json")) == []


def test_security_output_matches_the_docs(tmp_project: Path, run_br: Any, files: Any) -> None:
    files(
        tmp_project,
        {
            "settings.py": f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n',
            "db.py": 'def get(cursor, x):\n    cursor.execute(f"SELECT * FROM t WHERE id={x}")\n',
            "broken.py": 'def f(cursor x):\n    cursor.execute("SELECT 1" + x\n',
        },
    )
    (tmp_project / ".buildrunner" / "config.json").write_text(json.dumps({"security": {"max_file_size_mb": 0.001}}))
    (tmp_project / "big.txt").write_text("x" * 2000)  # over the 1 kB limit: not scanned, which fails a check
    (tmp_project / "blob.bin").write_bytes(b"\0\1\2binary")
    (tmp_project / "outside.txt").symlink_to("/etc/hostname")
    scans = [
        as_json(run_br("security", "scan", "--format", "json"), 3),
        as_json(run_br("security", "scan", "--no-sql", "--format", "json"), 3),
        as_json(run_br("security", "scan", "db.py", "--sql", "--format", "json"), 3),
    ]
    assert scans[0]["secrets"] and scans[0]["sql_injection"] and scans[0]["not_scanned"] and scans[0]["not_analysed"]
    checks = [as_json(run_br("security", "check", "--format", "json"), 3)]
    subprocess.run(["git", "add", "settings.py", "big.txt"], cwd=tmp_project, check=True)
    checks.append(as_json(run_br("security", "check", "--staged", "--format", "json"), 3))
    hooks = [as_json(run_br("security", "hooks", "status", "--format", "json"), 1)]
    assert run_br("security", "hooks", "install").returncode == 0
    hooks.append(as_json(run_br("security", "hooks", "status", "--format", "json")))
    assert all(check["not_scanned"] for check in checks)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--no-verify", "-m", "leak"], cwd=tmp_project, check=True)
    history = [as_json(run_br("security", "history", "--format", "json"), 3)]
    assert history[0]["secrets"] and history[0]["not_scanned"]
    assert_documented({"br security scan": scans, "br security check": checks, "br security hooks status": hooks, "br security history": history})


def test_routing_output_matches_the_docs(tmp_project: Path, run_br: Any) -> None:
    outputs: dict[str, list[Any]] = {
        "br routing estimate": [
            as_json(run_br("routing", "estimate", "Fix a race condition in the payment ledger", "--format", "json")),
            as_json(run_br("routing", "estimate", "Fix a typo in the README", "--verbose", "--format", "json")),
        ],
        "br routing select": [
            as_json(
                run_br(
                    "routing",
                    "select",
                    "Refactor database queries",
                    "--cost-limit",
                    "0.05",
                    "--time-limit",
                    "60",
                    "--format",
                    "json",
                )
            ),
            as_json(run_br("routing", "select", "Fix a typo", "--model", "opus", "--format", "json")),
            as_json(run_br("routing", "select", "Fix a typo in the README", "--verbose", "--format", "json")),
        ],
        "br routing calibrate": [as_json(run_br("routing", "calibrate", "--dry-run", "--format", "json"))],
    }
    _record_outcomes(tmp_project, 40)
    outputs["br routing calibrate"].append(as_json(run_br("routing", "calibrate", "--dry-run", "--format", "json")))
    assert outputs["br routing calibrate"][-1]["before"] is not None
    # these attempts cost more than estimated: once that scale is written, a calibration shows thresholds and costs
    assert outputs["br routing calibrate"][-1]["costs_better"]
    run_br("routing", "calibrate")
    outputs["br routing calibrate"].append(as_json(run_br("routing", "calibrate", "--dry-run", "--format", "json")))
    assert_documented(outputs)


def _record_outcomes(root: Path, count: int) -> None:
    """Finished prompt tasks as the parallel runner records them: cheap tiers pass simple tasks, hard ones climb."""
    import time

    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityEstimator, estimate_cost
    from buildrunner.routing.models import TIERS, catalogue
    from buildrunner.routing.outcomes import LadderStep, TaskOutcome, record_outcome

    project = Project(root)
    estimator, models = ComplexityEstimator(project), catalogue(project)
    texts = [
        "Fix a typo in the README",
        "Add a --verbose flag",
        "Refactor the database queries",
        "Fix a race condition in the ledger",
    ]
    try:
        for n in range(count):
            estimate = estimator.estimate(f"{texts[n % len(texts)]} ({n})")
            needed = 0 if estimate.complexity_score < 30 else 1 if estimate.complexity_score < 70 else 2
            ladder = []
            for tier in TIERS[TIERS.index(estimate.recommended_model) :]:
                passed = TIERS.index(tier) >= needed
                cost = 2.5 * estimate_cost(estimate.complexity_score, models[tier])  # agents spend more than the estimate
                ladder.append(LadderStep(tier, tier, cost, "passed" if passed else "failed"))
                if passed:
                    break
            record_outcome(
                project, TaskOutcome.from_attempts(estimate, ladder, session_id="s", task_id=f"t{n}", finished_at=time.time())
            )
    finally:
        project.close()


def test_config_show_output_matches_the_docs(tmp_project: Path, run_br: Any) -> None:
    (tmp_project / ".buildrunner" / "config.json").write_text(json.dumps({"parallel": {"default_workers": 2}}))
    shown_ = as_json(run_br("config", "show", "--format", "json", env={"BR_COST_LIMIT_DAILY": "5"}))
    assert shown_["changed"]
    assert_documented({"br config show": [shown_]})


def test_quality_and_gaps_output_matches_the_docs(tmp_project: Path, run_br: Any, files: Any) -> None:
    files(
        tmp_project,
        {
            "README.md": "# calc\n\nInstall with pip. Usage: `calc 1+1`.\n",
            "calc/__init__.py": '"""A calculator."""\n',
            "calc/core.py": '''
            """Arithmetic."""


            def add(a, b):
                """Add."""
                return a + b


            def todo(x):
                # TODO: finish
                raise NotImplementedError
            ''',
            "calc/keys.py": f'KEY = "{FAKE_AWS_KEY}"\n',
            "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
            "web/app.js": "console.log(1)\n",
        },
    )
    quality = [
        as_json(run_br("quality", "check", "--format", "json"), 0, 4),
        as_json(run_br("quality", "check", "--run-coverage", "--format", "json"), 0, 4),
    ]
    gaps = [as_json(run_br("gaps", "analyze", "--format", "json"))]
    assert quality[0]["not_analysed"] and gaps[0]["gaps"] and gaps[0]["not_analysed"]
    assert_documented({"br quality check": quality, "br gaps analyze": gaps})
