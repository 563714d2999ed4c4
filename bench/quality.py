"""Quality gate and gap analysis vs radon, interrogate and vulture, on the same corpus in one run.

Corpus: the standard library source of the running Python (1,800 .py files), copied
outside site-packages into a temporary project.

  ours:  `br quality check --format json` + `br gaps analyze --format json`
  peers: `radon cc -s -a` + `radon mi` + `interrogate` + `vulture`, each run separately

Run:     python bench/quality.py [--corpus DIR] [--runs N]
Needs:   pip install -e '.[bench]'   (interrogate; radon and vulture are dependencies)
Target (issue 7): our two commands together take no longer than the four peer runs together.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed: pip install -e '.[bench]'")
    return found


def build_corpus(dest: Path) -> Path:
    """Copy the stdlib source into `dest/lib` and make `dest` a BuildRunner project root."""
    src = Path(sysconfig.get_paths()["stdlib"])
    ignore = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", "lib-dynload", "config-3*")
    shutil.copytree(src, dest / "lib", ignore=ignore, symlinks=True)
    (dest / ".buildrunner").mkdir()
    return dest


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3, 4) and "interrogate" not in cmd[0]:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed, proc.stdout


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return f"{os.cpu_count()} cores, {model}, {platform.python_implementation()} {platform.python_version()}, load {load[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing project folder to use instead of a stdlib copy")
    parser.add_argument("--runs", type=int, default=1, help="runs of each command; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="br-bench-quality-") as tmp:
        root = args.corpus.resolve() if args.corpus else build_corpus(Path(tmp) / "stdlib")
        target = str(root / "lib") if (root / "lib").is_dir() else str(root)
        br = [sys.executable, "-m", "buildrunner"]
        commands = {
            "radon cc -s -a": [tool("radon"), "cc", "-s", "-a", target],
            "radon mi": [tool("radon"), "mi", target],
            "interrogate": [tool("interrogate"), "--quiet", target],
            "vulture": [tool("vulture"), target],
            "br quality check": [*br, "quality", "check", "--format", "json", "-C", str(root)],
            "br gaps analyze": [*br, "gaps", "analyze", "--format", "json", "-C", str(root)],
        }
        print(f"corpus: {target} ({sum(1 for _ in Path(target).rglob('*.py'))} .py files)")
        print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        times: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, str] = {}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                elapsed, out = timed(cmd, root)
                times[name].append(elapsed)
                outputs[name] = out
                print(f"  {name:<18} {elapsed:7.2f} s", flush=True)
        median = {name: statistics.median(values) for name, values in times.items()}
        peers = sum(median[n] for n in ("radon cc -s -a", "radon mi", "interrogate", "vulture"))
        ours = median["br quality check"] + median["br gaps analyze"]
        gate = json.loads(outputs["br quality check"])
        gaps = json.loads(outputs["br gaps analyze"])
        print()
        print(f"peers (sum of 4): {peers:.2f} s")
        print(f"ours  (sum of 2): {ours:.2f} s")
        print(f"ratio ours / peers: {ours / peers:.2f}  (target <= 1.00: {'met' if ours <= peers else 'NOT met'})")
        print(f"gate: overall {gate['overall']}, " + ", ".join(f"{c['name']} {c['score']}" for c in gate["categories"]))
        print(f"gaps: {gaps['counts']} over {gaps['python_files']} files")
        print(f"load after: {machine().rsplit('load ', 1)[1]}")


if __name__ == "__main__":
    main()
