"""Public SQL-injection check: bandit's labelled `examples/sql_statements.py`, line by line.

Fetches bandit's sdist with `pip download bandit --no-deps --no-binary :all:` (or uses
--sdist FILE), runs `SQLInjectionDetector.check_code` on the sample and prints, for each
line the sample's comments label bad or good, whether we flag it.

Run:  python bench/security_bandit_sample.py [--sdist bandit-X.tar.gz]
Pass: every "bad" line flagged, no "good" line flagged (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def fetch(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "bandit", "--no-deps", "--no-binary", ":all:", "-d", str(dest), "-q"], check=True)
    return sorted(dest.glob("bandit-*.tar.gz"))[-1]


def labelled(source: str) -> dict[int, str]:
    """line number -> "bad" | "good" for the code lines under a `# bad` / `# good` comment."""
    labels, label = {}, None
    for number, line in enumerate(source.splitlines(), 1):
        heading = re.match(r"#\s*(bad|good|real world false positives)", line)
        if heading:
            label = "bad" if heading.group(1) == "bad" else "good"
        elif line.startswith("#"):
            label = None
        elif label and line.strip() and not line.startswith((" ", '"', "SELECT")):
            labels[number] = label
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help="a bandit sdist already downloaded")
    args = parser.parse_args()
    from buildrunner.project import Project
    from buildrunner.security.sql_detector import SQLInjectionDetector

    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or fetch(Path(tmp))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("examples/sql_statements.py"))
            source = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
        flagged = {f.line_number for f in SQLInjectionDetector(Project(tmp)).check_code(source)}
    lines = source.splitlines()
    wrong = 0
    for number, label in sorted(labelled(source).items()):
        ok = (number in flagged) == (label == "bad")
        wrong += not ok
        print(f"{'ok ' if ok else 'BAD'} {label:4} line {number:3}: {lines[number - 1].strip()[:90]}")
    print(f"\n{sdist.name}: {sum(1 for v in labelled(source).values() if v == 'bad')} bad and "
          f"{sum(1 for v in labelled(source).values() if v == 'good')} good lines, {wrong} wrong")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
