"""`edge-rnn sweep`: config checks, picking, constraint and Pareto logic, the trial timeout, and
real sweeps (Optuna + Dask LocalCluster, then a separate `dask scheduler` + `dask worker`)
training, building, validating and measuring tiny models on the emulated Cortex-M4F."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_rnn.cli import main
from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import missing_tools
from edge_rnn.sweep.config import load_sweep_config
from edge_rnn.sweep.measure import check_constraints
from edge_rnn.sweep.pick import choose, parse_pick
from edge_rnn.sweep.results import pareto_front
from edge_rnn.sweep.trial import run_trial
from edge_rnn.targets import load_target

ROOT = Path(__file__).resolve().parents[1]
FLASH_LIMIT = 9000  # between the int8w (~4-5 KB) and int8 (~13 KB) SimpleRNN footprints
CONFIG = f"""
name = "sweep_t"
[data]
source = "builtin:gesture"
test_fraction = 0.1
[model]
cell = "simple_rnn"
[train]
epochs = 1
[convert]  # what --best rebuilds besides the trial's artefact: nothing
tflite = []
onnx = []
[native]
quant = []
[tflm]
projects = []
[sweep]
trials = 6
workers = 2
targets = ["cortex-m4f"]
objectives = ["accuracy", "flash", "instructions"]
[sweep.constraints]
max_flash_bytes = {FLASH_LIMIT}
[sweep.space]
units = [4, 8]
artefact = ["native:int8", "native:int8w"]
"""
needs_arm = pytest.mark.skipif(
    bool(missing_tools(load_target("cortex-m4f"))), reason="needs arm-none-eabi-gcc and QEMU"
)


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[sweep.space]\nwidth = [4]\n", "unknown key(s) width in [sweep.space]"),
        ('[sweep.space]\nartefact = ["tflite:int8"]\n', "cannot be measured for instructions"),
        ('[sweep.space]\ncell = ["transformer"]\n', "unknown cell 'transformer'"),
        ("[sweep.space]\nlearning_rate = {low = 0.1, high = 0.01}\n", "low < high"),
        ('[sweep]\ntargets = ["rpi-aarch64"]\n', "not a Cortex-M or RISC-V profile"),
        ("[sweep.constraints]\nmax_flash = 3\n", "unknown constraint 'max_flash'"),
        ("[model]\nunits = [4]\n", "needs a [sweep] table"),
    ],
)
def test_sweep_config_errors_name_the_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(EdgeRnnError, match=re.escape(message)):
        load_sweep_config(_config(tmp_path, extra))


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep"]) == 2
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert main(["sweep", "--best", str(tmp_path)]) == 2  # no sweep.json there
    assert main(["sweep", "--best", str(tmp_path), "--pick", "size<3"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("edge-rnn sweep: error:") for line in lines)
    assert "cannot read 'size<3'" in lines[3]


def _record(number: int, acc: float, flash: int, feasible: bool = True) -> dict:
    metrics = {"accuracy": acc, "flash_bytes": flash, "instructions": 1000}
    return {"number": number, "status": "complete", "feasible": feasible, "metrics": metrics}


def test_pick_prefers_the_front_then_the_first_objective(tmp_path: Path) -> None:
    config = load_sweep_config(_config(tmp_path))
    records = [
        _record(0, 0.90, 5000),
        _record(1, 0.95, 8000),
        _record(2, 0.94, 9000),  # dominated by trial 1
        _record(3, 0.99, 4000, feasible=False),
        {"number": 4, "status": "failed", "error": "x"},
    ]
    assert pareto_front(records, config) == [0, 1]
    summary = {
        "trials": records,
        "pareto": [0, 1],
        "objectives": [
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "flash_bytes", "direction": "minimize"},
            {"metric": "instructions", "direction": "minimize"},
        ],
    }
    conditions = parse_pick("flash<8.5k, acc>=0.9")
    assert [c.value for c in conditions] == [8.5 * 1024, 0.9]
    assert choose(summary, conditions)["number"] == 1
    assert choose(summary, parse_pick("flash<=5000"))["number"] == 0
    assert choose(summary, parse_pick("acc>0.945"))["number"] == 1  # 3 is infeasible
    with pytest.raises(EdgeRnnError, match="no feasible trial meets acc>0.96"):
        choose(summary, parse_pick("acc>0.96"))


def test_constraints_apply_on_every_target(tmp_path: Path) -> None:
    config = load_sweep_config(_config(tmp_path))
    result = {
        "metrics": {
            "accuracy": 0.9,
            "targets": {"cortex-m4f": {"flash_bytes": FLASH_LIMIT + 1}},
        },
        "validation": {"passed": True, "failures": []},
    }
    words, values = check_constraints(result, config)
    assert words == [f"flash_bytes {FLASH_LIMIT + 1} on cortex-m4f > {FLASH_LIMIT}"]
    assert values["max_flash_bytes"] > 0 and values["validation"] == 0
    result["metrics"]["targets"]["cortex-m4f"]["flash_bytes"] = FLASH_LIMIT
    result["validation"] = {"passed": False, "failures": ["native_int8/host_c: top1 0.5"]}
    words, values = check_constraints(result, config)
    assert words == ["validation failed: native_int8/host_c: top1 0.5"]
    assert values == {"max_flash_bytes": 0.0, "validation": 1.0}


def test_trial_over_its_timeout_is_killed_and_failed(tmp_path: Path) -> None:
    config = load_sweep_config(_config(tmp_path))
    spec = {
        "number": 0,
        "seed": 0,
        "params": {},
        "artefact": "native_int8",
        "build": config.build,
        "base_dir": str(tmp_path),
        "source": "test",
        "targets": ["cortex-m4f"],
        "timeout": 1.0,
        "trial_dir": str(tmp_path / "trial"),
    }
    started = time.monotonic()
    result = run_trial(spec)
    assert result["status"] == "failed" and "timed out after 1 s" in result["error"]
    assert time.monotonic() - started < 30
    pid = int((tmp_path / "trial" / "trial.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the trial process is gone, not orphaned


def _sweep(*args: str, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge_rnn.cli", "sweep", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _first_running_trial(out: Path, process: subprocess.Popen) -> Path:
    """The directory of the first trial whose process is training."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        for log in sorted(out.glob("trials/*/trial.log")):
            if "training" in log.read_text(errors="replace"):
                return log.parent
        time.sleep(0.5)
    raise AssertionError("no trial started training")


@needs_arm
@pytest.mark.slow
def test_sweep_runs_resumes_marks_failures_and_rebuilds_the_pick(tmp_path: Path) -> None:
    config, out = _config(tmp_path), tmp_path / "sweep"
    process = _sweep(str(config), "--out", str(out))
    trial_dir = _first_running_trial(out, process)
    os.kill(int((trial_dir / "trial.pid").read_text()), signal.SIGKILL)
    killed = int(trial_dir.name)
    output, _ = process.communicate(timeout=1200)
    assert process.returncode == 0, output
    assert "running on LocalCluster with 2 worker process(es)" in output
    first = json.loads((out / "sweep.json").read_text())
    trials = {r["number"]: r for r in first["trials"]}
    assert sorted(trials) == list(range(6))
    assert trials[killed]["status"] == "failed"
    assert "killed by SIGKILL" in trials[killed]["error"]
    complete = [r for r in trials.values() if r["status"] == "complete"]
    assert len(complete) == 5  # the others ran on
    for record in complete:  # the flash constraint, measured on the target
        flash = record["metrics"]["flash_bytes"]
        assert record["feasible"] == (flash <= FLASH_LIMIT), record
        assert record["metrics"]["instructions_source"] == "QEMU cortex-m4f (icount plugin)"
        assert (out / record["trial_dir"] / "build" / "report.json").is_file()
    assert {r["feasible"] for r in complete} == {True, False}
    assert first["pareto"] and all(trials[n]["feasible"] for n in first["pareto"])
    html = (out / "sweep.html").read_text()
    assert html.count("<svg") == 2 and f"{complete[0]['trial_dir']}/build/" in html

    stamps = {n: (out / f"trials/{n:04d}/trial.json").stat().st_mtime for n in range(6)}
    process = _sweep(str(config), "--out", str(out), "--trials", "8")
    output, _ = process.communicate(timeout=1200)
    assert process.returncode == 0, output
    assert "6 trial(s) stored; running 2 more" in output
    second = json.loads((out / "sweep.json").read_text())
    assert [r["number"] for r in second["trials"]] == list(range(8))
    assert second["trials"][:6] == first["trials"]  # kept, not re-run
    assert stamps == {n: (out / f"trials/{n:04d}/trial.json").stat().st_mtime for n in range(6)}

    best = tmp_path / "best"
    process = _sweep(
        "--best", str(out), "--pick", f"flash<{FLASH_LIMIT},acc>=0", "--out", str(best)
    )
    output, _ = process.communicate(timeout=1200)
    assert process.returncode == 0, output  # the rebuild validated (exit 1 otherwise)
    report = json.loads((best / "report.json").read_text())
    assert report["passed"]
    manifest = json.loads((best / "manifest.json").read_text())
    assert [a["name"] for a in manifest["artefacts"]] == ["native_int8w"]
    chosen = next(r for r in second["trials"] if f"trial {r['number']} rebuilt" in output)
    assert chosen["feasible"] and chosen["params"]["artefact"] == "native:int8w"
    accuracy = {s["name"]: s["metrics"].get("accuracy") for s in report["stages"]}
    assert accuracy["keras/keras"] == chosen["metrics"]["float_accuracy"]  # the trial's model
    assert accuracy["native_int8w/qemu-cortex-m4f"] == chosen["metrics"]["accuracy"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_arm
@pytest.mark.slow
def test_sweep_on_a_separate_dask_scheduler_and_worker(tmp_path: Path) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        + ["--port", str(port), "--no-dashboard"],
        **quiet,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address]
        + ["--nworkers", "1", "--nthreads", "2", "--no-dashboard"],
        **quiet,
    )
    try:
        config, out = _config(tmp_path), tmp_path / "sweep"
        process = _sweep(str(config), "--out", str(out), "--trials", "2", "--scheduler", address)
        # The worker process dies mid-trial: its trials die with it and are run again.
        lost = _first_running_trial(out, process)
        lost_pid = int((lost / "trial.pid").read_text())
        worker_pid = int(Path(f"/proc/{lost_pid}/stat").read_text().split(")")[1].split()[1])
        os.kill(worker_pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=1200)
        assert process.returncode == 0, output
        assert f"running on {address}" in output
        with pytest.raises(ProcessLookupError):
            os.kill(lost_pid, 0)  # gone with its worker, not orphaned
        summary = json.loads((out / "sweep.json").read_text())
        assert [r["status"] for r in summary["trials"]] == ["complete", "complete"]
        assert int((lost / "trial.pid").read_text()) != lost_pid  # it ran again
    finally:
        for server in (worker, scheduler):
            server.terminate()
            server.wait(timeout=60)


def test_stopped_trials_are_marked_interrupted_and_objectives_must_match(tmp_path: Path) -> None:
    from edge_rnn.sweep.engine import _mark_interrupted, counted, open_study

    config = load_sweep_config(_config(tmp_path))
    study = open_study(config, tmp_path)
    study.ask()  # a trial a stopped sweep left running
    assert _mark_interrupted(open_study(config, tmp_path)) == 1
    assert counted(study) == []  # not counted: a resumed sweep runs it again
    other = load_sweep_config(_config(tmp_path, CONFIG.replace('"flash", ', '"ram", ')))
    with pytest.raises(EdgeRnnError, match="optimises accuracy, flash, instructions"):
        open_study(other, tmp_path)
