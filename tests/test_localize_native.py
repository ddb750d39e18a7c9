"""Error localization of failing native C stages (edge_rnn/validate/localize_native.py).

A failure is provoked through the calibration, as in tests/test_localize.py for TFLite: a
Dense front end (identity), a ReLU SimpleRNN that integrates its input (identity kernels, so
h_t is the sum of the inputs up to step t) and a small linear head. The calibration windows
carry a signal only up to step STEP - 1, so the state peaks near 4.4 there and native int8
gives the RNN Q12 (int16 holds +-8); the test windows keep their signal (about 1 per step),
so the state passes 8 from step 7 on in some windows and at step SATURATES in all. The
localizer must name layer 'rnn' at step SATURATES, not the front or the head, and say that an
int16 value saturates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import save_model, write_manifest

from edge_rnn.fsutil import read_json

T, F, STEP, SATURATES = 12, 2, 4, 8
LIMIT = 0.1  # the native int8 rel_l2 default


def _model():  # noqa: ANN202 (a Keras model)
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.Dense(F, name="front"),
            keras.layers.SimpleRNN(F, activation="relu", name="rnn"),
            keras.layers.Dense(2, name="head"),
        ],
        name="tiny_rnn",
    )
    eye, zeros = np.eye(F, dtype=np.float32), np.zeros(F, np.float32)
    model.get_layer("front").set_weights([eye, zeros])
    model.get_layer("rnn").set_weights([eye, eye, zeros])
    model.get_layer("head").set_weights([0.05 * eye, zeros])  # outputs stay inside +-1
    return model


def _windows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x_test = rng.uniform(0.9, 1.1, size=(16, T, F)).astype(np.float32)
    calibration = rng.uniform(0.9, 1.1, size=(64, T, F)).astype(np.float32)
    calibration[:, STEP:] = 0.0  # the deliberate miscalibration
    return x_test, calibration


def _check(found: dict) -> None:
    assert found["first"]["layer"] == "rnn"
    assert found["first"]["jump"]["step"] == SATURATES
    assert found["cause"]["layer"] == "rnn" and found["cause"]["step"] == SATURATES
    assert found["cause"]["saturated"] > 0.5 and found["cause"]["dtype"] == "int16"
    assert found["cause"]["representable"] == pytest.approx([-8.0, 32767 / 4096])
    assert f"layer rnn, step {SATURATES}: rel_l2 jumps" in found["summary"]
    assert "saturates its int16 range" in found["summary"]
    assert {t["layer"] for t in found["saturated"]} == {"rnn"}
    curve = next(c for c in found["layers"] if c["layer"] == "rnn")
    assert curve["steps"] == list(range(T))
    assert max(curve["rel_l2"][:SATURATES]) < LIMIT < curve["rel_l2"][SATURATES]
    assert all(c["output_rel_l2"] < 1e-3 for c in found["layers"] if c["layer"] == "front")


def test_native_int8_localizer_names_the_saturating_layer_and_step() -> None:
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native.generate import plan_native
    from edge_rnn.validate.localize import find_origin
    from edge_rnn.validate.localize_native import native_errors

    x_test, calibration = _windows()
    model = _model()
    planned = plan_native(load_model_ir(model, {}), "int8", calibration)
    errors, got, expected = native_errors(planned, "int8", x_test[:4])
    np.testing.assert_allclose(expected, model(x_test[:4]).numpy(), atol=1e-5)
    assert np.abs(got - expected).max() > 0.1  # the int8 code really is wrong here
    layers = [e.layer for e in errors]
    assert layers[0] == "input" and {"front", "rnn", "head"} <= set(layers)
    _check(find_origin(errors, LIMIT))


def test_native_int8w_localization_compares_float_values() -> None:
    """int8w keeps float activations: nothing saturates, every quantity has an error."""
    import keras

    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native.generate import plan_native
    from edge_rnn.validate.localize import find_origin
    from edge_rnn.validate.localize_native import native_errors

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((T, F)), keras.layers.LSTM(5, name="lstm"), keras.layers.Dense(3)]
    )
    x_test, _ = _windows()
    errors, got, expected = native_errors(
        plan_native(load_model_ir(model, {}), "int8w", None), "int8w", x_test[:4]
    )
    assert 0 < np.abs(got - expected).max() < 0.05
    lstm = [e for e in errors if e.layer == "lstm"]
    assert len(lstm) == T * 8  # x, i, f, g, o, c, a, h per step
    assert all(e.dtype == "float32" and e.representable is None for e in errors)
    found = find_origin(errors, 1e-9)
    assert found["saturated"] == [] and "adds the most error" in found["summary"]


def test_native_bidirectional_directions_are_layers_with_their_own_steps() -> None:
    import keras

    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native.generate import plan_native
    from edge_rnn.validate.localize_native import native_errors

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True), name="bi"),
            keras.layers.SimpleRNN(2, name="top"),
        ]
    )
    x_test, _ = _windows()
    planned = plan_native(load_model_ir(model, {}), "int8", x_test)
    errors, got, expected = native_errors(planned, "int8", x_test[:4])
    assert np.abs(got - expected).max() < 0.05
    steps: dict[str, set] = {}
    for e in errors:
        steps.setdefault(e.layer, set()).add(e.step)
    assert steps == {
        "input": {None},
        "bi/forward": set(range(T)),
        "bi/backward": set(range(T)),
        "bi": {None},
        "top": set(range(T)),
    }


def test_native_localization_skips_masked_steps_as_keras() -> None:
    """The float twin skips a Masking model's padded steps (the int8 twin always did)."""
    import keras

    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native.generate import plan_native
    from edge_rnn.validate.localize_native import native_errors

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.Masking(0.0),
            keras.layers.GRU(4, name="gru"),
            keras.layers.Dense(2),
        ]
    )
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(8, T, F)) + 0.5).astype(np.float32)
    for window, length in zip(x, (3, 5, 7, 9, 12, 12, 6, 4), strict=True):
        window[length:] = 0.0
    planned = plan_native(load_model_ir(model, {}), "int8", x)
    assert planned.mask == 0.0
    errors, got, expected = native_errors(planned, "int8", x[:4])
    np.testing.assert_allclose(expected, model(x[:4]).numpy(), atol=1e-5)
    assert np.abs(got - expected).max() < 0.05
    assert max(e.rel_l2 for e in errors if e.layer == "gru") < 0.1


