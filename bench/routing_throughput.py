"""Estimation throughput over the 500 SWE-bench Verified descriptions.

Times, on the same descriptions in one run: `ComplexityEstimator.estimate` (full result:
score, factors, level, tier, cost, time), `score` alone (the text scan), and the text-length
baseline (`len`, the cheapest possible estimator), and prints descriptions per second and
the ratio. Usage: python bench/routing_throughput.py [PATH]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "swebench-verified-difficulty.jsonl"
RUNS = 5


def best_of(fn: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        for text in texts:
            fn(text)
        times.append(time.perf_counter() - began)
    return min(times), statistics.median(times)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DATA
    texts = [json.loads(line)["problem_statement"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ".buildrunner").mkdir()
        estimator = ComplexityEstimator(Project(tmp), use_ai=False)
        estimator.estimate("warm up the price lookup")
        full = best_of(estimator.estimate, texts)
        scan = best_of(estimator.score, texts)
        base = best_of(len, texts)
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} descriptions, {chars / len(texts):.0f} characters on average; best of {RUNS} runs (median in brackets)")
    for name, (best, med) in (("estimate() full result", full), ("score() text scan only", scan), ("baseline: len()", base)):
        print(f"  {name:<24} {len(texts) / best:>12,.0f} descriptions/s  {best * 1e6 / len(texts):>9.1f} us each  ({med:.3f} s per pass)")
    print(f"ratio estimate() / len(): {full[0] / base[0]:,.0f}x slower; {full[0] * 1e3 / len(texts):.2f} ms per description")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
