"""Does the complexity estimator know hard from easy on tasks it was not fitted to?

Three checks, in one run (statistics by scipy and scikit-learn; `pip install -e '.[bench]'`):

1. SWE-bench Verified (500 issues with the time buckets annotators gave them;
   `../shared/benchmarks/swebench-verified-difficulty.jsonl` beside the checkout, or --swebench PATH), split into
   two fixed halves by a hash of the instance id. Headline: the signal weights refitted on one half (ridge on
   the signals' log2(1 + count) features; each weight keeps the sign judgement gave it) and scored on the other,
   in both directions; and the same over 100 random splits into halves (mean and 5th-95th percentile), since
   one fixed split of 500 noisy labels moves a Spearman by several hundredths either way. Also: the shipped
   weights on each half (judgement, except the few `fitted` signals, fitted on half A: half A is in-sample for
   those, half B held out), text length, and always answering the majority bucket.
   Bucket accuracy: the share of `estimated_time_minutes` in the annotated bucket (for refitted weights, their
   predictions are cut at the training half's bucket shares).
2. The independent sets in tests/routing/data (task descriptions as teams write them, labelled by judgement,
   never fitted on): Spearman against the labels, level accuracy, and how many complex/critical tasks go to haiku;
   and over all sets, the mean Spearman and the complex/critical tasks sent to haiku. A set is blind only until
   its first score; bench/RESULTS.md says when each was written, first scored and read.
3. The five tasks of issue 14, as measured.

With ANTHROPIC_API_KEY set, the AI-assisted estimate (routing.ai_model) is scored on the newest independent sets too
(`--ai-sets N`, default 4, 0 for all: each task is one request, so the default bounds the spend to 400 requests).

With the repositories' code (`--fetch-code` downloads one released wheel of each from PyPI and unpacks it into
`--code DIR`, by default bench/_work/swebench-code, which a plain run then uses when it is complete), each
issue is estimated in its repository's code, so the `code reach` factor (how many source files use the code the
issue names) is part of the score and of the refitted weights; without it SWE-bench is scored on the words alone.
The releases are not each issue's own commit (SWE-bench spans several years of each repository): the structure of
a library moves slowly, so this measures the factor, a little blurred.

`--fit` instead fits the weights of the signals marked `fitted` in routing/signals.toml on SWE-bench half A
(and, to show how stable they are, on half B), and prints them with the held-out check on the other half.

Usage: python bench/routing_accuracy.py [--swebench PATH] [--code DIR] [--fetch-code] [--json] [--fit] [--ai-sets N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
SWEBENCH = ROOT.parent / "shared" / "benchmarks" / "swebench-verified-difficulty.jsonl"
DATA = ROOT / "tests/routing/data"
# Every independent set, in the order written (independent_tasks.yaml, _2, _3, ...). Which of them were blind
# to which version of the estimator is recorded in bench/RESULTS.md, not here.
SETS = {
    f"set {n}": path
    for n, path in sorted(
        (int(p.stem.rpartition("_")[2]) if p.stem != "independent_tasks" else 1, p) for p in DATA.glob("independent_tasks*.yaml")
    )
}
BUCKETS = ("<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours")
BOUNDS_MINUTES = (15, 60, 240)
LEVELS = ("simple", "moderate", "complex", "critical")
FIVE_TASKS = (
    ("Fix a typo in the README", "simple, haiku"),
    ("Add a --verbose flag to the CLI", "simple to moderate"),
    ("Refactor the config module into smaller modules", "moderate"),
    ("Fix a race condition in a lock-free queue", "complex or critical: opus"),
    ("Design a distributed consensus protocol for the job scheduler", "critical: opus"),
)
# One release per SWE-bench repository (the folder under --code is the part after the slash's package name),
# from the middle of the years its Verified issues span.
CODE_RELEASES = {
    "django/django": "django==3.2.25", "sympy/sympy": "sympy==1.9", "sphinx-doc/sphinx": "sphinx==4.4.0",
    "matplotlib/matplotlib": "matplotlib==3.5.3", "scikit-learn/scikit-learn": "scikit-learn==1.0.2",
    "astropy/astropy": "astropy==5.0.4", "pydata/xarray": "xarray==0.21.1", "pytest-dev/pytest": "pytest==7.0.1",
    "pylint-dev/pylint": "pylint==2.13.9", "psf/requests": "requests==2.27.1", "mwaskom/seaborn": "seaborn==0.12.2",
    "pallets/flask": "flask==2.0.3",
}
CODE_DIR = ROOT / "bench" / "_work" / "swebench-code"
RIDGE_ALPHA = 20.0
RANDOM_SPLITS = 100
# Score points per annotated bucket: from the middle of the simple band (0-29) to the middle of the moderate
# band (30-74), where 91 % of the annotated issues lie (routing/levels.py cuts the levels at these times).
POINTS_PER_BUCKET = 37.5


def bucket_of_minutes(minutes: float) -> int:
    return sum(1 for bound in BOUNDS_MINUTES if minutes >= bound)


def half_of(instance_id: str) -> str:
    return "A" if hashlib.sha256(instance_id.encode()).digest()[0] % 2 == 0 else "B"


def spearman(x: Any, y: Any) -> float:
    value = spearmanr(x, y)[0]
    return float(value) if value == value else 0.0


def cuts_for_shares(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cut points on `values` that reproduce the bucket shares of `labels` (for scores without a time scale)."""
    shares = np.cumsum([np.mean(labels == b) for b in range(len(BUCKETS) - 1)])
    return np.quantile(values, np.clip(shares, 0, 1))


