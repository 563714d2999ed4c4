"""Quality gate and gap analysis vs radon, interrogate and vulture, on the same corpus in one run.

Corpus: the standard library source of the running Python (1,800 .py files), copied
outside site-packages into a temporary project (the security bench's copy).

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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from security import build_corpus, machine, tool  # noqa: E402 - the security bench's corpus and machine helpers


def timed(cmd: list[str], cwd: Path, limit: float) -> tuple[float, str, bool]:
    """(seconds, stdout, finished); a run past `limit` is stopped and counts as `limit` (a lower bound)."""
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return limit, "", False
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3, 4) and "interrogate" not in cmd[0]:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed, proc.stdout, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing project folder to use instead of a stdlib copy")
    parser.add_argument("--runs", type=int, default=1, help="runs of each command; the median is reported")
    parser.add_argument("--limit", type=float, default=1200, help="seconds before a run is stopped (then counted as this, a lower bound)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="br-bench-quality-") as tmp:
        if args.corpus:
            root = args.corpus.resolve()
        else:
            root = build_corpus(Path(tmp) / "stdlib")
            (root / ".buildrunner").mkdir()
        target = str(root)
        br = [sys.executable, "-m", "buildrunner"]
        commands = {
            "br quality check": [*br, "quality", "check", "--format", "json", "-C", str(root)],
            "br gaps analyze": [*br, "gaps", "analyze", "--format", "json", "-C", str(root)],
            "radon cc -s -a": [tool("radon"), "cc", "-s", "-a", target],
            "radon mi": [tool("radon"), "mi", target],
            "interrogate": [tool("interrogate"), target],
            "vulture": [tool("vulture"), target],
        }
        print(f"corpus: {target} ({sum(1 for _ in Path(target).rglob('*.py'))} .py files)")
        print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        times: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, str] = {}
        stopped: set[str] = set()
        for _ in range(args.runs):
            for name, cmd in commands.items():
                elapsed, out, finished = timed(cmd, root, args.limit)
                times[name].append(elapsed)
                if finished:
                    outputs[name] = out
                else:
                    stopped.add(name)
                print(f"  {name:<18} {elapsed:7.2f} s{'' if finished else ' (stopped: lower bound)'}", flush=True)
        median = {name: statistics.median(values) for name, values in times.items()}
        peers = sum(median[n] for n in ("radon cc -s -a", "radon mi", "interrogate", "vulture"))
        ours = median["br quality check"] + median["br gaps analyze"]
        gate = json.loads(outputs["br quality check"])
        gaps = json.loads(outputs["br gaps analyze"])
        print()
        if stopped & {"br quality check", "br gaps analyze"}:
            sys.exit(f"our commands did not finish within {args.limit:.0f} s")
        bound = " (lower bound: " + ", ".join(sorted(stopped)) + " stopped)" if stopped else ""
        print(f"peers (sum of 4): {peers:.2f} s{bound}")
        print(f"ours  (sum of 2): {ours:.2f} s")
        print(f"ratio ours / peers: {ours / peers:.2f}  (target <= 1.00: {'met' if ours <= peers else 'NOT met'})")
        print(f"gate: overall {gate['overall']}, " + ", ".join(f"{c['name']} {c['score']}" for c in gate["categories"]))
        print(f"gaps: {gaps['counts']} over {gaps['python_files']} files")
        print(f"load after: {machine().rsplit('load ', 1)[1]}")


if __name__ == "__main__":
    main()
