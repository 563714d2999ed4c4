"""A stand-in for Claude Code so the demo's prompt task runs without an API key or a `claude` install.

It is NOT a language model. It takes the arguments of BuildRunner's agent command template
(`-p PROMPT --model MODEL_ID --output-format json`), understands one kind of request,
"Document the public API of the <package> package", and does that work for real: it reads
the package with `ast` and writes `docs/API.md` (in its working folder) listing the public
functions and classes with their signatures and docstrings. Then it prints the result object
Claude Code documents for `--output-format json`, so BuildRunner records the run as it would
a real one. The token counts are derived deterministically from what it read and wrote
(about 4 characters per token, over two turns: read the sources, write the file); the cost is
those tokens at the model's list prices (genai-prices, via `buildrunner.routing.models`).

To use real Claude Code instead, install it (`claude` on PATH, logged in) and drop the
`agent_command:` line from examples/demo/plan.yaml: the built-in `claude` agent then runs
(`agents.default`; `agent: codex` or `agent: gemini` in the plan picks another).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from buildrunner.errors import BuildRunnerError
from buildrunner.routing.models import cost_of, price_of_unconfigured

REQUEST = re.compile(r"document the public api of the ([A-Za-z_][A-Za-z0-9_]*) package", re.IGNORECASE)
OUTPUT = Path("docs") / "API.md"
CHARS_PER_TOKEN = 4
TURNS = 2  # read the sources, then write the file


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _public_names(init: ast.Module) -> list[str] | None:
    """The package's `__all__`, when it lists names literally."""
    for node in init.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [str(name) for name in value]
    return None


def _entry(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, module: str) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(base) for base in node.bases)
        heading = f"class {node.name}({bases})" if bases else f"class {node.name}"
    else:
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        heading = f"{node.name}({ast.unparse(node.args)}){returns}"
    doc = ast.get_docstring(node) or "(no docstring)"
    return f"### `{heading}`\n\nDefined in `{module}`.\n\n{doc}\n"


def document(package: str, root: Path) -> tuple[str, list[str], dict[str, str]]:
    """The API document of `package` under `root`, the public names it lists, and the files it read (path -> text)."""
    folder = root / package
    init_file = folder / "__init__.py"
    if not init_file.is_file():
        raise FileNotFoundError(f"no package {package!r} here ({init_file} is missing)")
    sources = {path: path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.py"))}
    init = ast.parse(sources[init_file])
    wanted = _public_names(init)
    definitions: dict[str, str] = {}
    for path, text in sources.items():
        module = path.relative_to(root).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                definitions.setdefault(node.name, _entry(node, module))
    names = [name for name in (wanted if wanted is not None else sorted(definitions)) if name in definitions]
    summary = ast.get_docstring(init) or ""
    parts = [f"# `{package}` API\n", "<!-- Written by examples/demo/demo_agent.py (the demo's stand-in agent). -->\n"]
    if summary:
        parts.append(f"{summary}\n")
    parts.append("## Public functions and classes\n")
    parts.extend(definitions[name] for name in names)
    return "\n".join(parts), names, {path.relative_to(root).as_posix(): text for path, text in sources.items()}


def result_json(prompt: str, model_id: str, message: str, error: bool, read: str, written: str, started: float) -> dict[str, Any]:
    """Claude Code's `--output-format json` result for this run."""
    turns = TURNS if written else 1
    read_tokens = tokens(read)
    usage = {
        "input_tokens": tokens(prompt) * turns,  # the prompt is sent on each turn; the sources are cached
        "cache_creation_input_tokens": read_tokens,  # turn 1 reads the sources into the cache
        "cache_read_input_tokens": read_tokens if written else 0,  # turn 2 writes from the cached sources
        "output_tokens": tokens(written) + tokens(message),
    }
    cost = cost_of(
        price_of_unconfigured(model_id),
        usage["input_tokens"],
        usage["output_tokens"],
        cache_read_tokens=usage["cache_read_input_tokens"],
        cache_write_tokens=usage["cache_creation_input_tokens"],
    )
    duration_ms = round((time.monotonic() - started) * 1000)
    return {
        "type": "result",
        "subtype": "error_during_execution" if error else "success",
        "is_error": error,
        "duration_ms": duration_ms,
        "duration_api_ms": 0,  # no API was called
        "num_turns": turns,
        "result": message,
        "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-agent:{model_id}:{prompt}")),
        "total_cost_usd": cost,
        "usage": usage,
        "modelUsage": {
            model_id: {
                "inputTokens": usage["input_tokens"],
                "outputTokens": usage["output_tokens"],
                "cacheReadInputTokens": usage["cache_read_input_tokens"],
                "cacheCreationInputTokens": usage["cache_creation_input_tokens"],
                "webSearchRequests": 0,
                "costUSD": cost,
            }
        },
        "permission_denials": [],
    }


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description="Demo stand-in for `claude -p PROMPT --model MODEL_ID --output-format json`.")
    parser.add_argument("-p", "--print", action="store_true", dest="print_mode", help="non-interactive mode (always on)")
    parser.add_argument("prompt")
    parser.add_argument("--model", required=True, help="concrete model id, e.g. claude-haiku-4-5")
    parser.add_argument("--output-format", choices=["json"], default="json")
    args = parser.parse_args(argv)
    match = REQUEST.search(args.prompt)
    read = written = ""
    if match is None:
        message, error = 'the demo agent only does "Document the public API of the <package> package"', True
    else:
        package = match.group(1)
        try:
            written, names, files = document(package, Path.cwd())
        except (OSError, SyntaxError, ValueError) as exc:
            message, error = f"could not document {package}: {exc}", True
        else:
            read = "".join(files.values())
            OUTPUT.parent.mkdir(parents=True, exist_ok=True)
            OUTPUT.write_text(written, encoding="utf-8")
            message = f"Wrote {OUTPUT.as_posix()}: {len(names)} public names of {package} ({', '.join(names)}) from {len(files)} files."
            error = False
    try:
        result = result_json(args.prompt, args.model, message, error, read, written, started)
    except BuildRunnerError as exc:  # a model id genai-prices does not know
        print(f"demo_agent: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    if error:
        print(f"demo_agent: {message}", file=sys.stderr)
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