def ridge_fit(X: np.ndarray, y: np.ndarray, train: np.ndarray, sign: np.ndarray | None) -> tuple[Ridge, StandardScaler]:
    """Ridge on standardised features; with `sign`, each weight keeps that sign (features are flipped, weights >= 0)."""
    Z = X * sign if sign is not None else X
    scaler = StandardScaler().fit(Z[train])
    return Ridge(alpha=RIDGE_ALPHA, positive=sign is not None).fit(scaler.transform(Z[train]), y[train]), scaler


def ridge_predict(fitted: tuple[Ridge, StandardScaler], X: np.ndarray, sign: np.ndarray | None) -> np.ndarray:
    model, scaler = fitted
    return model.predict(scaler.transform(X * sign if sign is not None else X))


def random_halves(X: np.ndarray, y: np.ndarray, sign: np.ndarray) -> dict[str, float]:
    """Held-out Spearman over RANDOM_SPLITS random splits into halves, each half fitted and scored on the other."""
    rng = np.random.default_rng(14)
    values = []
    for _ in range(RANDOM_SPLITS):
        first = rng.permutation(len(y)) < len(y) // 2
        for train in (first, ~first):
            values.append(spearman(ridge_predict(ridge_fit(X, y, train, sign), X[~train], sign), y[~train]))
    return {"fits": len(values), "mean": float(np.mean(values)), "p5": float(np.percentile(values, 5)), "p95": float(np.percentile(values, 95)),
            "share_at_least_0.30": float(np.mean(np.array(values) >= 0.30))}


def code_folder(code: Path, repo: str) -> Path:
    return code / CODE_RELEASES[repo].split("==")[0]


def fetch_code(code: Path) -> None:
    """Download and unpack each repository's release (a wheel: the library's source, without its tests)."""
    for repo, spec in CODE_RELEASES.items():
        folder = code_folder(code, repo)
        if (folder / ".buildrunner").is_dir():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", "--python-version", "3.9",
                            "--platform", "manylinux2014_x86_64", "-d", tmp, spec], check=True)
            (wheel,) = Path(tmp).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(folder)
        (folder / ".buildrunner").mkdir()  # the folder is a project of its own (not the checkout around it)


