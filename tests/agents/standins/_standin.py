"""Stand-ins for the `claude`, `codex` and `gemini` programs: no model, only their documented output.

Each script parses its vendor's real options (so a prompt that slipped in front of `--` would be
read as an option, as the real program would), takes the prompt from where the vendor takes it
(standard input; or the argument), then prints one recorded fixture byte for byte:
`tests/agents/fixtures/<vendor>/<file>` as listed in that folder's `scenarios.json`.

Environment (all optional):
  BR_STANDIN_SCENARIO   scenario name; else `[standin:NAME]` in the prompt; else success (json-success for json output)
  BR_STANDIN_DELAY      seconds between lines, overriding the scenario's
  BR_STANDIN_LINGER     seconds to wait after the last line before exiting (a real CLI saves its session first)
  BR_STANDIN_RECORD     a folder: argv.json, options.json and prompt.bin (the prompt exactly as received) are written there
  BR_STANDIN_WRITE      a path relative to the working folder: the stand-in writes the prompt there (work done)
  BR_STANDIN_FIXTURES   the fixtures root, default ../fixtures next to this file
  BR_STANDIN_RUNS       a file: each run appends one line to it (how many times the agent really ran)

Only the standard library is used: these run under any python3 on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

_MARKER = re.compile(r"\[standin:([A-Za-z0-9_-]+)\]")


class Refused(Exception):
    """The real program would refuse these arguments: message for stderr, and its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise Refused(f"error: {message}", 1)


def _read_stdin() -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    return sys.stdin.buffer.read()


def _claude(argv: list[str]) -> tuple[dict[str, object], bytes, str]:
    p = _Parser(prog="claude", allow_abbrev=False, add_help=False)
    p.add_argument("-p", "--print", action="store_true", dest="print_mode")
    p.add_argument("--output-format", choices=["text", "json", "stream-json"], default="text")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--model")
    p.add_argument("--max-budget-usd", type=float)
    p.add_argument("--max-turns", type=int)
    p.add_argument("--permission-mode", choices=["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"])
    p.add_argument("--dangerously-skip-permissions", action="store_true")
    p.add_argument("--allowedTools", nargs="*")
    p.add_argument("prompt", nargs="?")
    args = p.parse_args(argv)
    if not args.print_mode:
        raise Refused("stand-in claude: only print mode (-p) is supported")
    if args.output_format == "stream-json" and not args.verbose:
        raise Refused("Error: When using --print, --output-format=stream-json requires --verbose")
    if args.output_format == "text":
        raise Refused("stand-in claude: use --output-format json or stream-json")
    piped = _read_stdin()
    prompt = args.prompt.encode("utf-8", "surrogateescape") if args.prompt is not None else piped
    if args.prompt is not None and piped:
        prompt = piped + b"\n" + prompt  # Claude Code puts piped input before the prompt argument
    return vars(args), prompt, args.output_format


def _codex(argv: list[str]) -> tuple[dict[str, object], bytes, str]:
    if not argv or argv[0] != "exec":
        raise Refused("stand-in codex: only `codex exec` is supported")
    p = _Parser(prog="codex exec", allow_abbrev=False, add_help=False)
    p.add_argument("--json", action="store_true")
    p.add_argument("-m", "--model")
    p.add_argument("-s", "--sandbox", choices=["read-only", "workspace-write", "danger-full-access"])
    p.add_argument("--skip-git-repo-check", action="store_true")
    p.add_argument("--full-auto", action="store_true")
    p.add_argument("--dangerously-bypass-approvals-and-sandbox", action="store_true")
    p.add_argument("-c", "--config", action="append")
    p.add_argument("-o", "--output-last-message")
    p.add_argument("--color", choices=["always", "never", "auto"])
    p.add_argument("prompt", nargs="?")
    args = p.parse_args(argv[1:])
    if not args.json:
        raise Refused("stand-in codex: use --json")
    if args.prompt is None or args.prompt == "-":
        prompt = _read_stdin()
        if not prompt:
            raise Refused("No prompt provided. Either specify one as an argument or pipe the prompt into stdin.")
    else:
        prompt = args.prompt.encode("utf-8", "surrogateescape")
    return vars(args), prompt, "jsonl"


