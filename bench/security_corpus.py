"""Recall and precision of SQL-injection detection per framework, and of connection-string rules, on the labelled corpus.

Corpus: tests/security/corpus/ (see its README): files written for issue 15 from the
frameworks' documentation and public code patterns, labelled line by line
(`# expect: sql-injection high|medium`, `# safe`).

  recall    = labelled lines reported / labelled lines
  precision = reported lines that are labelled / reported lines
  severity  = reported labelled lines whose severity matches the label

Secrets: every `rule | template` line of corpus/secrets/connection_strings.txt must be
found by that rule (passwords generated at run time), no `placeholder` line reported.

Run:     python bench/security_corpus.py [--json]
Targets (issue 15): SQL recall >= 0.85 and precision >= 0.95 overall, no framework below
0.7 recall; every secret shape found, no placeholder flagged.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "security" / "corpus"
LANGUAGES = {"py": "python", "js": "javascript", "ts": "typescript", "tsx": "tsx"}
LABEL = re.compile(r"(?:#|//)\s*(expect:\s*sql-injection\s+(high|medium)|safe)\s*$")


@dataclass
class Score:
    name: str
    expected: int = 0
    reported: int = 0
    true_positives: int = 0
    severity_matches: int = 0
    missed: list[int] = field(default_factory=list)
    false: list[int] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.reported if self.reported else 1.0

    def add(self, other: "Score") -> None:
        self.expected += other.expected
        self.reported += other.reported
        self.true_positives += other.true_positives
        self.severity_matches += other.severity_matches


def labels(text: str) -> tuple[dict[int, str], set[int]]:
    """(line -> expected severity, lines labelled safe)."""
    expected: dict[int, str] = {}
    safe: set[int] = set()
    for number, line in enumerate(text.splitlines(), 1):
        m = LABEL.search(line)
        if m is None:
            continue
        if m.group(2):
            expected[number] = m.group(2)
        else:
            safe.add(number)
    return expected, safe


def score_sql_file(path: Path, detector: object) -> Score:
    name, ext = path.name.removesuffix(".txt").rsplit(".", 1)
    text = path.read_text(encoding="utf-8")
    expected, _ = labels(text)
    findings = detector.check_code(text, language=LANGUAGES[ext], file_path=path.name)  # type: ignore[attr-defined]
    by_line: dict[int, str] = {}
    for f in findings:
        by_line.setdefault(f.line_number, f.severity)
        if f.severity == "high":
            by_line[f.line_number] = "high"
    s = Score(name, expected=len(expected), reported=len(by_line))
    for line, severity in sorted(by_line.items()):
        if line in expected:
            s.true_positives += 1
            s.severity_matches += severity == expected[line]
        else:
            s.false.append(line)
    s.missed = sorted(set(expected) - set(by_line))
    return s


def password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return rng.choice(string.ascii_uppercase) + "".join(rng.choice(alphabet) for _ in range(15)) + rng.choice("!~^*_-") + rng.choice(string.digits)


def connection_string_cases() -> list[tuple[str, str]]:
    """(rule id or "placeholder", text) for each line of the secrets corpus."""
    out = []
    for line in (CORPUS / "secrets" / "connection_strings.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, text = line.partition(" | ")
        out.append((kind.strip(), text))
    return out


def score_secrets(rounds: int = 20) -> dict[str, object]:
    from buildrunner.security.rules import ruleset

    rng = random.Random(15)
    rules = ruleset()
    shapes = missed = placeholders = flagged = 0
    misses: list[str] = []
    wrong: list[str] = []
    for kind, text in connection_string_cases():
        if kind == "placeholder":
            placeholders += 1
            if rules.find(text.encode()):
                flagged += 1
                wrong.append(text)
            continue
        shapes += 1
        for _ in range(rounds):
            pw = password(rng)
            found = [h.rule.id for h in rules.find(text.format(pw=pw).encode())]
            if found != [kind]:
                missed += 1
                misses.append(f"{kind}: {text} -> {found}")
                break
    return {"shapes": shapes, "shapes_missed": missed, "placeholders": placeholders, "placeholders_flagged": flagged, "misses": misses, "flagged": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args()
    from buildrunner.project import Project
    from buildrunner.security.sql_detector import SQLInjectionDetector

    detector = SQLInjectionDetector(Project(CORPUS))
    files = sorted((CORPUS / "sql").glob("*.txt"))
    scores = [score_sql_file(p, detector) for p in files]
    total = Score("all")
    for s in scores:
        total.add(s)
    secrets = score_secrets()
    if args.json:
        print(json.dumps({"sql": [asdict(s) | {"recall": s.recall, "precision": s.precision} for s in scores], "overall": {"recall": total.recall, "precision": total.precision}, "secrets": secrets}, indent=2))
        return
    print(f"{'framework':<16} {'labelled':>8} {'reported':>8} {'recall':>7} {'precision':>9} {'severity':>8}  missed / false lines")
    for s in [*scores, total]:
        severity = f"{s.severity_matches}/{s.true_positives}"
        detail = "" if s is total else f"  {s.missed or ''} {s.false or ''}"
        print(f"{s.name:<16} {s.expected:>8} {s.reported:>8} {s.recall:>7.2f} {s.precision:>9.2f} {severity:>8}{detail}")
    print(f"\nconnection strings: {secrets['shapes'] - secrets['shapes_missed']}/{secrets['shapes']} shapes found, "  # type: ignore[operator]
          f"{secrets['placeholders_flagged']}/{secrets['placeholders']} placeholders flagged")
    for line in [*secrets["misses"], *secrets["flagged"]]:  # type: ignore[misc]
        print(f"  {line}")
    worst = min(s.recall for s in scores)
    ok = total.recall >= 0.85 and total.precision >= 0.95 and worst >= 0.7 and not secrets["shapes_missed"] and not secrets["placeholders_flagged"]
    print(f"\ntargets: recall {total.recall:.2f} (>= 0.85), precision {total.precision:.2f} (>= 0.95), worst framework recall {worst:.2f} (>= 0.7): {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
