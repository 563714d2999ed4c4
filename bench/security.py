"""Security scanning speed and precision vs detect-secrets and bandit, on the same corpus in one run.

Corpus: the standard library source of the running Python, copied outside
site-packages (no real secrets in it apart from test private keys).

  secrets: `br security scan --no-sql`        vs `detect-secrets scan --all-files -n`
  SQL:     `br security scan --sql` (SQL only) vs `bandit -r -t B608`

Run:     python bench/security.py [--corpus DIR] [--skip-detect-secrets]
Needs:   pip install -e '.[bench]'   (detect-secrets, bandit)
Targets (issue 3): secrets >= 50x detect-secrets' MB/s; SQL >= 10x bandit; <= 5 false findings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

BIN = Path(sys.executable).parent


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
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return took, proc.stdout


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return f"{os.cpu_count()} cores, {model}, {platform.python_implementation()} {platform.python_version()}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def row(label: str, seconds: float, mb: float, findings: int) -> str:
    return f"  {label:<38} {seconds:8.2f} s {mb / seconds:9.1f} MB/s {findings:6d} findings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="reuse this copy of the stdlib instead of making one")
    parser.add_argument("--skip-detect-secrets", action="store_true", help="detect-secrets takes minutes; skip it")
    args = parser.parse_args()
    br, bandit = tool("br"), tool("bandit")
    detect = None if args.skip_detect_secrets else tool("detect-secrets")

    tmp = None
    if args.corpus:
        corpus = args.corpus.resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="br-bench-"))
        corpus = build_corpus(tmp / "stdlib")
    try:
        files, size = corpus_size(corpus)
        mb = size / 1e6
        print(f"corpus: {corpus} ({files} files, {mb:.1f} MB)")
        print(f"machine: {machine()}")

        br_s, out = timed([br, "security", "scan", "--directory", ".", "--no-sql", "--format", "json"], corpus)
        ours = json.loads(out)
        kinds = Counter(m["secret_type"] for m in ours["secrets"])
        false = sum(n for k, n in kinds.items() if k != "private_key")
        print("\nSecrets")
        print(row("br security scan --no-sql", br_s, mb, len(ours["secrets"])))
        if detect:
            ds_s, out = timed([detect, "scan", "--all-files", "-n", "."], corpus)
            ds = sum(len(v) for v in json.loads(out)["results"].values())
            print(row("detect-secrets scan --all-files -n", ds_s, mb, ds))
            print(f"  ratio: br is {ds_s / br_s:.0f}x detect-secrets' throughput (target >= 50x)")
        print(f"  br findings by type: {dict(kinds)}; other than test private keys: {false} (target <= 5)")
        print(f"  br skipped {len(ours['skipped'])} files (binary / too big / unreadable)")

        sql_s, out = timed([br, "security", "scan", "--directory", ".", "--sql", "--format", "json"], corpus)
        ours_sql = json.loads(out)["sql_injection"]
        b_s, out = timed([bandit, "-r", "-t", "B608", "-q", "-f", "json", "."], corpus)
        b = json.loads(out)["results"]
        print("\nSQL injection")
        print(row("br security scan --sql", sql_s, mb, len(ours_sql)))
        print(row("bandit -r -t B608", b_s, mb, len(b)))
        print(f"  ratio: br is {b_s / sql_s:.0f}x bandit's throughput (target >= 10x)")
        ours_at = {(m["file_path"], m["line_number"]) for m in ours_sql}
        bandit_at = {(os.path.relpath(r["filename"], ".").removeprefix("./"), r["line_number"]) for r in b}
        print(f"  same lines: {len(ours_at & bandit_at)}; only br: {sorted(ours_at - bandit_at)}; only bandit: {sorted(bandit_at - ours_at)}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
