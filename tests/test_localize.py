"""Error localization of failing quantized TFLite stages (edge_rnn/validate/localize.py).

A failure is provoked through the converter: calibration windows whose values shrink to 2 %
from step STEP on, while the test windows keep their size. Conv1D (one tensor for the whole
window, calibrated on every step) -> unrolled GRU (every step its own tensors and ranges) ->
Dense: the int8 GRU tensors from step STEP saturate, so the localizer must name layer 'rnn'
at step STEP, not the Conv1D front or the head, and say that a tensor saturates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import manifest_entry, save_model, write_manifest

from edge_rnn.fsutil import read_json

T, F, STEP = 10, 3, 6


def _build(build: Path) -> Path:
    import keras

    from edge_rnn.export.tflite import convert_tflite

    for sub in ("model", "data", "tflite"):
        (build / sub).mkdir(parents=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.Conv1D(4, 1, name="front"),
            keras.layers.GRU(6, name="rnn"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="tiny_gru",
    )
    meta = save_model(build, model, "classification", ("a", "b", "c"))
    rng = np.random.default_rng(0)
    x_test = rng.normal(size=(16, T, F)).astype(np.float32)
    calibration = rng.normal(size=(64, T, F)).astype(np.float32)
    calibration[:, STEP:] *= 0.02  # the deliberate miscalibration
    np.savez(build / "data" / "test.npz", x=x_test, y=np.zeros(16, np.int64))
    np.savez(build / "data" / "calibration.npz", x=calibration)
    entries = []
    for quant in ("float32", "int8"):
        rel = f"tflite/tiny_gru_{quant}.tflite"
        result = convert_tflite(
            build / "model" / "model.keras",
            quant,
            build / rel,
            metadata=meta.to_dict(),
            calibration=build / "data" / "calibration.npz",
        )
        entry = manifest_entry(build, f"tflite_{quant}", rel, "tflite", quant)
        entries.append({**entry, "route": result.route})
    write_manifest(build, entries)
    return build


@pytest.fixture(scope="module")
def miscalibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("localize") / "build")


def test_localizer_names_the_miscalibrated_layer_and_step(miscalibrated: Path) -> None:
    from edge_rnn.validate.localize import compare_tensors, find_origin

    x = np.load(miscalibrated / "data" / "test.npz")["x"][:4]
    errors = compare_tensors(
        miscalibrated / "tflite" / "tiny_gru_int8.tflite",
        miscalibrated / "tflite" / "tiny_gru_float32.tflite",
        x,
        "tiny_gru",
    )
    layers = {e.layer for e in errors}
    assert {"input", "front", "rnn", "head"} <= layers
    assert max(e.rel_l2 for e in errors if e.layer == "front") < 0.05
    found = find_origin(errors, limit=0.1)
    assert found["first"]["layer"] == "rnn"
    assert found["first"]["jump"]["step"] == STEP
    assert found["cause"]["layer"] == "rnn" and found["cause"]["saturated"] > 0.01
    assert "saturates its int8 range" in found["summary"]
    curve = next(c for c in found["layers"] if c["layer"] == "rnn")
    assert curve["steps"] == list(range(T))
    assert max(curve["rel_l2"][:STEP]) < 0.1 < curve["rel_l2"][STEP]


@pytest.mark.slow
def test_failing_stage_carries_the_localization_in_its_reports(miscalibrated: Path) -> None:
    from edge_rnn.validate import validate_build

    report = validate_build(miscalibrated, stages=["tflite_int8/litert"], echo=False)
    stage = next(s for s in report.stages if s.name == "tflite_int8/litert")
    assert stage.status == "failed"
    found = stage.details["localization"]
    assert found["first"]["layer"] == "rnn" and found["first"]["jump"]["step"] == STEP
    assert found["float_reference"] == "tflite/tiny_gru_float32.tflite"
    assert len(found["windows"]) == 4
    saved = read_json(miscalibrated / "report.json", "report")
    saved_stage = next(s for s in saved["stages"] if s["name"] == "tflite_int8/litert")
    assert saved_stage["details"]["localization"]["summary"] == found["summary"]
    html = (miscalibrated / "report.html").read_text(encoding="utf-8")
    assert "Where the error appears" in html and "layer rnn, step 6" in html
