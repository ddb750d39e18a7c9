"""The one child-process runner: a timeout kills the child's whole process group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from edge_rnn.children import run_child


class _Late(Exception):
    pass


def test_timeout_kills_the_child_and_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
        "time.sleep(60)\n"
    )
    started: list[int] = []
    with pytest.raises(_Late):
        run_child(
            [sys.executable, "-c", script], timeout_s=3, on_timeout=_Late, on_start=started.append
        )
    grandchild = int(pid_file.read_text())
    time.sleep(0.2)
    assert _running(grandchild) is False and _running(started[0]) is False


def _running(pid: int) -> bool:
    """False when the process is gone or a zombie (killed, waiting to be reaped by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_output_and_exit_code_are_returned() -> None:
    done = run_child(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ],
        timeout_s=30,
        on_timeout=_Late,
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
