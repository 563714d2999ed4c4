"""Fit the estimator's learned vocabulary (src/buildrunner/routing/vocabulary.json) on the training corpus.

The corpus (bench/data/routing_training/*.yaml) holds task descriptions as teams write them, each labelled
with a difficulty level by the reasoning written next to it, by writers who saw neither the estimator nor the
independent sets. No file under tests/routing/data is ever read here: those sets judge the result.

The model is scikit-learn's sublinear TF-IDF (L2-normalised) over the prose's words (routing/vocabulary.py's
`terms_of`, English stop words left out) and a ridge regression of the level (0 simple .. 3 critical).
Chosen by cross-validation with one corpus file held out at a time (so a writer's habits do not leak into
their own test): the ridge alpha and the minimum number of descriptions a term must appear in. "Fix" is
left out: it is what most tasks ask. Then the points per level of the
`learned vocabulary` signal: its held-out spread (one standard deviation) weighs as much as the median signal of
judgement. A least-squares fit would give the words several times more (printed beside it): they rank this corpus
better, but one learned signal would then outweigh the forty that explain themselves, and a description made more
precise by a hard concept's name could score lower for the other words it brings.

Usage: python bench/routing_vocabulary.py [--corpus DIR] [--write]   (without --write: report only)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LinearRegression, Ridge

from buildrunner.routing.levels import top_of
from buildrunner.routing.signals import features, shipped_signals
from buildrunner.routing.vocabulary import terms_of

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench/data/routing_training"
OUT = ROOT / "src/buildrunner/routing/vocabulary.json"
SIGNALS = ROOT / "src/buildrunner/routing/signals.toml"
NAME = "learned vocabulary"
LEVELS = ("simple", "moderate", "complex", "critical")
ALPHAS = (1.0, 3.0, 10.0)
MIN_DFS = (2, 3)
DIGITS = 5
# "A verb such as fix is not evidence of an easy task" (issue 14): fixing is what most tasks ask, whatever their
# difficulty, so "fix" is left out as stop words are. Other words, verbs included, weigh what the corpus says.
VERBS = frozenset({"fix", "fixes", "fixed", "fixing"})


def load(corpus: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[Path]]:
    files = sorted(corpus.glob("*.yaml"))
    if not files:
        sys.exit(f"no *.yaml in {corpus}")
    texts, levels, groups = [], [], []
    for g, path in enumerate(files):
        for task in yaml.safe_load(path.read_text(encoding="utf-8"))["tasks"]:
            texts.append(task["text"])
            levels.append(LEVELS.index(task["level"]))
            groups.append(g)
    return texts, np.array(levels, dtype=float), np.array(groups), files


def analyzer() -> Any:
    signals = shipped_signals()
    return lambda text: [t for t in terms_of(signals.text(text).prose) if t not in ENGLISH_STOP_WORDS and t not in VERBS]


def fit(texts: list[str], y: np.ndarray, alpha: float, min_df: int) -> tuple[TfidfVectorizer, Ridge]:
    vectorizer = TfidfVectorizer(analyzer=analyzer(), sublinear_tf=True, min_df=min_df)
    return vectorizer, Ridge(alpha=alpha).fit(vectorizer.fit_transform(texts), y)


def held_out_values(texts: list[str], y: np.ndarray, groups: np.ndarray, alpha: float, min_df: int) -> np.ndarray:
    """Each description's value (prediction minus the training mean) from a model fitted without its file."""
    out = np.zeros(len(y))
    for g in np.unique(groups):
        test = groups == g
        vectorizer, model = fit([t for t, s in zip(texts, test) if not s], y[~test], alpha, min_df)
        out[test] = model.predict(vectorizer.transform([t for t, s in zip(texts, test) if s])) - y[~test].mean()
    return out


def other_signals_score(texts: list[str]) -> np.ndarray:
    """The raw score without the vocabulary signal (base + every other signal's points, not clamped)."""
    signals = shipped_signals()
    weights = np.array([0.0 if s.vocabulary is not None else s.weight for s in signals.signals])
    return np.array([signals.base + np.dot(weights, features(signals, t)) for t in texts])