def missing_code(code: Path) -> list[str]:
    """The repositories whose code is not (completely) in `code`."""
    return [repo for repo in CODE_RELEASES if not (code_folder(code, repo) / ".buildrunner").is_dir()]


def code_estimators(code: Path | None) -> dict[str, Any] | None:
    """One estimator per repository, reading that repository's code (None without --code)."""
    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    if code is None:
        return None
    missing = missing_code(code)
    if missing:
        raise SystemExit(f"--code {code}: no code for {', '.join(missing)}; add --fetch-code to download it")
    return {repo: ComplexityEstimator(Project(code_folder(code, repo)), use_ai=False) for repo in CODE_RELEASES}


def swebench(path: Path, estimator: Any, in_code: dict[str, Any] | None = None) -> dict[str, Any]:
    from buildrunner.routing.complexity_estimator import CODE_REACH_FACTOR
    from buildrunner.routing.signals import features, shipped_signals

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    signals = shipped_signals()
    started = time.perf_counter()
    results = [(in_code[r["repo"]] if in_code else estimator).estimate(r["problem_statement"]) for r in rows]
    seconds = time.perf_counter() - started
    y = np.array([BUCKETS.index(r["difficulty"]) for r in rows])
    half = np.array([half_of(r["instance_id"]) for r in rows])
    X = np.array([features(signals, r["problem_statement"]) for r in rows])
    sign = np.sign([s.weight for s in signals.signals])
    if in_code:
        reach = [sum(f.weight for f in result.factors if f.name == CODE_REACH_FACTOR) for result in results]
        X, sign = np.column_stack([X, reach]), np.append(sign, 1.0)
    score = np.array([r.complexity_score for r in results])
    ours_bucket = np.array([bucket_of_minutes(r.estimated_time_minutes) for r in results])
    length = np.array([len(r["problem_statement"]) for r in rows], dtype=float)
    out: dict[str, Any] = {"count": len(rows), "seconds": seconds, "code": sorted(CODE_RELEASES.values()) if in_code else None,
                           "shipped": {}, "held_out": {}, "baselines": {}}
    for h in ("A", "B"):
        test, train = half == h, half != h
        out["shipped"][h] = {"n": int(test.sum()), "spearman": spearman(score[test], y[test]), "bucket_accuracy": float(np.mean(ours_bucket[test] == y[test]))}
        length_bucket = np.searchsorted(cuts_for_shares(length[train], y[train]), length[test], side="right")
        majority = np.bincount(y[train]).argmax()
        out["baselines"][h] = {
            "text_length": {"spearman": spearman(length[test], y[test]), "bucket_accuracy": float(np.mean(length_bucket == y[test]))},
            "majority": {"spearman": 0.0, "bucket_accuracy": float(np.mean(y[test] == majority))},
        }
        for constrained in (True, False):
            fit = ridge_fit(X, y, train, sign if constrained else None)
            fitted = ridge_predict(fit, X[train], sign if constrained else None)
            predicted = ridge_predict(fit, X[test], sign if constrained else None)
            buckets = np.searchsorted(cuts_for_shares(fitted, y[train]), predicted, side="right")
            key = f"fit {'B' if h == 'A' else 'A'} -> test {h}" + ("" if constrained else " (signs free)")
            out["held_out"][key] = {"n": int(test.sum()), "spearman": spearman(predicted, y[test]), "bucket_accuracy": float(np.mean(buckets == y[test]))}
    out["random_halves"] = random_halves(X, y, sign)
    out["in_sample_all_shipped"] = spearman(score, y)  # not a headline: shown so nobody mistakes it for one
    out["predicted_buckets"] = np.bincount(ours_bucket, minlength=len(BUCKETS)).tolist()
    out["annotated_buckets"] = np.bincount(y, minlength=len(BUCKETS)).tolist()
    return out


