"""Security scanning speed against peers at equal parallelism, repeated and interleaved, with medians.

Corpus: the standard library source of the running Python, copied outside site-packages
(a project of its own, so `br` finds its config there).

Every tool runs on ONE core, the same input, in each round, in a rotating order (so a
change of machine load hits all of them alike); the table shows the median of the rounds
and the load average around them:

  secrets  `br security scan --no-sql` (security.workers = 1)   vs  gitleaks (GOMAXPROCS=1, `--gitleaks PATH`)
                                                                 and detect-secrets (one process, `--detect-secrets`)
  SQL      `br security scan --sql` (security.workers = 1)      vs  `bandit -r -t B608` (one process)

Then, once: `br` on every core (for reference), and the hostile inputs of issue 15:
the `q = q + q` files (Python and JavaScript; wall time and peak memory of the whole
`br` process, and of the analysis alone) and a tree 2,000 folders deep.

Run:     python bench/security.py [--corpus DIR] [--repeat 3] [--gitleaks PATH] [--detect-secrets]
Needs:   pip install -e '.[bench]'   (bandit, detect-secrets); gitleaks is optional (a binary path)
Targets (issue 15): secrets >= 1x gitleaks' MB/s and SQL >= 10x bandit's, at equal parallelism;
the q = q + q file under 1 s and 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BIN = Path(sys.executable).parent
# Runs a command and prints its peak resident memory (RUSAGE_CHILDREN of a process with one child).
PEAK_RSS = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
# detect-secrets' CLI uses every core; its API takes the number of processes.
DETECT_SECRETS_ONE_CORE = (
    "import json; from detect_secrets.core import baseline; from detect_secrets.settings import default_settings\n"
    "with default_settings():\n    found = baseline.create('.', should_scan_all_files=True, num_processors=1)\n"
    "print(json.dumps({'findings': sum(1 for _ in found)}))"
)


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed: pip install -e '.[bench]'")
    return found


def build_corpus(dest: Path) -> Path:
    """Copy the stdlib source to `dest`: no site-packages, caches, compiled extensions or the static libpython."""
    src = Path(sysconfig.get_paths()["stdlib"])
    ignore = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", "lib-dynload", "config-3*")
    shutil.copytree(src, dest, ignore=ignore, symlinks=True)
    return dest


def corpus_size(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".buildrunner"]
        for name in names:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def one_core_project(root: Path) -> None:
    """`br` in `root` scans in one process (security.workers = 1)."""
    (root / ".buildrunner").mkdir(exist_ok=True)
    (root / ".buildrunner" / "config.json").write_text(json.dumps({"security": {"workers": 1}}))


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.python_implementation()} {platform.python_version()}"


@dataclass
class Tool:
    label: str
    kind: str  # secrets | sql
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    count: Callable[[str], int] = lambda out: 0
    ok_codes: tuple[int, ...] = (0, 1, 3)
    seconds: list[float] = field(default_factory=list)
    findings: int = 0

    def run(self, cwd: Path) -> None:
        env = {**os.environ, "NO_COLOR": "1", **self.env}
        started = time.perf_counter()
        proc = subprocess.run(self.command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
        took = time.perf_counter() - started
        if proc.returncode not in self.ok_codes:
            sys.exit(f"{' '.join(self.command)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        self.seconds.append(took)
        self.findings = self.count(proc.stdout)


def br_json_count(key: str) -> Callable[[str], int]:
    return lambda out: len(json.loads(out)[key] or [])


def gitleaks_tool(path: str, report: Path) -> Tool:
    def count(_: str) -> int:
        return len(json.loads(report.read_text() or "[]")) if report.exists() else 0

    command = [path, "detect", "--no-git", "--source", ".", "--no-banner", "--redact", "--report-format", "json", "--report-path", str(report), "--exit-code", "0"]
    return Tool("gitleaks (GOMAXPROCS=1)", "secrets", command, env={"GOMAXPROCS": "1"}, count=count)


def hostile(br: str, work: Path) -> list[str]:
    """The issue's hostile inputs: wall time and peak memory of `br`, and of the analysis alone."""
    from buildrunner.project import Project
    from buildrunner.security.sql_detector import SQLInjectionDetector

    project = work / "hostile"
    project.mkdir()
    one_core_project(project)
    cases = {
        "q_plus_q.py": "import sqlite3\nq = 'SELECT * FROM t WHERE a = ' + input()\n" + "q = q + q\n" * 40 + "sqlite3.connect('x').execute(q)\n",
        "q_plus_q.js": "const { Pool } = require('pg');\nlet q = 'SELECT * FROM t WHERE a = ' + process.argv[2];\n" + "q = q + q;\n" * 40 + "new Pool().query(q);\n",
        "q_plus_q_50k.py": "q = 'SELECT * FROM t WHERE a = ' + x\n" + "q = q + q\n" * 50_000 + "cur.execute(q)\n",
    }
    rows = []
    detector = SQLInjectionDetector(Project(project))
    detector.check_code("cur.execute('SELECT * FROM t WHERE a = ' + x)")  # load rules, parsers and masking first
    detector.check_code("db.query('SELECT * FROM t WHERE a = ' + x);", language="javascript")
    for name, text in cases.items():
        (project / name).write_text(text)
        language = "javascript" if name.endswith(".js") else "python"
        started = time.perf_counter()
        findings = detector.check_code(text, language=language)
        alone = time.perf_counter() - started
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, br, "security", "scan", "--sql", "--file", name], cwd=project, capture_output=True, text=True, check=True).stdout.split()
        wall = time.perf_counter() - started
        rows.append(f"| `{name}` ({len(text):,} bytes) | {alone * 1000:.0f} ms | {wall:.2f} s | {int(out[1]) / 1024:.0f} MB | exit {out[0]}, {len(findings)} finding(s) |")
    folder = str(project / "deep")
    os.mkdir(folder)
    depth = 0
    while depth < 2000 and len(folder) < 3900:  # under PATH_MAX; os.makedirs recurses once per level
        folder = os.path.join(folder, "d")
        os.mkdir(folder)
        depth += 1
    Path(folder, "leak.env").write_text(f"PGPASSWORD={secrets.token_hex(12)}\n")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, br, "security", "scan", "--no-sql", "--directory", "deep"], cwd=project, capture_output=True, text=True, check=True).stdout.split()
    wall = time.perf_counter() - started
    rows.append(f"| a tree {depth:,} folders deep | | {wall:.2f} s | {int(out[1]) / 1024:.0f} MB | exit {out[0]} (the secret at the bottom found) |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="reuse this copy of the stdlib instead of making one")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3); the table shows medians")
    parser.add_argument("--gitleaks", help="path of a gitleaks binary to compare with")
    parser.add_argument("--detect-secrets", action="store_true", help="also run detect-secrets (one process; minutes per round)")
    parser.add_argument("--skip-hostile", action="store_true", help="skip the hostile inputs")
    args = parser.parse_args()
    br, bandit = tool("br"), tool("bandit")

    work = Path(tempfile.mkdtemp(prefix="br-bench-"))
    try:
        corpus = args.corpus.resolve() if args.corpus else build_corpus(work / "stdlib")
        one_core_project(corpus)
        files, size = corpus_size(corpus)
        mb = size / 1e6
        print(f"corpus: {corpus} ({files} files, {mb:.1f} MB)")
        print(f"machine: {machine()}; rounds: {args.repeat}")

        tools = [
            Tool("br security scan --no-sql (1 core)", "secrets", [br, "security", "scan", "--no-sql", "--format", "json"], count=br_json_count("secrets")),
            Tool("br security scan --sql (1 core)", "sql", [br, "security", "scan", "--sql", "--format", "json"], count=br_json_count("sql_injection")),
            Tool("bandit -r -t B608 (1 process)", "sql", [bandit, "-r", "-t", "B608", "-q", "-f", "json", "."], count=lambda out: len(json.loads(out)["results"])),
        ]
        if args.gitleaks:
            tools.append(gitleaks_tool(args.gitleaks, work / "gitleaks.json"))
        if args.detect_secrets:
            tools.append(Tool("detect-secrets (1 process)", "secrets", [sys.executable, "-c", DETECT_SECRETS_ONE_CORE], count=lambda out: json.loads(out)["findings"]))
        loads = [load()]
        for r in range(args.repeat):
            order = tools[r % len(tools):] + tools[: r % len(tools)]
            for t in order:
                t.run(corpus)
            loads.append(load())
            print(f"  round {r + 1}: " + ", ".join(f"{t.label.split(' (')[0]} {t.seconds[-1]:.2f}s" for t in tools) + f"; load {loads[-1]:.2f}")
        all_cores = Tool(f"br security scan --no-sql (every core: {os.cpu_count()})", "secrets", [br, "security", "scan", "--no-sql", "--format", "json"], count=br_json_count("secrets"))
        (corpus / ".buildrunner" / "config.json").write_text("{}")
        all_cores.run(corpus)
        one_core_project(corpus)

        print(f"\nload average (1 min) during the rounds: {min(loads):.2f} to {max(loads):.2f}")
        print("\n| tool | median | min | max | MB/s (median) | findings |\n| --- | --- | --- | --- | --- | --- |")
        for t in [*tools, all_cores]:
            med = statistics.median(t.seconds)
            print(f"| {t.label} | {med:.2f} s | {min(t.seconds):.2f} s | {max(t.seconds):.2f} s | {mb / med:.1f} | {t.findings} |")
        def ratio(peer: Tool, ours: Tool) -> str:
            """Median over the rounds of peer time / our time in the same round (both saw that round's load)."""
            per_round = [p / o for p, o in zip(peer.seconds, ours.seconds)]
            return f"{statistics.median(per_round):.1f}x (rounds: {', '.join(f'{r:.1f}' for r in per_round)})"

        print(f"\nSQL: br is {ratio(tools[2], tools[1])} bandit's throughput on one core (target >= 10x)")
        if args.gitleaks:
            print(f"secrets: br is {ratio(tools[3], tools[0])} gitleaks' throughput on one core (target >= 1x)")
        else:
            print("secrets: no gitleaks binary given (--gitleaks PATH): the >= 1x gitleaks target was not measured")
        if args.detect_secrets:
            print(f"secrets: br is {ratio(tools[-1], tools[0])} detect-secrets' throughput on one core")

        if not args.skip_hostile:
            print("\n| hostile input | analysis alone | `br` process | peak memory (`br`) | result |\n| --- | --- | --- | --- | --- |")
            for row in hostile(br, work):
                print(row)
            print(f"load average after: {load():.2f}")
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)  # rm copes with the deep tree; shutil.rmtree recurses once per level


if __name__ == "__main__":
    main()
