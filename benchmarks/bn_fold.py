"""BatchNormalization before an LSTM in the native quantized modes: folded into the LSTM's input
columns, or kept as a diagonal Dense when its offsets are large (edge_rnn.native.fold,
CENTRED_OFFSET_MAX).

Trains Conv1D(8, relu) -> BatchNormalization -> LSTM(16) -> Dense(2) on windows with a 20 degC
channel (raw input, as a brought model sees it; and once with a Normalization first layer), then
prints per native mode the error against Keras (relative L2, max abs, top-1 agreement) and the
weight/state bytes, with the offset rule and with the BatchNorm always folded.

    python3 benchmarks/bn_fold.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn.tf_env import apply_tf_env  # noqa: E402

apply_tf_env()

import keras  # noqa: E402  (after the TensorFlow environment is set)

from edge_rnn import ir  # noqa: E402
from edge_rnn.frontends.keras import load_model_ir  # noqa: E402
from edge_rnn.native import fold  # noqa: E402
from edge_rnn.native.generate import generate  # noqa: E402
from edge_rnn.native.host import run_host  # noqa: E402

L = keras.layers
SAMPLES, STEPS, TRAIN = 400, 24, 300


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    drift = np.linspace(0, 1, STEPS)[None, :, None] * rng.normal(0, 1, (SAMPLES, 1, 1))
    temperature = 20.0 + rng.normal(0, 1.0, (SAMPLES, STEPS, 1)) + drift
    x = np.concatenate([temperature, rng.normal(0, 1.0, (SAMPLES, STEPS, 2))], axis=2)
    y = (x[:, :, 0].mean(1) > 20.0) ^ (x[:, :, 1].mean(1) > 0)
    return x.astype(np.float32), y.astype(np.int64)


def _trained(x: np.ndarray, y: np.ndarray, normalized: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    front = []
    if normalized:
        front = [L.Normalization()]
        front[0].adapt(x[:TRAIN])
    model = keras.Sequential(
        [
            keras.Input((STEPS, 3)),
            *front,
            L.Conv1D(8, 3, activation="relu"),
            L.BatchNormalization(),
            L.LSTM(16),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:TRAIN], y[:TRAIN], epochs=40, verbose=0, validation_split=0.1)
    return model


def main() -> None:
    x, y = _data()
    test = x[TRAIN:]
    work = Path(tempfile.mkdtemp(prefix="bn-fold-"))
    rule = fold.CENTRED_OFFSET_MAX
    print("| input | BN max offset | mode | fold | rel_l2 | max abs | agree | const B | RAM B |")
    print("|---|---|---|---|---|---|---|---|---|")
    for normalized in (False, True):
        model = _trained(x, y, normalized)
        ref = np.asarray(model.predict(test, verbose=0))
        ir_model = load_model_ir(model)
        batchnorm = [layer for layer in ir_model.layers if isinstance(layer, ir.AffineLayer)][-1]
        offset = float(np.abs(batchnorm.offset).max())
        for quant in ("int8w", "int8"):
            for label, limit in (("offset rule", rule), ("always", float("inf"))):
                fold.CENTRED_OFFSET_MAX = limit
                out = work / f"{normalized}_{quant}_{limit}"
                gen = generate(ir_model, out, quant=quant, calibration_x=x[:TRAIN])
                got = run_host(out, test).reshape(ref.shape)
                rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
                agree = float((got.argmax(1) == ref.argmax(1)).mean())
                print(
                    f"| {'Normalization first' if normalized else 'raw, 20 degC'} | "
                    f"{offset:.2f} | {quant} | {label} | {rel:.4f} | "
                    f"{np.abs(got - ref).max():.4f} | {agree:.3f} | {gen.const_bytes:,} | "
                    f"{gen.ram_bytes:,} |"
                )
            fold.CENTRED_OFFSET_MAX = rule


if __name__ == "__main__":
    main()