def fit_shape_weights(path: Path, train_half: str = "A") -> dict[str, Any]:
    """The weights of the signals marked `fitted` in signals.toml, fitted on one SWE-bench half and checked on the other.

    Ridge (as the held-out check above: standardised features, each weight keeping the sign the file gives it)
    of the annotated bucket on the fitted signals' features plus one more feature, the score the judgement
    signals give (base + their points), so a fitted weight is what its signal adds beyond them. A coefficient is
    in buckets per log2(1 + count); times `POINTS_PER_BUCKET` it is in score points.
    """
    from buildrunner.routing.signals import features, shipped_signals

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    signals = shipped_signals()
    fitted = np.array([s.fitted and s.vocabulary is None for s in signals.signals])  # the vocabulary is fitted on its own corpus
    weights = np.array([s.weight for s in signals.signals])
    X = np.array([features(signals, r["problem_statement"]) for r in rows])
    y = np.array([BUCKETS.index(r["difficulty"]) for r in rows])
    train = np.array([half_of(r["instance_id"]) == train_half for r in rows])
    judgement = signals.base + X[:, ~fitted] @ weights[~fitted]
    sign = np.concatenate([[1.0], np.sign(weights[fitted])])
    model, scaler = ridge_fit(np.column_stack([judgement, X[:, fitted]]), y, train, sign)
    points = model.coef_[1:] / scaler.scale_[1:] * POINTS_PER_BUCKET * sign[1:]
    names = [s.name for s, f in zip(signals.signals, fitted) if f]
    new = weights.copy()
    new[fitted] = np.round(points, 1)
    score = np.clip(signals.base + X @ new, 0, 100)
    test = ~train
    in_a = train if train_half == "A" else test
    return {
        "train_half": train_half, "n_train": int(train.sum()), "n_test": int(test.sum()),
        "weights": dict(zip(names, np.round(points, 1).tolist())),
        "held_out_spearman": spearman(score[test], y[test]),
        "held_out_spearman_judgement_only": spearman(np.clip(judgement[test], 0, 100), y[test]),
        "alone": {n: {"A": spearman(X[in_a, i], y[in_a]), "B": spearman(X[~in_a, i], y[~in_a]), "fires": float(np.mean(X[:, i] > 0))}
                  for n, i in zip(names, np.flatnonzero(fitted))},
    }


def independent(estimator: Any, ai: Any | None, ai_sets: int) -> dict[str, Any]:
    """Every set by the heuristic; the newest `ai_sets` (0: all) also by the AI estimate, one request per task."""
    out = {}
    with_ai = list(SETS)[-ai_sets:] if ai_sets else list(SETS)
    for name, path in SETS.items():
        tasks = yaml.safe_load(path.read_text(encoding="utf-8"))["tasks"]
        labels = np.array([LEVELS.index(t["level"]) for t in tasks])
        results = [estimator.estimate(t["text"]) for t in tasks]
        row = _score_set(tasks, labels, [r.complexity_score for r in results], [r.recommended_model for r in results], [r.complexity_level for r in results])
        if ai is not None and name in with_ai:
            row["ai"] = ai(tasks, labels)
        out[name] = row
    return out


