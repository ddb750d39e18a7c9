"""TFLite artefact size and TFLite Micro arena of unrolled recurrent layers (docs/tflm.md).

Models (random seeded weights, random calibration windows):
- user: Normalization(6) + GRU(24, return_sequences) + LSTM(20) + Dense(3, softmax), 50 steps
- gru16: GRU(16) + Dense(4, softmax) on 20 x 3 windows
- gru16_t50: the same on 50 x 3 windows (how the artefact grows with the time steps)
- rnn16, rnn16_t50: SimpleRNN(16) + Dense(4, softmax) on 20 x 3 and 50 x 3 windows

Prints, per model and quantization: the .tflite bytes and the smallest TFLite Micro arena
(bisection, `edge_rnn.runtimes.tflm.find_min_arena`), each as a ratio to the native int8 C of
the same model (const bytes, RAM bytes), and that C's own figures.

usage: python3 benchmarks/tflite_sizes.py [MODEL ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUANTIZATIONS = ("int8", "float32", "int16x8")


def _model(name: str):  # -> keras.Model
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    if name == "user":
        norm = L.Normalization()
        norm.adapt(np.random.RandomState(1).randn(64, 50, 6).astype(np.float32) + 9.8)
        body = [keras.Input((50, 6)), norm, L.GRU(24, return_sequences=True), L.LSTM(20)]
        return keras.Sequential([*body, L.Dense(3, activation="softmax")], name=name)
    steps = 50 if name.endswith("_t50") else 20
    cell = L.SimpleRNN if name.startswith("rnn") else L.GRU
    return keras.Sequential(
        [keras.Input((steps, 3)), cell(16), L.Dense(4, activation="softmax")], name=name
    )


def _native_int8(model, x: np.ndarray, out: Path) -> tuple[int, int]:  # model: keras.Model
    """(const bytes, RAM bytes) of the native int8 C of the same model."""
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native import generate

    generated = generate(load_model_ir(model), out, quant="int8", calibration_x=x)
    return generated.const_bytes, generated.ram_bytes


def measure(name: str, tmp: Path) -> None:
    from edge_rnn.api import convert
    from edge_rnn.errors import EdgeRnnError, ToolCrashed
    from edge_rnn.export.inspect import inspect_file
    from edge_rnn.runtimes.tflm import find_min_arena

    model = _model(name)
    path = tmp / f"{name}.keras"
    model.save(path)
    steps, features = model.input_shape[1:]
    rng = np.random.RandomState(2)
    x = (rng.randn(32, steps, features) + (9.8 if name == "user" else 0)).astype(np.float32)
    calibration = tmp / f"{name}_cal.npz"
    np.savez(calibration, x=x)
    const, ram = _native_int8(model, x, tmp / f"{name}_native")
    for quantization in QUANTIZATIONS:
        out = tmp / f"{name}_{quantization}.tflite"
        convert(path, "tflite", quantization, out, calibration=calibration)
        size = inspect_file(out).size_bytes
        try:
            arena = find_min_arena(out, timeout_s=600.0).min_bytes
            arena_text = f"{arena:>9,} {arena / ram:>7.0f}x"
        except (EdgeRnnError, ToolCrashed) as err:
            arena_text = f"TFLM failed: {str(err)[-60:]}"
        print(
            f"{name:<10} {quantization:<8} {steps:>3} {size:>9,} {size / const:>7.1f}x "
            f"{arena_text}",
            flush=True,
        )
    print(f"{name:<10} {'native':<8} {steps:>3} {const:>9,} {'':>8} {ram:>9,} (int8 C)")


def main(names: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(
        f"{'model':<10} {'quant':<8} {'T':>3} {'tflite B':>9} {'/native':>8} "
        f"{'arena B':>9} {'/native':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="edge-rnn-bench-") as tmp:
        for name in names or ["user", "gru16", "gru16_t50", "rnn16", "rnn16_t50"]:
            measure(name, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
