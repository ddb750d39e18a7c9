"""Bring your own model: Keras models trained OUTSIDE edge-rnn, the shapes people deploy,
each built with the default configuration (only the data and the model file given).

Prints, per model: accepted or refused (with the reason), the time of the default build, and
per stage the status and max abs error against the user's Keras model on the same raw windows.

    python3 benchmarks/byom.py [--only NAME,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_rnn.tf_env import apply_tf_env

apply_tf_env()

import keras  # noqa: E402  (after the TensorFlow environment is set)

Data = tuple[np.ndarray, np.ndarray]


def _sensor_windows(n: int, steps: int, features: int, classes: int, seed: int) -> Data:
    """Raw accelerometer-like windows (offset, unnormalized): class = dominant frequency."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    t = np.arange(steps)[None, :, None]
    freq = (1 + y)[:, None, None] * 0.35
    x = np.sin(freq * t + rng.uniform(0, 6, (n, 1, features)))
    x = x + rng.normal(0, 0.2, (n, steps, features)) + np.linspace(0.0, 1.0, features)
    return x.astype(np.float32), y.astype(np.int64)


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int = 25) -> keras.Model:
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def conv1d_lstm(folder: Path) -> Path:
    """Activity recognizer: Conv1D front (causal, dilated, strided), pooling, LSTM."""
    x, y = _sensor_windows(400, 64, 3, 4, 0)
    np.savez(folder / "data.npz", x=x, y=y)
    model = keras.Sequential(
        [
            keras.Input((64, 3)),
            keras.layers.Conv1D(8, 5, padding="causal", dilation_rate=2, activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(8, 3, strides=2, padding="same", activation="relu"),
            keras.layers.LSTM(16),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    _fit(model, x, y).save(folder / "model.keras")
    return folder / "model.keras"


def embedding_lstm(folder: Path) -> Path:
    """Text classifier: token ids -> Embedding -> LSTM (sentiment-like: a positive token set)."""
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 200, (500, 20))
    y = (np.isin(tokens, np.arange(1, 40)).sum(axis=1) > 3).astype(np.int64)
    np.savez(folder / "data.npz", x=tokens.astype(np.int32), y=y)  # (N, T) token ids
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            keras.layers.Embedding(200, 8),
            keras.layers.LSTM(12),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    _fit(model, tokens, y).save(folder / "model.keras")
    return folder / "model.keras"


def masking_gru(folder: Path) -> Path:
    """Padded variable-length windows: Masking(0.0) + GRU."""
    x, y = _sensor_windows(400, 30, 2, 3, 2)
    lengths = np.random.default_rng(2).integers(12, 31, len(x))
    for window, length in zip(x, lengths, strict=True):
        window[length:] = 0.0
    np.savez(folder / "data.npz", x=x, y=y)
    model = keras.Sequential(
        [
            keras.Input((30, 2)),
            keras.layers.Masking(0.0),
            keras.layers.GRU(12),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    _fit(model, x, y).save(folder / "model.keras")
    return folder / "model.keras"


def normalized_stacked(folder: Path) -> Path:
    """Normalization layer front, LayerNorm between stacked cells, saved as legacy .h5."""
    x, y = _sensor_windows(400, 24, 3, 4, 3)
    np.savez(folder / "data.npz", x=x, y=y)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential(
        [
            keras.Input((24, 3)),
            norm,
            keras.layers.LSTM(16, return_sequences=True),
            keras.layers.LayerNormalization(),
            keras.layers.GRU(12),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    _fit(model, x, y).save(folder / "model.h5")
    return folder / "model.h5"


def stateful_lstm(folder: Path) -> Path:
    """A streaming LSTM (stateful=True, fixed batch of 1): keeps state across calls on device."""
    x, y = _sensor_windows(300, 16, 3, 3, 4)
    np.savez(folder / "data.npz", x=x, y=y)
    trained = _fit(
        keras.Sequential(
            [keras.Input((16, 3)), keras.layers.LSTM(12), keras.layers.Dense(3, "softmax")]
        ),
        x,
        y,
    )
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(1, 16, 3)),
            keras.layers.LSTM(12, stateful=True),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.set_weights(trained.get_weights())
    model.save(folder / "model.keras")
    return folder / "model.keras"


def raw_functional_gru(folder: Path) -> Path:
    """A functional (not Sequential) GRU regressor trained on raw offset data."""
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(400, 20, 2)) * 5 + 100).astype(np.float32)
    y = x[:, -5:, 0].mean(axis=1, keepdims=True) - 100
    np.savez(folder / "data.npz", x=x, y=y.astype(np.float32))
    inputs = keras.Input((20, 2))
    hidden = keras.layers.GRU(12)(keras.layers.Rescaling(0.2, offset=-20.0)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    model.save(folder / "model.keras")
    return folder / "model.keras"


def binary_sigmoid_gru(folder: Path) -> Path:
    """A binary classifier with one sigmoid output (p of class 1), 0/1 labels."""
    x, y = _sensor_windows(300, 20, 2, 2, 6)
    np.savez(folder / "data.npz", x=x, y=y)
    model = keras.Sequential(
        [keras.Input((20, 2)), keras.layers.GRU(8), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    model.save(folder / "model.keras")
    return folder / "model.keras"


def tf_keras_h5(folder: Path) -> Path:
    """A legacy .h5 saved by tf.keras (Keras 2, as TF <= 2.15 writes it): stacked LSTM, GRU,
    one-hot labels (keras.utils.to_categorical)."""
    import tf_keras

    x, y = _sensor_windows(300, 24, 3, 4, 7)
    onehot = np.eye(4, dtype=np.float32)[y]
    np.savez(folder / "data.npz", x=x, y=onehot)
    tf_keras.utils.set_random_seed(0)
    layers = tf_keras.layers
    model = tf_keras.Sequential(
        [
            layers.LSTM(16, return_sequences=True, input_shape=(24, 3)),
            layers.GRU(8),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(tf_keras.optimizers.Adam(0.01), "categorical_crossentropy")
    model.fit(x, onehot, epochs=8, batch_size=32, verbose=0)
    model.save(folder / "model.h5")
    return folder / "model.h5"


def bidirectional_stack(folder: Path) -> Path:
    """Bidirectional LSTM (sum), GRU (mul) and SimpleRNN (ave) stacked: every merge mode."""
    x, y = _sensor_windows(300, 20, 3, 4, 8)
    np.savez(folder / "data.npz", x=x, y=y)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((20, 3)),
            layers.Bidirectional(layers.LSTM(8, return_sequences=True), merge_mode="sum"),
            layers.Bidirectional(layers.GRU(8, return_sequences=True), merge_mode="mul"),
            layers.Bidirectional(layers.SimpleRNN(8), merge_mode="ave"),
            layers.Dense(4, activation="softmax"),
        ]
    )
    _fit(model, x, y, epochs=10).save(folder / "model.keras")
    return folder / "model.keras"


MODELS: dict[str, Callable[[Path], Path]] = {
    "conv1d_lstm": conv1d_lstm,
    "embedding_lstm": embedding_lstm,
    "masking_gru": masking_gru,
    "normalized_stacked_h5": normalized_stacked,
    "stateful_lstm": stateful_lstm,
    "raw_functional_gru": raw_functional_gru,
    "binary_sigmoid_gru": binary_sigmoid_gru,
    "tf_keras_h5": tf_keras_h5,
    "bidirectional_stack": bidirectional_stack,
}


def run_one(name: str, folder: Path) -> dict:
    from edge_rnn.api import build
    from edge_rnn.config import parse_config
    from edge_rnn.errors import EdgeRnnError

    folder.mkdir(parents=True)
    keras.utils.set_random_seed(0)
    model_path = MODELS[name](folder)
    table = {"data": {"source": "data.npz"}, "model": {"path": model_path.name}}
    config = parse_config(table, f"{name}.toml", folder)
    started = time.monotonic()
    result: dict = {"name": name}
    try:
        build(config, folder / "build", log=lambda _line: None)
        result["outcome"] = "accepted, passed"
    except EdgeRnnError as err:
        result["outcome"] = f"{'accepted, failed' if err.exit_code == 1 else 'refused'}: {err}"
    result["seconds"] = time.monotonic() - started
    report_path = folder / "build" / "report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        result["stages"] = [
            (s["name"], s["status"], s["metrics"].get("max_abs"), s["reason"])
            for s in report["stages"]
        ]
    manifest_path = folder / "build" / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        result["skipped"] = [(s["name"], s["reason"]) for s in manifest.get("skipped", [])]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names", default="")
    parser.add_argument("--keep", help="keep the builds in this directory")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    root = Path(args.keep or tempfile.mkdtemp(prefix="edge-rnn-byom-"))
    for name in names:
        result = run_one(name, root / name)
        print(f"\n## {name}: {result['outcome'][:300]} ({result['seconds']:.0f} s default build)")
        for artefact, reason in result.get("skipped", []):
            print(f"  skipped artefact {artefact}: {reason[:200]}")
        if result.get("stages"):
            print("| stage | status | max_abs | reason |\n|---|---|---|---|")
            for stage, status, max_abs, reason in result["stages"]:
                error = "-" if max_abs is None else f"{max_abs:.2e}"
                print(f"| {stage} | {status} | {error} | {reason[:120]} |")


if __name__ == "__main__":
    main()