def summary(sets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Over all independent sets: their mean and lowest Spearman, and every complex/critical task sent to haiku."""
    rhos = [m["spearman"] for m in sets.values()]
    return {"sets": len(sets), "tasks": sum(m["n"] for m in sets.values()), "mean_spearman": float(np.mean(rhos)), "min_spearman": float(min(rhos)),
            "complex_or_critical_to_haiku": [f"{name}: {task}" for name, m in sets.items() for task in m["complex_or_critical_to_haiku"]]}


def _score_set(tasks: list[dict], labels: np.ndarray, scores: list[int], tiers: list[str], levels: list[str]) -> dict[str, Any]:
    hard = labels >= 2
    return {
        "n": len(tasks),
        "spearman": spearman(scores, labels),
        "level_accuracy": float(np.mean([LEVELS.index(lv) == y for lv, y in zip(levels, labels)])),
        "complex_or_critical_to_haiku": [t["id"] for t, tier, h in zip(tasks, tiers, hard) if h and tier == "haiku"],
        "simple_to_opus": [t["id"] for t, tier, y in zip(tasks, tiers, labels) if y == 0 and tier == "opus"],
        "tiers_by_level": {LEVELS[y]: {tier: sum(1 for t2, y2 in zip(tiers, labels) if y2 == y and t2 == tier) for tier in ("haiku", "sonnet", "opus")} for y in range(4)},
    }


def ai_scorer(project: Any) -> Any:
    """Score a set with the AI estimate (one request per task), or None without a key."""
    from buildrunner.routing.ai_estimator import ai_estimate, api_key_present
    from buildrunner.routing.complexity_estimator import recommend
    from buildrunner.routing.levels import level_for
    from buildrunner.routing.models import catalogue

    if not api_key_present():
        return None
    models = catalogue(project)
    settings = project.config.routing
    model_id = models[settings.ai_model].model_id

    def score(tasks: list[dict], labels: np.ndarray) -> dict[str, Any]:
        scores, failures = [], 0
        for t in tasks:
            try:
                scores.append(ai_estimate(t["text"], model_id, settings.ai_timeout_s).score)
            except Exception:  # noqa: BLE001 - a failed request is counted, not fatal
                failures += 1
                scores.append(50)
        row = _score_set(tasks, labels, scores, [recommend(s, models, settings).tier for s in scores], [level_for(s) for s in scores])
        return {**row, "model": model_id, "failed_requests": failures}

    return score


def five_tasks(estimator: Any) -> list[dict[str, Any]]:
    return [
        {"task": text, "senior_engineer": said, "score": r.complexity_score, "level": r.complexity_level, "tier": r.recommended_model,
         "minutes": r.estimated_time_minutes, "signals": {f.name: f.weight for f in r.factors if f.name != "baseline"}}
        for text, said in FIVE_TASKS
        for r in [estimator.estimate(text)]
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swebench", type=Path, default=SWEBENCH)
    parser.add_argument("--code", type=Path, help=f"a folder with each SWE-bench repository's code (see --fetch-code; default {CODE_DIR.relative_to(ROOT)} when complete)")
    parser.add_argument("--fetch-code", action="store_true", help="download the repositories' releases into the --code folder first")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--fit", action="store_true", help="fit the `fitted` signals' weights on half A (and B) and print them")
    parser.add_argument("--ai-sets", type=int, default=4, help="with ANTHROPIC_API_KEY set, score the newest N independent sets with the AI estimate "
                        "too (one request per task, 100 per set); 0 scores all of them")
    args = parser.parse_args(argv)
    if args.fetch_code:
        fetch_code(args.code or CODE_DIR)
    if args.code is None and not missing_code(CODE_DIR):
        args.code = CODE_DIR
    if args.fit:
        fits = [fit_shape_weights(args.swebench, half) for half in ("A", "B")]
        if args.json:
            print(json.dumps(fits, indent=2))
        else:
            _print_fits(fits)
        return 0

    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ".buildrunner").mkdir()
        project = Project(tmp)
        estimator = ComplexityEstimator(project, use_ai=False)
        report = {
            "load_average": [round(v, 2) for v in load],
            "swebench": swebench(args.swebench, estimator, code_estimators(args.code)) if args.swebench.is_file() else None,
            "independent": (sets := independent(estimator, ai_scorer(project), args.ai_sets)),
            "independent_summary": summary(sets),
            "five_tasks": five_tasks(estimator),
            "ai": "compared" if os.environ.get("ANTHROPIC_API_KEY", "").strip() else "skipped: ANTHROPIC_API_KEY is not set",
        }
        project.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print(report, args.swebench)
    return 0


def _print_fits(fits: list[dict[str, Any]]) -> None:
    first, second = fits
    print(f"weights of the fitted signals (points), fitted on half {first['train_half']} (n={first['n_train']}); half {second['train_half']} for comparison")
    for name, weight in first["weights"].items():
        alone = first["alone"][name]
        print(f"  {name:<20} {weight:>6.1f}   refit on {second['train_half']}: {second['weights'][name]:>6.1f}   "
              f"alone: Spearman A {alone['A']:.3f}, B {alone['B']:.3f}, fires on {alone['fires']:.0%}")
    for fit in fits:
        print(f"  fitted on {fit['train_half']}, shipped score on the other half: Spearman {fit['held_out_spearman']:.3f} "
              f"(judgement signals alone {fit['held_out_spearman_judgement_only']:.3f})")


def _print(report: dict[str, Any], path: Path) -> None:
    print(f"load average {report['load_average']}")
    sw = report["swebench"]
    if sw is None:
        print(f"SWE-bench Verified: {path} not found, skipped")
    else:
        print(f"\nSWE-bench Verified: {sw['count']} issues, estimated in {sw['seconds']:.2f} s; halves A/B by a hash of the instance id")
        print(f"  read in each repository's code: {', '.join(sw['code'])}" if sw["code"] else
              "  words only (run with --code DIR --fetch-code to read each repository's code: the code reach factor)")
        print("held out (signal weights refitted by ridge on one half, scored on the other):")
        for key, m in sw["held_out"].items():
            print(f"  {key:<34} n={m['n']:<4} Spearman {m['spearman']:.3f}  bucket accuracy {m['bucket_accuracy']:.1%}")
        rh = sw["random_halves"]
        print(f"  {RANDOM_SPLITS} random splits into halves, {rh['fits']} fits: mean {rh['mean']:.3f}, 5th-95th percentile {rh['p5']:.3f}-{rh['p95']:.3f}, "
              f"{rh['share_at_least_0.30']:.0%} of fits >= 0.30")
        print("shipped weights (judgement; the `fitted` signals fitted on half A, so half A is partly in-sample):")
        for h, m in sw["shipped"].items():
            b = sw["baselines"][h]
            print(
                f"  half {h} n={m['n']:<4} ours {m['spearman']:.3f} / {m['bucket_accuracy']:.1%}   "
                f"text length {b['text_length']['spearman']:.3f} / {b['text_length']['bucket_accuracy']:.1%}   "
                f"majority — / {b['majority']['bucket_accuracy']:.1%}"
            )
        print(f"  predicted buckets {sw['predicted_buckets']} vs annotated {sw['annotated_buckets']}")
    print("\nindependent task sets (labelled by judgement, never fitted on; blind only until first scored, see bench/RESULTS.md):")
    for name, m in report["independent"].items():
        print(
            f"  {name:<12} n={m['n']:<3} Spearman {m['spearman']:.3f}  level accuracy {m['level_accuracy']:.1%}  "
            f"complex/critical -> haiku: {len(m['complex_or_critical_to_haiku'])} {m['complex_or_critical_to_haiku'] or ''}  simple -> opus: {len(m['simple_to_opus'])}"
        )
        print(f"  {'':<12} tiers by level: {m['tiers_by_level']}")
        if "ai" in m:
            a = m["ai"]
            print(f"  {'':<12} AI ({a['model']}): Spearman {a['spearman']:.3f}, complex/critical -> haiku: {len(a['complex_or_critical_to_haiku'])}, failed requests {a['failed_requests']}")
    if report["ai"] != "compared":
        print(f"  AI-assisted estimate: {report['ai']}")
    sm = report["independent_summary"]
    print(f"  all {sm['sets']} sets ({sm['tasks']} tasks): mean Spearman {sm['mean_spearman']:.3f}, lowest {sm['min_spearman']:.3f}; "
          f"complex/critical -> haiku: {len(sm['complex_or_critical_to_haiku'])} {sm['complex_or_critical_to_haiku'] or ''}")
    print("\nthe five tasks of issue 14:")
    for row in report["five_tasks"]:
        print(f"  {row['score']:>3} {row['level']:<9} {row['tier']:<6} {row['minutes']:>4} min  {row['task']}  (senior engineer: {row['senior_engineer']})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