def combined(rest: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """The estimator's score from the other signals' raw sum and the vocabulary's points (guard and clamp included)."""
    signals = shipped_signals()
    return np.array([round(min(100.0, max(0.0, signals.guarded(r + v, v)))) for r, v in zip(rest, learned)])


def per_file(values: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    return float(np.mean([spearmanr(values[groups == g], y[groups == g])[0] for g in np.unique(groups)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args()
    texts, y, groups, files = load(args.corpus)
    print(f"corpus: {len(texts)} descriptions in {len(files)} files; levels {np.bincount(y.astype(int)).tolist()}")
    score = other_signals_score(texts)
    print(f"  other signals alone, mean Spearman per file: {per_file(score, y, groups):.3f}")
    results = {}
    for alpha in ALPHAS:
        for min_df in MIN_DFS:
            values = held_out_values(texts, y, groups, alpha, min_df)
            results[(alpha, min_df)] = values
            print(f"  alpha {alpha:<4} min_df {min_df}: vocabulary alone, one file held out at a time: {per_file(values, y, groups):.3f}")
    alpha, min_df = max(results, key=lambda k: per_file(results[k], y, groups))
    values = results[(alpha, min_df)]
    both = LinearRegression().fit(np.column_stack([score, values]), y)
    best = float(both.coef_[1] / both.coef_[0])
    signal = float(np.median([abs(s.weight) for s in shipped_signals().signals if not s.fitted and s.vocabulary is None]))
    points = int(round(signal / float(np.std(values))))
    curve = {k: per_file(combined(score, k * values), y, groups) for k in sorted({0, points, int(max(best, 0))})}
    simple = top_of("simple")
    print(f"chosen: alpha {alpha}, min_df {min_df}; points per level {points}: the vocabulary's spread (one standard deviation, "
          f"{np.std(values):.2f} levels) weighs as much as a judgement signal ({signal:g} points, the median); "
          f"the score, one file held out at a time: {curve[points]:.3f} (other signals alone {curve[0]:.3f}; "
          f"at the least-squares weight {int(max(best, 0))}: {curve[int(max(best, 0))]:.3f}); "
          f"complex/critical in the simple level: {int(np.sum((combined(score, points * values) <= simple) & (y >= 2)))} "
          f"(other signals alone {int(np.sum((combined(score, 0 * values) <= simple) & (y >= 2)))})")

    vectorizer, model = fit(texts, y, alpha, min_df)
    idf = vectorizer.idf_
    terms = {term: [round(float(idf[i]), DIGITS), round(float(model.coef_[i]), DIGITS)] for term, i in sorted(vectorizer.vocabulary_.items())}
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    document = {
        "source": (f"fitted by bench/routing_vocabulary.py on {len(texts)} descriptions in {len(files)} files of "
                   f"{args.corpus.relative_to(ROOT) if args.corpus.is_relative_to(ROOT) else args.corpus} (sha256 {digest}); "
                   f"ridge alpha {alpha}, min_df {min_df}, chosen with one file held out at a time"),
        "alpha": alpha,
        "min_df": min_df,
        "offset": round(float(model.intercept_ - y.mean()), DIGITS),
        "terms": terms,
    }
    strongest = sorted(terms.items(), key=lambda kv: kv[1][1])
    print("  easiest terms:", ", ".join(t for t, _ in strongest[:15]))
    print("  hardest terms:", ", ".join(t for t, _ in strongest[-15:][::-1]))
    if args.write:
        OUT.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n", encoding="utf-8")
        source = (f"{document['source']}; weight: its spread (one standard deviation held out) weighs as much as the median "
                  f"judgement signal ({signal:g} points); the score ranks the corpus at {curve[points]:.3f} held out "
                  f"(other signals alone {curve[0]:.3f})")
        write_signal(SIGNALS, NAME, points, source)
        print(f"wrote {OUT.relative_to(ROOT)} ({len(terms)} terms) and the {NAME!r} weight ({points}) in {SIGNALS.relative_to(ROOT)}")


def write_signal(path: Path, name: str, weight: float, source: str) -> None:
    """Set one signal's weight and source lines in signals.toml, leaving the rest of the file as it is."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f'name = "{name}"')
    end = text.find("[[signal]]", start)
    end = len(text) if end < 0 else end
    block = re.sub(r"(?m)^weight = .*$", f"weight = {float(weight)}", text[start:end], count=1)
    block = re.sub(r'(?m)^source = .*$', lambda _: "source = " + json.dumps(source), block, count=1)
    path.write_text(text[:start] + block + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
