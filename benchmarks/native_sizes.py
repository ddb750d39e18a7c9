"""Native C backend figures for the docs/ontarget.md reference shapes: LSTM(16)/GRU(16)/
SimpleRNN(16) on 20x3 windows with Dense(4) softmax, random (seeded) weights, each numeric mode.

Prints const bytes (weights + constants), state RAM bytes, host x86-64 instructions of one
<name>_run (valgrind callgrind, -O2, portable C path), max abs error vs Keras, and, with
arm-none-eabi-gcc, the Cortex-M4F code + const size of the model linked into an empty app.

usage: python3 benchmarks/native_sizes.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn.native import generate  # noqa: E402
from edge_rnn.native.host import (  # noqa: E402
    HOST_MAIN,
    compile_host,
    host_instructions,
    run_binary,
)
from edge_rnn.ontarget import missing_tools  # noqa: E402
from edge_rnn.ontarget.footprint import model_footprint  # noqa: E402
from edge_rnn.targets import load_target  # noqa: E402

T, F, UNITS, CLASSES = 20, 3, 16, 4


def keras_model(cell: str):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((T, F))
    h = getattr(keras.layers, cell)(UNITS)(inp)
    return keras.Model(inp, keras.layers.Dense(CLASSES, activation="softmax")(h), name=cell.lower())


def arm_size(gen_dir: Path) -> int | None:
    """Flash the model adds to a Cortex-M4F app (code + const), when the compiler is here."""
    target = load_target("cortex-m4f")
    return None if missing_tools(target) else model_footprint(target, gen_dir).flash_bytes


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
                instr = host_instructions(gen.out_dir, x)
                arm = arm_size(gen.out_dir)
                print(
                    f"{cell:<10} {quant:<8} {gen.const_bytes:>8,} {gen.ram_bytes:>6,} "
                    f"{instr:>11,} {arm if arm is not None else 'n/a':>16} {err:>17.2e}"
                )
    print(f"(host driver: {HOST_MAIN.name}; instructions are x86-64, portable C path, -O2)")


if __name__ == "__main__":
    main()
