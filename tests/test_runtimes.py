"""Each runner on a tiny real model: LiteRT, TFLite Micro (subprocess), ONNX Runtime, Keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import tiny_build  # noqa: F401  (session fixture)

from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import read_json
from edge_rnn.runtimes import Artefact, ModelMeta, RunnerSkipped, get_runner, load_runners
from edge_rnn.runtimes.base import RunContext
from edge_rnn.runtimes.tflm import arena_works, find_min_arena
from edge_rnn.training.metadata import ModelMetadata


@pytest.fixture(scope="module")
def setup(tiny_build: Path):  # noqa: F811
    meta = ModelMeta.from_metadata(ModelMetadata.read(tiny_build / "model" / "metadata.json"))
    with np.load(tiny_build / "data" / "test.npz") as data:
        x = data["x"][:16]
    keras = run("keras", tiny_build / "model" / "model.keras", "keras", "float32", x, meta)
    return tiny_build, meta, x, keras.outputs


def run(runner: str, path: Path, fmt: str, quant: str, x: np.ndarray, meta: ModelMeta):
    ctx = RunContext(work_dir=path.parent.parent / "work", timeout_s=120)
    return get_runner(runner).run(Artefact(path.stem, path, fmt, quant), x, meta, ctx)


def test_registry_discovers_every_runner_in_order() -> None:
    names = list(load_runners())
    for name in ("keras", "litert", "tflm", "onnxruntime"):
        assert name in names
    assert names.index("keras") < names.index("litert") < names.index("tflm")
    with pytest.raises(EdgeRnnError, match="unknown runner 'nope'"):
        get_runner("nope")


@pytest.mark.parametrize(
    "runner, fmt, quant, tolerance",
    [
        ("litert", "tflite", "float32", 1e-5),
        ("litert", "tflite", "float16", 5e-3),
        ("litert", "tflite", "int8", 0.1),
        ("litert", "tflite", "int16x8", 0.03),
        ("tflm", "tflite", "float32", 1e-5),
        ("tflm", "tflite", "int8", 0.1),
        ("onnxruntime", "onnx", "float32", 1e-5),
        ("onnxruntime", "onnx", "int8", 0.05),
    ],
)
def test_runner_matches_float_keras(setup, runner, fmt, quant, tolerance) -> None:
    build, meta, x, ref = setup
    result = run(runner, build / fmt / f"tiny_lstm_{quant}.{fmt}", fmt, quant, x, meta)
    assert result.outputs.shape == ref.shape and result.outputs.dtype == np.float32
    assert np.max(np.abs(result.outputs - ref)) < tolerance
    if fmt == "tflite" and quant in ("int8", "int16x8"):
        assert result.raw_outputs.dtype == (np.int8 if quant == "int8" else np.int16)
        assert result.raw_scale > 0
        dequantized = (result.raw_outputs.astype(np.float32) - result.raw_zero_point) * np.float32(
            result.raw_scale
        )
        np.testing.assert_array_equal(dequantized, result.outputs)


@pytest.mark.parametrize(
    "runner, quant", [("litert", "int8"), ("litert", "float32"), ("tflm", "int8")]
)
def test_every_window_starts_from_reset_state(setup, runner, quant) -> None:
    build, meta, x, _ = setup
    repeated = x[[0, 0, 0, 3, 3]]
    out = run(
        runner, build / "tflite" / f"tiny_lstm_{quant}.tflite", "tflite", quant, repeated, meta
    ).outputs
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[3], out[4])


def test_fused_lstm_carries_state_without_reset(setup) -> None:
    """Why the runners reset: the same window twice without reset gives another answer."""
    from ai_edge_litert.interpreter import Interpreter

    build, meta, x, _ = setup
    interpreter = Interpreter(model_path=str(build / "tflite" / "tiny_lstm_float32.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    answers = []
    for _ in range(2):
        interpreter.set_tensor(inp["index"], meta.normalize(x[:1]))
        interpreter.invoke()
        answers.append(interpreter.get_tensor(out["index"]).copy())
    assert np.max(np.abs(answers[0] - answers[1])) > 1e-4


def test_tflm_matches_litert_in_lsb(setup) -> None:
    build, meta, x, _ = setup
    path = build / "tflite" / "tiny_lstm_int8.tflite"
    litert = run("litert", path, "tflite", "int8", x, meta)
    tflm = run("tflm", path, "tflite", "int8", x, meta)
    diff = np.abs(litert.raw_outputs.astype(int) - tflm.raw_outputs.astype(int))
    assert diff.max() <= 3
    assert tflm.memory["arena_min_bytes"] > 0


@pytest.mark.parametrize("quant", ["float16", "dynamic"])
def test_tflm_skips_what_it_cannot_run(setup, quant) -> None:
    build, meta, x, _ = setup
    with pytest.raises(RunnerSkipped) as skip:
        run("tflm", build / "tflite" / f"tiny_lstm_{quant}.tflite", "tflite", quant, x, meta)
    assert skip.value.not_applicable and "TFLite Micro does not run" in skip.value.reason


def test_arena_bisection_is_the_smallest_that_works(setup) -> None:
    build = setup[0]
    path = build / "tflite" / "tiny_lstm_int8.tflite"
    arena = find_min_arena(path)
    assert arena_works(path, arena.min_bytes)
    assert not arena_works(path, arena.min_bytes - 16)
    assert not arena_works(path, int(arena.min_bytes * 0.9))
    assert arena_works(path, arena.recommended_bytes)
    assert arena.recommended_bytes >= arena.min_bytes + 1024 and arena.recommended_bytes % 16 == 0
    # The interpreter's own total under-reports what allocation really needs (runtimes/tflm.py).
    assert arena.interpreter_reported_bytes < arena.min_bytes


@pytest.mark.parametrize(
    "runner, suffix", [("litert", "tflite"), ("tflm", "tflite"), ("onnxruntime", "onnx")]
)
def test_corrupted_artefact_is_a_clear_error(setup, tmp_path, runner, suffix) -> None:
    _, meta, x, _ = setup
    bad = tmp_path / "m" / f"broken.{suffix}"
    bad.parent.mkdir()
    bad.write_bytes(b"TFL3" * 10 + bytes(range(256)))
    with pytest.raises(EdgeRnnError, match="broken"):
        run(runner, bad, suffix, "int8", x, meta)


def test_wrong_window_shape_is_a_clear_error(setup) -> None:
    build, meta, x, _ = setup
    with pytest.raises(EdgeRnnError, match=r"model input shape .* does not take windows"):
        run(
            "litert",
            build / "tflite" / "tiny_lstm_float32.tflite",
            "tflite",
            "float32",
            x[:, :5],
            meta,
        )


@pytest.mark.parametrize("quant, tolerance", [("float32", 1e-5), ("int8", 0.1)])
def test_host_c_runner_on_generated_native_model(setup, tmp_path, quant, tolerance) -> None:
    generate = pytest.importorskip("edge_rnn.native.generate").generate
    from edge_rnn.frontends.keras import load_model_ir

    build, meta, x, ref = setup
    metadata = read_json(build / "model" / "metadata.json", "metadata")
    model = load_model_ir(build / "model" / "model.keras", metadata)
    with np.load(build / "data" / "calibration.npz") as data:
        generate(model, tmp_path / "native", quant=quant, calibration_x=data["x"])
    result = run("host_c", tmp_path / "native", "native-c", quant, x, meta)
    assert np.max(np.abs(result.outputs - ref)) < tolerance
    assert result.memory["state_bytes"] > 0
    assert (result.raw_outputs is not None) == (quant == "int8")
