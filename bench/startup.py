"""Start-up cost of `br` commands against bare Python and against the floor its CLI libraries set.

For each command: the median wall time and the median CPU time (user + system of the child,
which a busy machine inflates far less than wall time) over `--runs` runs, interleaved with
`python -c pass` so both see the same load, and the difference from bare Python.

Floors: a minimal Typer app with the same root entries rendering `--help`, and the same app
running a command with one option (Typer 0.29 builds a pydantic TypeAdapter per option, so
any command with options imports pydantic).

`--fresh` measures what a new user gets: a throw-away virtualenv with `pip install <this repo>`
(no extras), so the dependency versions are what pip resolves today; they are printed.

`--changed-config`: the project's config.json sets a value of its own (validated once by pydantic,
then read as validated: the measured runs are the later ones).

Run: python bench/startup.py [--runs 20] [--fresh] [--changed-config]
Target (issue 16): every command within 150 ms of bare Python, `--help` and `br routing costs` included.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 150
REPO = Path(__file__).resolve().parent.parent

# The same root layout as `br`, nothing else: what Typer costs before any command exists.
MINIMAL_TYPER_APP = """
import sys
import typer
app = typer.Typer(name="br", no_args_is_help=True, rich_markup_mode=None)
@app.callback()
def root() -> None:
    \"\"\"BuildRunner.\"\"\"
@app.command("init")
def init() -> None:
    \"\"\"Create the config.\"\"\"
@app.command("costs")
def costs(period: str = "day") -> None:
    \"\"\"One option, as a real command has.\"\"\"
for group in ("config", "security", "routing", "telemetry", "parallel", "quality", "gaps"):
    app.add_typer(typer.Typer(help=f"The {group} commands."), name=group)
app(sys.argv[1:], prog_name="br")
"""

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",), ("--version",), ("routing", "--help"), ("routing", "costs"), ("routing", "costs", "--format", "json"),
    ("telemetry", "summary"), ("parallel", "list"), ("config", "show"),
)


def run_once(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of `cmd`."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("BR_DATABASE_URL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, check=False)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def measure(cmd: list[str], bare: list[str], cwd: Path, runs: int) -> tuple[float, float, float, float]:
    """Median wall and CPU of `cmd` and of bare Python, runs interleaved."""
    run_once(cmd, cwd)  # warm the page cache
    ours, base = [], []
    for _ in range(runs):
        ours.append(run_once(cmd, cwd))
        base.append(run_once(bare, cwd))
    med = statistics.median
    return med(w for w, _ in ours), med(c for _, c in ours), med(w for w, _ in base), med(c for _, c in base)


def versions(python: str) -> str:
    code = (
        "from importlib.metadata import version, PackageNotFoundError\n"
        "out = []\n"
        "for name in ('typer', 'rich', 'click', 'pydantic', 'pydantic-core'):\n"
        "    try:\n        out.append(f'{name} {version(name)}')\n"
        "    except PackageNotFoundError:\n        out.append(f'{name} -')\n"
        "import typer, sys\n"
        "out.append('click vendored in typer' if hasattr(typer, '_click') else 'click external')\n"
        "out.append('python ' + sys.version.split()[0])\n"
        "print(', '.join(out))\n"
    )
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def fresh_env(root: Path) -> Path:
    """A new virtualenv with this repository installed as a user would (`pip install .`, no extras)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True)
    return venv / "bin"


def project(root: Path, python: str, changed_config: bool) -> Path:
    """A git repository whose store exists, so the commands read a real (empty) database.

    `changed_config`: its config.json sets a value of its own (a daily budget), as most projects' do.
    """
    folder = root / "project"
    folder.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run([python, "-c", "from buildrunner.store import open_store; open_store().close()"], cwd=folder, check=True)
    if changed_config:
        (folder / ".buildrunner" / "config.json").write_text('{"routing": {"cost_limits": {"daily": 5.0}}}\n')
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fresh", action="store_true", help="measure in a new virtualenv with today's resolved versions")
    parser.add_argument("--changed-config", action="store_true", help="a project whose config.json sets a value of its own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bindir = fresh_env(root) if args.fresh else Path(sys.executable).parent
        python = str(bindir / "python")
        br = shutil.which("br", path=str(bindir))
        if br is None:
            sys.exit("br is not installed in this environment: pip install -e .")
        cwd = project(root, python, args.changed_config)
        print(f"environment: {'fresh virtualenv (pip install .)' if args.fresh else sys.prefix}")
        print(f"project config: {'routing.cost_limits.daily set to 5.0' if args.changed_config else 'defaults (no config.json)'}")
        print(f"versions: {versions(python)}")
        print(f"load before: {os.getloadavg()[0]:.2f}  nproc: {os.cpu_count()}  runs: {args.runs} (medians; bare Python interleaved)")
        bare = [python, "-c", "pass"]
        print(f"{'command':<34} {'wall ms':>8} {'over bare':>10} {'CPU ms':>8} {'over bare':>10}")
        rows = [("minimal Typer app --help", [python, "-c", MINIMAL_TYPER_APP, "--help"]), ("minimal Typer app costs --period", [python, "-c", MINIMAL_TYPER_APP, "costs", "--period", "week"])]
        rows += [("br " + " ".join(cmd), [br, *cmd]) for cmd in COMMANDS]
        for label, cmd in rows:
            wall, cpu, bare_wall, bare_cpu = measure(cmd, bare, cwd, args.runs)
            mark = "" if label.startswith("minimal") else ("  ok" if cpu - bare_cpu <= TARGET_MS else f"  over the {TARGET_MS} ms target")
            print(f"{label:<34} {wall:8.1f} {wall - bare_wall:+10.1f} {cpu:8.1f} {cpu - bare_cpu:+10.1f}{mark}")
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
