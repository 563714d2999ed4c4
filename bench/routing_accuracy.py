"""Does `ComplexityEstimator` track real difficulty? Ours vs text length vs the majority bucket.

Data: SWE-bench Verified issues with the time buckets human annotators gave them
(`../shared/benchmarks/swebench-verified-difficulty.jsonl` beside the checkout, or pass a path).
Prints, in one run, for all 500 issues and for two fixed halves (split by a hash of the
instance id, so a weight tuned on one half can be checked on the other):

- Spearman correlation between the score and the bucket (0..3),
- the share of `estimated_time_minutes` that fall in the annotated bucket,

for our estimator (shipped weights), for text length (its buckets cut at the length quantiles that match
the annotated bucket shares of the *other* half, so it is not fitted on what it is scored on)
and for always answering the majority bucket. The shipped weights were fitted on all 500,
so the script also refits them on one half and scores the other half ("held-out"): that
figure is what to expect on descriptions the estimator has never seen.

Usage: python bench/routing_accuracy.py [PATH] [--json]
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "swebench-verified-difficulty.jsonl"
BUCKETS = ("<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours")
BOUNDS = ((0, 15), (15, 60), (60, 240), (240, float("inf")))


def bucket_of_minutes(minutes: float) -> int:
    return next(i for i, (lo, hi) in enumerate(BOUNDS) if lo <= minutes < hi)


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = ranks(x), ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else 0.0


def half(instance_id: str) -> str:
    return "A" if hashlib.sha256(instance_id.encode()).digest()[0] % 2 == 0 else "B"


def length_cuts(lengths: list[int], labels: list[int]) -> list[float]:
    """Length thresholds that reproduce the bucket shares of (lengths, labels)."""
    ordered = sorted(lengths)
    cuts, seen = [], 0
    for b in range(len(BUCKETS) - 1):
        seen += sum(1 for label in labels if label == b)
        cuts.append(ordered[min(len(ordered) - 1, max(0, seen - 1))] + 0.5)
    return cuts


def ridge(X: list[list[float]], y: list[float], lam: float = 20.0) -> list[float]:
    """Ridge regression on standardised columns (pure Python: 17 unknowns)."""
    n, k = len(X), len(X[0])
    mu = [sum(r[j] for r in X) / n for j in range(k)]
    sd = [max(1e-9, (sum((r[j] - mu[j]) ** 2 for r in X) / n) ** 0.5) for j in range(k)]
    Z = [[1.0] + [(r[j] - mu[j]) / sd[j] for j in range(k)] for r in X]
    A = [[sum(z[a] * z[b] for z in Z) + (lam if a == b and a else 0.0) for b in range(k + 1)] for a in range(k + 1)]
    v = [sum(z[a] * t for z, t in zip(Z, y)) for a in range(k + 1)]
    for c in range(k + 1):  # Gaussian elimination
        piv = max(range(c, k + 1), key=lambda r: abs(A[r][c]))
        A[c], A[piv], v[c], v[piv] = A[piv], A[c], v[piv], v[c]
        for r in range(k + 1):
            if r != c and A[r][c]:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c])]
                v[r] -= f * v[c]
    w = [v[i] / A[i][i] for i in range(k + 1)]
    return [w[0] - sum(w[j + 1] * mu[j] / sd[j] for j in range(k))] + [w[j + 1] / sd[j] for j in range(k)]


def cross_fit(rows: list[dict], labels: list[int], halves: list[str]) -> dict[str, float]:
    """Refit the signal weights on one half, score the other: how the *method* generalises."""
    import math

    from buildrunner.routing.complexity_estimator import SIGNALS, signal_counts

    names = [s.name for s in SIGNALS]
    X = [[math.log1p(c[n]) for n in names] for c in (signal_counts(r["problem_statement"]) for r in rows)]
    out = {}
    for train, test in (("A", "B"), ("B", "A")):
        w = ridge([X[i] for i in range(len(rows)) if halves[i] == train], [labels[i] for i in range(len(rows)) if halves[i] == train])
        idx = [i for i in range(len(rows)) if halves[i] == test]
        pred = [w[0] + sum(a * b for a, b in zip(w[1:], X[i])) for i in idx]
        out[f"fit {train} -> test {test}"] = spearman(pred, [labels[i] for i in idx])
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    path = Path(args[0]) if args else DATA
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ".buildrunner").mkdir()
        estimator = ComplexityEstimator(Project(tmp), use_ai=False)
        started = time.perf_counter()
        results = [estimator.estimate(r["problem_statement"]) for r in rows]
        elapsed = time.perf_counter() - started

    labels = [BUCKETS.index(r["difficulty"]) for r in rows]
    halves = [half(r["instance_id"]) for r in rows]
    lengths = [len(r["problem_statement"]) for r in rows]
    report: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("all", "A", "B"):
        idx = [i for i in range(len(rows)) if name == "all" or halves[i] == name]
        other = [i for i in range(len(rows)) if name == "all" or halves[i] != name]
        y = [labels[i] for i in idx]
        majority = max(range(len(BUCKETS)), key=lambda b: sum(1 for i in other if labels[i] == b))
        cuts = length_cuts([lengths[i] for i in other], [labels[i] for i in other])
        length_bucket = [sum(1 for c in cuts if lengths[i] > c) for i in idx]
        ours_bucket = [bucket_of_minutes(results[i].estimated_time_minutes) for i in idx]
        report[name] = {
            "ours": {
                "spearman": spearman([results[i].complexity_score for i in idx], y),
                "bucket_accuracy": sum(a == b for a, b in zip(ours_bucket, y)) / len(idx),
            },
            "text_length": {
                "spearman": spearman([lengths[i] for i in idx], y),
                "bucket_accuracy": sum(a == b for a, b in zip(length_bucket, y)) / len(idx),
            },
            "majority": {"spearman": 0.0, "bucket_accuracy": sum(1 for v in y if v == majority) / len(idx)},
            "n": {"count": len(idx)},
        }
    held_out = cross_fit(rows, labels, halves)
    if "--json" in argv:
        print(json.dumps({"report": report, "held_out_spearman": held_out, "seconds": elapsed, "count": len(rows)}, indent=2))
        return 0
    print(f"{len(rows)} issues from {path.name}; estimation took {elapsed:.2f} s ({len(rows) / elapsed:.0f}/s)")
    print(f"{'split':<6} {'n':>4}  {'method':<12} {'spearman':>9} {'bucket acc':>11}")
    for name, methods in report.items():
        for method in ("ours", "text_length", "majority"):
            m = methods[method]
            print(f"{name:<6} {int(methods['n']['count']):>4}  {method:<12} {m['spearman']:>9.3f} {m['bucket_accuracy']:>10.1%}")
    print("held-out Spearman (weights refit by ridge on one half, scored on the other):")
    for name, value in held_out.items():
        print(f"  {name}: {value:.3f}")
    predicted = [bucket_of_minutes(r.estimated_time_minutes) for r in results]
    print("predicted bucket shares (all):", {BUCKETS[b]: predicted.count(b) for b in range(len(BUCKETS))})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
