"""Child processes with a timeout, in one place.

Every child (a TensorFlow conversion, the TFLite Micro worker, a compiler, QEMU, a sweep trial)
starts in its own process group; on a timeout, or when the caller is interrupted (Ctrl-C,
SIGTERM), the whole group is killed, so nothing it started outlives the command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

PIPE = subprocess.PIPE
POLL_S = 1.0  # how often a `stalled` check runs


def run_child(
    command: Sequence[str],
    *,
    timeout_s: float,
    on_timeout: Callable[[], BaseException],
    stdout: int | IO[Any] = PIPE,
    stderr: int | IO[Any] = PIPE,
    text: bool = True,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    on_start: Callable[[int], object] | None = None,
    stalled: Callable[[], BaseException | None] | None = None,
) -> subprocess.CompletedProcess[Any]:
    """Run `command` to completion within `timeout_s`, else kill its group and raise
    `on_timeout()`. A missing program raises FileNotFoundError as `subprocess.run` does.
    `stalled`, asked every POLL_S while the child runs: an error to kill it with at once."""
    with subprocess.Popen(
        list(command),
        stdout=stdout,
        stderr=stderr,
        text=text,
        env=env,
        cwd=cwd,
        start_new_session=True,
    ) as child:
        if on_start is not None:
            on_start(child.pid)
        deadline = time.monotonic() + timeout_s
        while True:
            wait_s = deadline - time.monotonic()
            try:
                out, err = child.communicate(timeout=min(wait_s, POLL_S) if stalled else wait_s)
                break
            except subprocess.TimeoutExpired:
                timed_out = time.monotonic() >= deadline
                error = None if timed_out or stalled is None else stalled()
                if timed_out or error is not None:
                    _kill_group(child)
                    raise (error or on_timeout()) from None
            except BaseException:
                _kill_group(child)
                raise
    return subprocess.CompletedProcess(list(command), child.returncode, out, err)


def _kill_group(child: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()  # reap it and close the pipes
