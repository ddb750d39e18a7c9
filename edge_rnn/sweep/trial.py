"""One trial: its own process (train, build, validate, measure) started by a Dask task.

`run_trial(spec)` runs on a Dask worker: it starts `python -m edge_rnn.sweep.trial SPEC.json`
in a new session, waits up to the trial timeout, kills the whole session when it is exceeded,
and returns a result dict whatever happened (never raises for a trial's failure). The child
writes `result.json` beside its spec and `build/` (a normal build directory); it kills itself
when its worker goes away, so a lost worker leaves no orphan training.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import edge_rnn
from edge_rnn.children import run_child

_PACKAGE_ROOT = Path(edge_rnn.__file__).resolve().parents[1]  # the code this worker runs


def _failed(spec: dict[str, Any], error: str, started: float) -> dict[str, Any]:
    return {
        "number": spec["number"],
        "status": "failed",
        "error": error,
        "seconds": round(time.monotonic() - started, 2),
        "worker": socket.gethostname(),
    }


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class _TrialTimeout(Exception):
    pass


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one trial in a child process with a timeout; a result dict in every case."""
    started = time.monotonic()
    trial_dir = Path(spec["trial_dir"])
    trial_dir.mkdir(parents=True, exist_ok=True)
    result_path = trial_dir / "result.json"
    result_path.unlink(missing_ok=True)  # a retried trial starts clean
    spec_path = trial_dir / "trial.json"
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    paths = [str(_PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1")
    log_path = trial_dir / "trial.log"
    with open(log_path, "w", encoding="utf-8") as log:
        try:  # the timeout kills the trial's process group: its conversions and QEMU too
            code = run_child(
                [sys.executable, "-m", "edge_rnn.sweep.trial", str(spec_path)],
                timeout_s=spec["timeout"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                on_start=lambda pid: (trial_dir / "trial.pid").write_text(str(pid), "utf-8"),
                on_timeout=_TrialTimeout,
            ).returncode
        except _TrialTimeout:
            return _failed(spec, f"timed out after {spec['timeout']:g} s (killed)", started)
    if code < 0:
        name = signal.Signals(-code).name
        return _failed(spec, f"trial process killed by {name}", started)
    if not result_path.is_file():
        return _failed(spec, f"trial process exited {code}: {_log_tail(log_path)}", started)
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result.update(seconds=round(time.monotonic() - started, 2), worker=socket.gethostname())
    return result


def _die_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the trial's model and artefact, validate it on the targets, measure it."""
    from edge_rnn.api import build
    from edge_rnn.config import parse_config
    from edge_rnn.sweep.measure import measure, validation_summary
    from edge_rnn.validate.run import validate_build

    source = f"{spec['source']} (trial {spec['number']})"
    config = parse_config(spec["build"], source, Path(spec["base_dir"]))
    build_dir = Path(spec["trial_dir"]) / "build"
    clock = time.monotonic()
    build(config, build_dir, overwrite=True)
    phases = {"build": time.monotonic() - clock}
    targets = tuple(spec["targets"])
    report = validate_build(
        build_dir, targets=targets, stages=[spec["artefact"]], allow_skip=True, echo=True
    )
    phases["validate"] = time.monotonic() - clock - phases["build"]
    metrics = measure(build_dir, report, spec["artefact"], targets)
    phases["measure"] = time.monotonic() - clock - phases["build"] - phases["validate"]
    return {
        "number": spec["number"],
        "status": "complete",
        "metrics": metrics,
        "validation": validation_summary(report, spec["artefact"]),
        "phase_seconds": {k: round(v, 2) for k, v in phases.items()},
    }


def main(argv: list[str]) -> int:
    from edge_rnn.errors import EdgeRnnError
    from edge_rnn.tf_env import apply_tf_env

    apply_tf_env()
    _die_with_parent()
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    try:
        result = execute(spec)
    except EdgeRnnError as err:
        result = {"number": spec["number"], "status": "failed", "error": str(err)}
    except Exception as err:  # a bug in one trial must still be recorded, with where it was
        where = traceback.extract_tb(err.__traceback__)[-1]
        error = f"{type(err).__name__}: {err} ({Path(where.filename).name}:{where.lineno})"
        result = {"number": spec["number"], "status": "failed", "error": error}
        traceback.print_exc()
    tmp = spec_path.with_name("result.json.partial")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    os.replace(tmp, spec_path.with_name("result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
