"""Unrolled recurrent layers in TFLite stay small per time step (edge_rnn.export.unrolled).

The tf-keras unrolled GRU cost 15 ops, two FULLY_CONNECTED and a quantized bias per step: on a
50-step GRU(24) + LSTM(20) model 348 KB of .tflite and a 251 KB TFLite Micro arena. The
compact form projects all inputs with one FULLY_CONNECTED and keeps 11 ops per GRU step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

STEPS = (8, 24)
# Measured per added time step of this GRU(8) int8 (8 -> 24 steps): compact form 2,672 B of
# .tflite and 2,936 B of TFLM arena; the tf-keras unrolled GRU took 4,954 B and 4,176 B.
MAX_BYTES_PER_STEP = 3500
MAX_ARENA_PER_STEP = 3500


def _gru_model(path: Path, steps: int) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((steps, 3)), keras.layers.GRU(8, name="rnn"), keras.layers.Dense(2)],
        name="tiny",
    )
    gru = model.get_layer("rnn")
    kernel, recurrent, bias = gru.get_weights()
    gru.set_weights([kernel, recurrent, np.random.default_rng(0).normal(size=bias.shape)])
    model.save(path / f"gru{steps}.keras")
    return path / f"gru{steps}.keras"


def _convert(tmp_path: Path, steps: int, quantization: str) -> Path:
    from edge_rnn.export.tflite import convert_tflite

    calibration = tmp_path / f"cal{steps}.npz"
    np.savez(calibration, x=np.random.default_rng(1).normal(size=(16, steps, 3)))
    out = tmp_path / f"gru{steps}_{quantization}.tflite"
    convert_tflite(_gru_model(tmp_path, steps), quantization, out, calibration=calibration)
    return out


def test_int8_gru_grows_little_per_time_step(tmp_path: Path) -> None:
    from edge_rnn.runtimes.tflm import find_min_arena

    files = {steps: _convert(tmp_path, steps, "int8") for steps in STEPS}
    added = STEPS[1] - STEPS[0]
    size = {steps: path.stat().st_size for steps, path in files.items()}
    arena = {steps: find_min_arena(path).min_bytes for steps, path in files.items()}
    assert (size[STEPS[1]] - size[STEPS[0]]) / added <= MAX_BYTES_PER_STEP, size
    assert (arena[STEPS[1]] - arena[STEPS[0]]) / added <= MAX_ARENA_PER_STEP, arena


def test_int16x8_gru_runs_in_tflm(tmp_path: Path) -> None:
    """The first step is written without the zero state: TFLM aborted on an int16 SUB of an
    all-zero constant (0 - candidate)."""
    from edge_rnn.runtimes.tflm import find_min_arena

    assert find_min_arena(_convert(tmp_path, STEPS[0], "int16x8")).min_bytes > 0


SEQ, BACK = {"return_sequences": True}, {"go_backwards": True}


@pytest.mark.parametrize(
    "layers",
    [
        [("GRU", 8, SEQ), ("GRU", 6, BACK)],
        [("GRU", 8, {"reset_after": False, **SEQ, **BACK}), ("GRU", 5, {"reset_after": False})],
        [("LSTM", 7, {"recurrent_activation": "hard_sigmoid", **SEQ}), ("LSTM", 5, BACK)],
        [("SimpleRNN", 7, {"activation": "relu", **SEQ}), ("SimpleRNN", 5, {"use_bias": False})],
        [("GRU", 6, {"use_bias": False, **SEQ}), ("LSTM", 4, {"use_bias": False})],
    ],
)
def test_compact_twin_computes_the_keras_model(
    tmp_path: Path, layers: list[tuple[str, int, dict[str, object]]]
) -> None:
    import keras

    from edge_rnn.export.twins import build_twin
    from edge_rnn.frontends.keras import load_model_ir

    keras.utils.set_random_seed(0)
    built = [getattr(keras.layers, cls)(units, **kwargs) for cls, units, kwargs in layers]
    model = keras.Sequential([keras.Input((9, 3)), *built, keras.layers.Dense(2)])
    rng = np.random.default_rng(1)
    for weight in model.weights:  # non-zero biases too (Keras starts them at zero)
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype(np.float32))
    model.save(tmp_path / "m.keras")
    ir_model = load_model_ir(tmp_path / "m.keras")
    twin = build_twin(ir_model, frozenset(layer.name for layer in ir_model.layers))
    x = rng.normal(size=(3, 9, 3)).astype(np.float32)
    got = np.concatenate([twin(x[i : i + 1]).numpy() for i in range(len(x))])
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=2e-5)