def _gemini(argv: list[str]) -> tuple[dict[str, object], bytes, str]:
    p = _Parser(prog="gemini", allow_abbrev=False, add_help=False)
    p.add_argument("-m", "--model")
    p.add_argument("-o", "--output-format", choices=["text", "json", "stream-json"], default="text")
    p.add_argument("--approval-mode", choices=["default", "auto_edit", "yolo", "plan"])
    p.add_argument("-y", "--yolo", action="store_true")
    p.add_argument("-p", "--prompt")
    p.add_argument("--skip-trust", action="store_true")
    p.add_argument("query", nargs="*")
    args = p.parse_args(argv)
    if not args.skip_trust and os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") != "true":  # 0.41 and later, headless
        raise Refused(
            "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`, set the "
            "`GEMINI_CLI_TRUST_WORKSPACE=true` environment variable, or trust this directory in interactive mode.",
            55,
        )
    if args.output_format == "text":
        raise Refused("stand-in gemini: use --output-format json or stream-json")
    piped = _read_stdin()
    prompt = piped
    for extra in [*args.query, *([args.prompt] if args.prompt is not None else [])]:
        prompt = (prompt + b"\n\n" if prompt else b"") + extra.encode("utf-8", "surrogateescape")
    if not prompt:
        raise Refused("No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt option.", 42)
    return vars(args), prompt, args.output_format


PARSERS = {"claude": _claude, "codex": _codex, "gemini": _gemini}


def _scenario(manifest: dict, prompt: bytes, output_format: str) -> tuple[str, dict]:
    name = os.environ.get("BR_STANDIN_SCENARIO")
    if not name:
        marker = _MARKER.search(prompt.decode("utf-8", "replace"))
        name = marker.group(1) if marker else ("json-success" if output_format == "json" else "success")
    scenarios = manifest["scenarios"]
    if name not in scenarios:
        raise Refused(f"stand-in: unknown scenario {name!r}; known: {', '.join(scenarios)}", 2)
    scenario = scenarios[name]
    if scenario.get("file") and scenario.get("format") != output_format:
        raise Refused(f"stand-in: scenario {name!r} prints {scenario.get('format')}, but {output_format} was asked for", 2)
    return name, scenario


def _record(argv: list[str], options: dict[str, object], prompt: bytes) -> None:
    folder = os.environ.get("BR_STANDIN_RECORD")
    if not folder:
        return
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "argv.json").write_text(json.dumps(argv), encoding="utf-8")
    (out / "options.json").write_text(json.dumps(options, default=str), encoding="utf-8")
    (out / "prompt.bin").write_bytes(prompt)


def main(vendor: str) -> int:
    argv = sys.argv[1:]
    root = Path(os.environ.get("BR_STANDIN_FIXTURES") or Path(__file__).resolve().parent.parent / "fixtures")
    try:
        options, prompt, output_format = PARSERS[vendor](argv)
        _record(argv, options, prompt)
        manifest = json.loads((root / vendor / "scenarios.json").read_text(encoding="utf-8"))
        _, scenario = _scenario(manifest, prompt, output_format)
    except Refused as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.code
    runs = os.environ.get("BR_STANDIN_RUNS")
    if runs:
        with open(runs, "a", encoding="utf-8") as handle:
            handle.write(f"{vendor} {os.getpid()}\n")
    target = os.environ.get("BR_STANDIN_WRITE")
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(prompt)
    delay = float(os.environ.get("BR_STANDIN_DELAY") or scenario.get("delay") or 0)
    data = (root / vendor / scenario["file"]).read_bytes() if scenario.get("file") else b""
    out = sys.stdout.buffer
    for index, line in enumerate(data.splitlines(keepends=True)):
        if index and delay:
            time.sleep(delay)
        out.write(line)
        out.flush()
    if scenario.get("stderr"):
        sys.stderr.write(scenario["stderr"])
        sys.stderr.flush()
    time.sleep(float(os.environ.get("BR_STANDIN_LINGER") or 0))
    while scenario.get("hang"):
        time.sleep(3600)
    return int(scenario.get("exit", 0))
