"""Every export writes through `buildrunner.output`: files are replaced whole, everything else keeps its type."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from buildrunner.errors import BuildRunnerError, ConfigError
from buildrunner.output import open_output, write_output


def test_a_regular_file_is_replaced_whole_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    write_output(target, ["a,b\n", "1,2\n"])
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind


def test_a_failure_half_way_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def rows():
        yield "new,"
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        write_output(target, rows())
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_symlink_stays_a_link_and_its_target_gets_the_data(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    write_output(link, ["new\n"])
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "latest.csv"
    link.symlink_to(tmp_path / "made.csv")
    write_output(link, ["x\n"])
    assert link.is_symlink() and (tmp_path / "made.csv").read_text() == "x\n"


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_output(fifo, ["through the pipe\n"])
    reader.join(timeout=30)
    assert received == ["through the pipe\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_device_node_stays_a_device(tmp_path: Path) -> None:
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a second /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs root")
    write_output(node, ["discarded\n"])
    assert stat.S_ISCHR(node.lstat().st_mode)
    write_output("/dev/null", ["discarded\n"])
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        write_output(tmp_path, ["x"])


def test_an_unwritable_place_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BuildRunnerError, match="cannot"):
        write_output(blocker / "out.csv", ["x"])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (a device that is always full)")
def test_a_full_device_or_standard_output_is_one_clear_error_not_a_crash(tmp_project: Path) -> None:
    """Writing fails at flush time (ENOSPC): an export, a report, and plain standard output each say so in one line."""
    for args, stdout in (
        (("telemetry", "export", "/dev/full"), None),
        (("telemetry", "report", "/dev/full"), None),
        (("telemetry", "export", "-"), "/dev/full"),
        (("config", "show", "--format", "json"), "/dev/full"),
    ):
        with open(stdout or os.devnull, "w") as out:
            proc = subprocess.run([sys.executable, "-m", "buildrunner", *args], stdout=out, stderr=subprocess.PIPE, text=True, cwd=tmp_project)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "No space left on device" in proc.stderr and "unexpected" not in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


WRITE = "import sys\nfrom buildrunner.output import write_output\nwrite_output(sys.argv[1], ['line\\n'])\n"


@pytest.mark.parametrize("name", ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_stdout_names_write_to_the_open_standard_output(name: str, tmp_path: Path) -> None:
    """Into a pipe, and appending to a file opened with >> (as the shell would)."""
    piped = subprocess.run([sys.executable, "-c", WRITE, name], capture_output=True, text=True, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "line\n"
    log = tmp_path / "log.txt"
    log.write_text("kept\n")
    with log.open("a") as appending:
        subprocess.run([sys.executable, "-c", WRITE, name], stdout=appending, check=True, cwd=tmp_path)
    assert log.read_text() == "kept\nline\n"
    assert not (tmp_path / "-").exists()


def test_open_output_is_a_text_handle(tmp_path: Path) -> None:
    with open_output(tmp_path / "a.txt") as handle:
        handle.write("é\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "é\n"


def test_cost_tracker_export_csv_uses_the_same_rules(project, tmp_path: Path) -> None:
    from buildrunner.routing.cost_tracker import CostTracker

    tracker = CostTracker(project)
    tracker.track_request("haiku", 100, 50, cost=0.002)
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "costs.csv"
    link.symlink_to(real)
    assert tracker.export_csv(link) == 1
    assert link.is_symlink() and "haiku" in real.read_text()
    code = (
        "from buildrunner.routing.cost_tracker import CostTracker\n"
        "from buildrunner.project import Project\n"
        f"CostTracker(Project({str(project.paths.root)!r})).export_csv('-')\n"
    )
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("id,timestamp_utc,") and "haiku" in piped.stdout
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(("n", "expected"), [(0, "0 files"), (1, "1 file"), (2, "2 files")])
def test_counts_agree_with_their_noun(n: int, expected: str) -> None:
    from buildrunner.words import plural

    assert plural(n, "file") == expected
    assert plural(n, "SQL injection risk", "SQL injection risks").endswith("risk" if n == 1 else "risks")


def test_a_missing_folder_is_not_created_it_is_file_not_found(tmp_path: Path, run_br) -> None:
    """A typo in a folder name (`/nonexistent/dir/x.csv`) created the folders; now it is exit 6 and nothing is made."""
    from buildrunner.errors import NotFoundError

    target = tmp_path / "typo" / "dir" / "x.csv"
    with pytest.raises(NotFoundError, match="no such folder"):
        write_output(target, ["a\n"])
    assert not (tmp_path / "typo").exists()
    result = run_br("telemetry", "export", str(target))
    assert result.returncode == 6 and "typo/dir: no such folder" in result.stderr and not (tmp_path / "typo").exists()
