"""What TFLite Micro cannot run is refused with one clear line and the alternative, before any
output directory is written: float16 and dynamic-range conversions (real TFLite files), WHILE
loops, Flex/custom ops, unknown ops and dynamic shapes (real flatbuffers edited by the schema).
Plus the `edge-rnn generate --backend tflm` command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.tflite import convert_tflite
from edge_rnn.tflm import generate_project

STEPS, FEATURES, CLASSES = 6, 3, 160


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tflm_refusals")


@pytest.fixture(scope="module")
def keras_lstm(root: Path) -> Path:
    """Dense(160) after LSTM(8): its 8x160 kernel is big enough (> 1024 elements) for the
    dynamic-range quantizer to make it int8 (it leaves the fused LSTM weights float)."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.LSTM(8),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ],
        name="refuse_lstm",
    )
    model.save(root / "lstm.keras")
    np.savez(
        root / "calibration.npz",
        x=np.random.default_rng(0).normal(size=(32, STEPS, FEATURES)).astype(np.float32),
    )
    return root / "lstm.keras"


@pytest.fixture(scope="module")
def converted(keras_lstm: Path, root: Path) -> dict[str, Path]:
    out = {}
    for quantization in ("int8", "float16", "dynamic"):
        out[quantization] = root / f"lstm_{quantization}.tflite"
        convert_tflite(
            keras_lstm,
            quantization,
            out[quantization],
            calibration=root / "calibration.npz" if quantization == "int8" else None,
        )
    return out


def _edited(source: Path, target: Path, mutate: Callable[[Any, Any], None]) -> Path:
    """A copy of `source` with the parsed flatbuffer changed by mutate(model, schema)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    mutate(model, schema)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.write_bytes(bytes(builder.Output()))
    return target


def _opcode(name: str, custom: bytes | None = None) -> Callable[[Any, Any], None]:
    """Turn the FULLY_CONNECTED opcode into `name` (a builtin or CUSTOM with custom code)."""

    def mutate(model: Any, schema: Any) -> None:
        for code in model.operatorCodes:
            if code.builtinCode == schema.BuiltinOperator.FULLY_CONNECTED:
                value = getattr(schema.BuiltinOperator, name)
                code.builtinCode, code.deprecatedBuiltinCode = value, min(value, 127)
                code.customCode = custom

    return mutate


def _dynamic_batch(model: Any, _schema: Any) -> None:
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].shapeSignature = [-1, STEPS, FEATURES]


def _refused(path: Path, out: Path, *needles: str) -> None:
    with pytest.raises(EdgeRnnError) as err:
        generate_project(path, out)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "native backend" in message
    for needle in needles:
        assert needle in message
    assert not out.exists()


def test_float16_is_refused(converted: dict[str, Path], tmp_path: Path) -> None:
    _refused(converted["float16"], tmp_path / "out", "float16", "DEQUANTIZE takes int8 only")


def test_dynamic_range_is_refused(converted: dict[str, Path], tmp_path: Path) -> None:
    _refused(converted["dynamic"], tmp_path / "out", "dynamic-range", "int8 weights")


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (_opcode("WHILE"), ("WHILE loops",)),
        (_opcode("CUSTOM", b"FlexMatMul"), ("Flex/custom", "FlexMatMul")),
        (_opcode("CUSTOM", b"MyOp"), ("CUSTOM:MyOp",)),
        (_opcode("HASHTABLE_LOOKUP"), ("HASHTABLE_LOOKUP", "no TFLite Micro registration")),
        (_dynamic_batch, ("dynamic shape [-1, 6, 3]",)),
    ],
    ids=["while", "flex", "custom", "unknown-op", "dynamic-shape"],
)
def test_unrunnable_graphs_are_refused(
    converted: dict[str, Path],
    tmp_path: Path,
    edit: Callable[[Any, Any], None],
    needles: tuple[str, ...],
) -> None:
    path = _edited(converted["int8"], tmp_path / "edited.tflite", edit)
    _refused(path, tmp_path / "out", *needles)


def test_unedited_copy_is_accepted(converted: dict[str, Path], tmp_path: Path) -> None:
    """Control for the edits above: repacking alone changes nothing TFLM cares about."""
    path = _edited(converted["int8"], tmp_path / "same.tflite", lambda model, schema: None)
    project = generate_project(path, tmp_path / "out", ecosystem="esp-idf")
    assert [op for op, _ in project.ops] == [
        "FULLY_CONNECTED",
        "SOFTMAX",
        "STRIDED_SLICE",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
    ]


def test_cli_generates_and_refuses(
    converted: dict[str, Path], root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = tmp_path / "metadata.json"
    metadata.write_text('{"name": "refuse_lstm", "class_names": ["a", "b"]}')
    data = tmp_path / "test.npz"
    np.savez(data, x=np.zeros((3, STEPS, FEATURES), np.float32), y=np.zeros(3))
    out = tmp_path / "proj"
    code = main(
        [
            "generate",
            str(converted["int8"]),
            "--backend",
            "tflm",
            "--project",
            "arduino",
            "--out",
            str(out),
            "--metadata",
            str(metadata),
            "--data",
            str(data),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "AddUnidirectionalSequenceLSTM" in printed and "arena" in printed
    assert (out / "refuse_lstm.ino").is_file()
    assert (
        (out / "expected_log.txt")
        .read_text()
        .startswith("EDGE-RNN v1 model=refuse_lstm samples=3 outputs=160 dtype=i8")
    )
    code = main(
        ["generate", str(converted["float16"]), "--backend", "tflm", "--out", str(tmp_path / "f16")]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "float16" in error
    code = main(
        ["generate", str(root / "lstm.keras"), "--backend", "tflm", "--out", str(tmp_path / "k")]
    )
    assert code == 2 and "takes a .tflite model" in capsys.readouterr().err


def test_int16_global_max_pooling_is_refused_not_failed(tmp_path: Path) -> None:
    """TFLM's REDUCE_MAX takes float32/int8 only: an int16x8 GlobalMaxPooling1D model failed its
    TFLM stage with 'could not allocate this model even with 67108864 bytes' (the arena
    bisection read the invoke error as a too small arena); it is not applicable, by name."""
    from edge_rnn.tflm.ops import tflm_refusal

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.SimpleRNN(2, return_sequences=True),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="gmp",
    )
    model.save(tmp_path / "gmp.keras")
    x = np.random.default_rng(0).normal(size=(16, STEPS, FEATURES)).astype(np.float32)
    np.savez(tmp_path / "calibration.npz", x=x)
    path = tmp_path / "gmp_int16x8.tflite"
    convert_tflite(
        tmp_path / "gmp.keras", "int16x8", path, calibration=tmp_path / "calibration.npz"
    )
    reason = tflm_refusal(path)
    assert reason is not None and "an int16 REDUCE_MAX (GlobalMaxPooling1D" in reason
    # Run anyway, the arena search says what TFLM said instead of blaming the arena size.
    from edge_rnn.runtimes._tflm_worker import find_arena

    error = find_arena(path.read_bytes())["error"]
    assert "could not allocate or invoke" in error and "REDUCE_MAX" in error
