"""A tiny real build directory for the validator tests (no tests of its own).

A fused LSTM classifier (10 steps x 3 features, LSTM(8), Dense(3)) trained for a few seconds,
exported with the project's own export API to every TFLite quantization and ONNX float/int8,
with a manifest as `edge-rnn build` writes it (docs/architecture.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from edge_rnn.fsutil import sha256_file, write_json

if TYPE_CHECKING:
    from edge_rnn.ir import Normalization
    from edge_rnn.training.metadata import ModelMetadata

T, F, CLASSES = 10, 3, 3
TFLITE = ("float32", "float16", "dynamic", "int8", "int16x8")
ONNX = ("float32", "int8")


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw (un-normalized) windows; the class is the feature with the largest mean."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, T, F)) * 2.0 + 5.0).astype(np.float32)
    return x, np.argmax(x.mean(axis=1), axis=1).astype(np.int64)


def manifest_entry(build: Path, name: str, rel: str, fmt: str, quant: str) -> dict:
    path = build / rel
    return {
        "name": name,
        "path": rel,
        "format": fmt,
        "quantization": quant,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def write_manifest(build: Path, entries: list[dict]) -> None:
    write_json(
        build / "manifest.json",
        {
            "edge_rnn_version": "0.1.0",
            "name": "tiny_lstm",
            "model": {"keras": "model/model.keras", "metadata": "model/metadata.json"},
            "data": {"test": "data/test.npz", "calibration": "data/calibration.npz"},
            "artefacts": entries,
        },
    )


def save_model(
    build: Path,
    model: Any,
    task: str,
    class_names: tuple[str, ...] = (),
    normalization: Normalization | None = None,
) -> ModelMetadata:
    """DIR/model/model.keras and its metadata.json, as a build writes them (synthetic data,
    features f0, f1, ...)."""
    from edge_rnn.training.metadata import ModelMetadata

    model.save(build / "model" / "model.keras")
    _, steps, features = model.input_shape
    meta = ModelMetadata(
        name=model.name,
        task=task,
        dataset="synthetic",
        input_shape=(steps, features),
        output_shape=tuple(model.output_shape[1:]),
        sequence_output=False,
        class_names=class_names,
        feature_names=tuple(f"f{i}" for i in range(features)),
        normalization=normalization,
    )
    meta.write(build / "model" / "metadata.json")
    return meta


def make_build(build: Path) -> Path:
    import keras

    from edge_rnn.data.dataset import fit_normalization
    from edge_rnn.export.onnx import convert_onnx
    from edge_rnn.export.tflite import convert_tflite

    for sub in ("model", "data", "tflite", "onnx"):
        (build / sub).mkdir(parents=True, exist_ok=True)
    x_train, y_train = _data(384, seed=0)
    x_test, y_test = _data(64, seed=1)
    norm = fit_normalization(x_train)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.LSTM(8),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ],
        name="tiny_lstm",
    )
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit(norm.apply(x_train), y_train, epochs=12, batch_size=32, verbose=0)
    meta = save_model(build, model, "classification", ("a", "b", "c"), norm)
    np.savez(build / "data" / "test.npz", x=x_test, y=y_test)
    np.savez(build / "data" / "calibration.npz", x=x_train[:200])
    entries = []
    keras_path = build / "model" / "model.keras"
    for quant in TFLITE:
        rel = f"tflite/tiny_lstm_{quant}.tflite"
        convert_tflite(
            keras_path,
            quant,
            build / rel,
            metadata=meta.to_dict(),
            calibration=build / "data" / "calibration.npz",
        )
        entries.append(manifest_entry(build, f"tflite_{quant}", rel, "tflite", quant))
    for quant in ONNX:
        rel = f"onnx/tiny_lstm_{quant}.onnx"
        convert_onnx(keras_path, quant, build / rel, metadata=meta.to_dict())
        entries.append(manifest_entry(build, f"onnx_{quant}", rel, "onnx", quant))
    write_manifest(build, entries)
    return build


def copy_build(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def patch_input_scale(path: Path, factor: float) -> None:
    """Rewrite a .tflite with its input tensor's scale multiplied by `factor` (a broken export)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph = model.subgraphs[0]
    quant = graph.tensors[graph.inputs[0]].quantization
    quant.scale = [float(s) * factor for s in quant.scale]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))


_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny build, made once per session (several test modules import this fixture)."""
    if "dir" not in _BUILT:
        _BUILT["dir"] = make_build(tmp_path_factory.mktemp("tiny") / "build")
    return _BUILT["dir"]
