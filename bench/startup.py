"""Startup cost of `br`: median wall time of `br --help` and `br --version` vs `python -c pass`,
and vs the floor the CLI library sets: a minimal Typer app with the same eight root entries and no
commands in them, rendering its Rich `--help`.

Run: python bench/startup.py [--runs 20]
Target (issue 2): `br --help` within 150 ms of bare Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(cmd: list[str], runs: int) -> float:
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(cmd, capture_output=True, env=env, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


# The same root layout as `br`, nothing else: what Typer + Rich cost before any command exists.
MINIMAL_TYPER_APP = """
import typer
app = typer.Typer(name="br", no_args_is_help=True, rich_markup_mode="rich")
@app.callback()
def root() -> None:
    \"\"\"BuildRunner.\"\"\"
@app.command("init")
def init() -> None:
    \"\"\"Create the config.\"\"\"
for group in ("config", "security", "routing", "telemetry", "parallel", "quality", "gaps"):
    app.add_typer(typer.Typer(help=f"The {group} commands."), name=group)
app(prog_name="br")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    br = shutil.which("br", path=str(Path(sys.executable).parent)) or shutil.which("br")
    if br is None:
        sys.exit("br is not installed in this environment: pip install -e .")
    bare = median_ms([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass : {bare:7.1f} ms (median of {args.runs})")
    floor = median_ms([sys.executable, "-c", MINIMAL_TYPER_APP, "--help"], args.runs)
    print(f"minimal Typer app --help: {floor:7.1f} ms   (+{floor - bare:.1f} ms over bare Python: the CLI library's floor)")
    for label, cmd in (("br --help", [br, "--help"]), ("br --version", [br, "--version"])):
        took = median_ms(cmd, args.runs)
        print(f"{label:<15}: {took:7.1f} ms   (+{took - bare:.1f} ms over bare Python; target +150 ms)")


if __name__ == "__main__":
    main()
