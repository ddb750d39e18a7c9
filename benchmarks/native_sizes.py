"""Native C backend figures for the DESIGN.md section 7 shapes: LSTM(16)/GRU(16)/SimpleRNN(16)
on 20x3 windows with Dense(4) softmax, random (seeded) weights, each numeric mode.

Prints const bytes (weights + constants), state RAM bytes, host x86-64 instructions of one
<name>_run (valgrind callgrind, -O2, portable C path), max abs error vs Keras, and, with
arm-none-eabi-gcc, the Cortex-M4F code + const size of the model linked into an empty app.

usage: python3 benchmarks/native_sizes.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn.native import generate  # noqa: E402
from edge_rnn.native.host import HOST_MAIN, compile_host, run_binary  # noqa: E402

T, F, UNITS, CLASSES = 20, 3, 16, 4
M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
APP = """#include "edge_rnn_model.h"
static edge_rnn_state_t s; static float x[EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES];
static edge_rnn_output_t y[EDGE_RNN_OUTPUTS];
int main(void) { edge_rnn_run(&s, x, y); return (int)y[0]; }
"""
EMPTY_APP = "int main(void) { return 0; }\n"


def keras_model(cell: str):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((T, F))
    h = getattr(keras.layers, cell)(UNITS)(inp)
    return keras.Model(inp, keras.layers.Dense(CLASSES, activation="softmax")(h), name=cell.lower())


def callgrind_instructions(binary: Path, x: np.ndarray, func: str, tmp: Path) -> int:
    x[:1].astype(np.float32).tofile(tmp / "x.f32")
    out = tmp / "callgrind.out"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            f"--toggle-collect={func}",
            str(binary),
            str(tmp / "x.f32"),
            "1",
            str(tmp / "y.bin"),
            "run",
        ],
        check=True,
        capture_output=True,
    )
    text = out.read_text()
    return int(re.search(r"^summary:\s+(\d+)", text, re.M).group(1))


def arm_size(gen_dir: Path, tmp: Path) -> int | None:
    """text+data of the linked M4F app minus an empty app: model code + const data."""
    if not shutil.which("arm-none-eabi-gcc"):
        return None
    sizes = []
    for name, src, extra in (
        ("app", APP, [str(s) for s in gen_dir.glob("*.c")]),
        ("empty", EMPTY_APP, []),
    ):
        (tmp / f"{name}.c").write_text(src)
        elf = tmp / f"{name}.elf"
        subprocess.run(
            [
                "arm-none-eabi-gcc",
                "-std=c99",
                "-O2",
                *M4,
                "-ffunction-sections",
                "-fdata-sections",
                "-Wl,--gc-sections",
                "--specs=nosys.specs",
                f"-I{gen_dir}",
                str(tmp / f"{name}.c"),
                *extra,
                "-o",
                str(elf),
                "-lm",
            ],
            check=True,
            capture_output=True,
        )
        out = (
            subprocess.run(
                ["arm-none-eabi-size", str(elf)], check=True, capture_output=True, text=True
            )
            .stdout.splitlines()[1]
            .split()
        )
        sizes.append(int(out[0]) + int(out[1]))
    return sizes[0] - sizes[1]


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from edge_rnn.frontends.keras import load_model_ir

    rng = np.random.RandomState(0)
    x = rng.randn(64, T, F).astype(np.float32)
    print(
        f"{'model':<10} {'mode':<8} {'const B':>8} {'RAM B':>6} {'host instr':>11} "
        f"{'M4 code+const B':>16} {'max err vs Keras':>17}"
    )
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        km = keras_model(cell)
        ref = np.asarray(km(x, training=False))
        model = load_model_ir(km)
        for quant in ("float32", "int8w", "int8"):
            with tempfile.TemporaryDirectory() as tmp_name:
                tmp = Path(tmp_name)
                gen = generate(model, tmp / "gen", quant=quant, calibration_x=x)
                binary = compile_host(gen, tmp / "model")
                err = np.abs(run_binary(binary, x).values - ref).max()
                instr = callgrind_instructions(binary, x, f"{model.name}_run", tmp)
                arm = arm_size(gen.out_dir, tmp)
                print(
                    f"{cell:<10} {quant:<8} {gen.const_bytes:>8,} {gen.ram_bytes:>6,} "
                    f"{instr:>11,} {arm if arm is not None else 'n/a':>16} {err:>17.2e}"
                )
    print(f"(host driver: {HOST_MAIN.name}; instructions are x86-64, portable C path, -O2)")


if __name__ == "__main__":
    main()