@pytest.mark.slow
def test_failing_native_stage_carries_the_localization_in_its_reports(tmp_path: Path) -> None:
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.fsutil import sha256_file
    from edge_rnn.native import generate
    from edge_rnn.validate import validate_build

    build = tmp_path / "build"
    for sub in ("model", "data"):
        (build / sub).mkdir(parents=True)
    model = _model()
    meta = save_model(build, model, "regression")
    x_test, calibration = _windows()
    np.savez(build / "data" / "test.npz", x=x_test, y=np.zeros((16, 2), np.float32))
    np.savez(build / "data" / "calibration.npz", x=calibration)
    out = build / "native" / "int8"
    generated = generate(
        load_model_ir(model, meta.to_dict()), out, quant="int8", calibration_x=calibration
    )
    entry = {
        "name": "native_int8",
        "path": "native/int8",
        "format": "native-c",
        "quantization": "int8",
        "size_bytes": generated.const_bytes,
        "files": {f.relative_to(out).as_posix(): sha256_file(f) for f in generated.files},
        "output_scale": generated.output_scale,
        "output_zero_point": 0,
    }
    write_manifest(build, [entry])

    report = validate_build(build, stages=["native_int8/host_c"], echo=False)
    stage = next(s for s in report.stages if s.name == "native_int8/host_c")
    assert stage.status == "failed"
    found = stage.details["localization"]
    _check(found)
    assert found["runtime"].endswith("max |diff| 0 from the stage's outputs")  # bit-exact
    assert len(found["windows"]) == 4 and found["limit"] == LIMIT
    saved = read_json(build / "report.json", "report")
    saved_stage = next(s for s in saved["stages"] if s["name"] == "native_int8/host_c")
    assert saved_stage["details"]["localization"]["summary"] == found["summary"]
    html = (build / "report.html").read_text(encoding="utf-8")
    assert "Where the error appears" in html and f"layer rnn, step {SATURATES}" in html
    assert "<code>rnn/g (candidate)</code>" in html  # the saturating tensors' table
