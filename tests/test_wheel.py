"""The package as a user installs it: a wheel (not editable) in a fresh virtual environment
generates C from its packaged templates and runs a target from its packaged profiles."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from edge_rnn.ontarget import missing_tools
from edge_rnn.targets import load_target

REPO = Path(__file__).resolve().parents[1]
QEMU_STAGE = """
import sys, numpy as np, edge_rnn
from pathlib import Path
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner
print("edge_rnn from", edge_rnn.__file__)
model = Path(sys.argv[1])
meta = ModelMeta(name="tiny", input_shape=(5, 2), output_shape=(3,))
x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
artefact = Artefact("native_float32", model, "native-c", "float32")
ctx = RunContext(Path(sys.argv[2]).resolve())
result = get_runner("qemu-cortex-m4f").run(artefact, x, meta, ctx)
print("qemu outputs", result.outputs.shape, "flash", result.memory["flash_bytes"])
"""


def _run(command: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_installed_wheel_generates_c_and_runs_a_qemu_stage(tmp_path: Path) -> None:
    if missing_tools(load_target("cortex-m4f")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (bash scripts/setup.sh --arm)")
    source = tmp_path / "src"  # a copy: building in place would leave build/ in the checkout
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".*cache"),
    )
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."], source)
    (wheel,) = wheels.glob("edge_rnn-*.whl")
    venv = tmp_path / "venv"  # TensorFlow & co. come from the system site-packages
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "-q", "install", "--no-deps", str(wheel)], tmp_path)

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.GRU(4), keras.layers.Dense(3)], name="tiny"
    )
    model.save(tmp_path / "tiny.keras")
    work = tmp_path / "work"  # outside the checkout, so nothing imports the source tree
    work.mkdir()
    edge_rnn = str(venv / "bin" / "edge-rnn")
    _run([edge_rnn, "generate", "../tiny.keras", "--backend", "native", "--out", "c"], work)
    assert (work / "c" / "tiny.c").is_file() and (work / "c" / "ern.h").is_file()
    (work / "stage.py").write_text(QEMU_STAGE)
    out = _run([str(python), "stage.py", "c", "scratch"], work)
    assert f"edge_rnn from {venv}" in out, out
    assert "qemu outputs (3, 3)" in out
