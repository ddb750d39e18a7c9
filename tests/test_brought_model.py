"""A model trained outside edge-rnn is deployed exactly as trained: raw input in, no
normalization it never saw, and every artefact checked against the user's own Keras outputs."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.native.host import run_host

STEPS, FEATURES = 12, 2


def _raw_offset_data(samples: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Sensor-like raw values far from zero mean / unit scale (e.g. a pressure in hPa)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(samples, STEPS, FEATURES)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) + 0.5 * x[:, -3:, 1].mean(axis=1) > 0).astype(np.int64)
    x = x * np.float32(0.4) + np.asarray([3.0, -1.5], np.float32)
    return x, y


def _train_outside(path: Path, x: np.ndarray, y: np.ndarray) -> keras.Model:
    """The user's own training script: raw input, no edge-rnn involved."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.GRU(8),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    model.save(path)
    return model


def _write_config(tmp_path: Path, model_section: str, native: str, tflite: str) -> Path:
    config = tmp_path / "build.toml"
    config.write_text(
        'name = "brought"\n[data]\nsource = "data.npz"\n'
        f'[model]\npath = "user.keras"\n{model_section}'
        f"[convert]\ntflite = [{tflite}]\nonnx = []\n"
        f"[native]\nquant = [{native}]\n[tflm]\nprojects = []\n"
    )
    return config


@pytest.fixture(scope="module")
def user_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, keras.Model]:
    folder = tmp_path_factory.mktemp("user")
    x, y = _raw_offset_data()
    np.savez(folder / "data.npz", x=x, y=y)
    return folder, _train_outside(folder / "user.keras", x, y)


@pytest.mark.slow
def test_brought_model_takes_raw_input_on_every_stage(user_model: tuple[Path, keras.Model]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    folder, model = user_model
    config = _write_config(
        folder, "", native='"float32", "int8w", "int8"', tflite='"float32", "int8"'
    )
    out = folder / "build"
    assert main(["build", str(config), "--out", str(out)]) == 0
    metadata = json.loads((out / "model" / "metadata.json").read_text())
    assert metadata["normalization"] is None

    # Independently of the validator: the converted model on RAW windows answers like the
    # user's Keras model on the same raw windows (a normalizing pipeline is off by 1e-3..1e-1).
    with np.load(out / "data" / "test.npz") as data:
        x_test = data["x"]
    expected = model.predict(x_test, verbose=0)
    interpreter = Interpreter(model_path=str(out / "tflite" / "brought_float32.tflite"))
    interpreter.allocate_tensors()
    got = []
    for window in x_test:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], window[None])
        interpreter.invoke()
        got.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5)
    # The native C applies the build's normalization itself: it must take the raw window too.
    native = run_host(out / "native" / "float32", x_test).reshape(expected.shape)
    np.testing.assert_allclose(native, expected, atol=1e-5)

    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True
    stages = {s["name"]: s for s in report["stages"]}
    for name in ("native_float32/host_c", "tflite_float32/litert"):
        assert stages[name]["metrics"]["max_abs"] < 1e-5, name
    assert stages["native_int8/host_c"]["metrics"]["top1_agreement"] >= 0.95


def test_normalization_is_applied_only_when_asked(user_model: tuple[Path, keras.Model]) -> None:
    folder, _ = user_model
    fitted = folder / "fit_build"
    config = _write_config(folder, 'normalization = "fit"\n', native="", tflite="")
    assert main(["build", str(config), "--out", str(fitted), "--force"]) == 0
    norm = json.loads((fitted / "model" / "metadata.json").read_text())["normalization"]
    assert norm["mean"] == pytest.approx([3.0, -1.5], abs=0.05)

    # A metadata.json beside the model (e.g. from `edge-rnn train`) is what the user asked for.
    beside = folder / "metadata.json"
    beside.write_text(json.dumps({"normalization": {"mean": [1.0, 2.0], "scale": [3.0, 4.0]}}))
    try:
        auto = folder / "auto_build"
        config = _write_config(folder, "", native="", tflite="")
        assert main(["build", str(config), "--out", str(auto), "--force"]) == 0
        norm = json.loads((auto / "model" / "metadata.json").read_text())["normalization"]
        assert norm == {"mean": [1.0, 2.0], "scale": [3.0, 4.0]}
        none = folder / "none_build"
        config = _write_config(folder, 'normalization = "none"\n', native="", tflite="")
        assert main(["build", str(config), "--out", str(none), "--force"]) == 0
        assert json.loads((none / "model" / "metadata.json").read_text())["normalization"] is None
    finally:
        beside.unlink()


def _rescaled_regressor(folder: Path) -> None:
    """A functional GRU regressor whose Rescaling layer removes a large raw offset (values near
    100, as a pressure or a temperature in kelvin)."""
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(240, 16, 2)) * 5 + 100).astype(np.float32)
    y = (x[:, -5:, 0].mean(axis=1, keepdims=True) - 100).astype(np.float32)
    np.savez(folder / "data.npz", x=x, y=y)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 2))
    hidden = keras.layers.GRU(8)(keras.layers.Rescaling(0.2, offset=-20.0)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    model.save(folder / "user.keras")


@pytest.mark.slow
def test_input_rescaling_is_computed_in_float32_by_every_artefact(tmp_path: Path) -> None:
    """Kept in a float16 or int16x8 graph, Rescaling(0.2, -20) on raw values near 100 loses
    the precision its subtraction needs (float16 max_abs 4.4e-2 before, 5.2e-4 now); folded into the
    input normalization, every artefact computes it in float32."""
    _rescaled_regressor(tmp_path)
    config = _write_config(tmp_path, "", native='"float32"', tflite='"float32", "float16"')
    out = tmp_path / "build"
    assert main(["build", str(config), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["artefacts"]:
        if entry["format"] == "tflite":
            norm = entry["input_normalization"]
            assert norm["mean"] == pytest.approx([100.0, 100.0]), entry["name"]
            assert norm["scale"] == pytest.approx([5.0, 5.0]), entry["name"]
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    assert report["passed"] is True, [s["failures"] for s in report["stages"] if s["failures"]]
    assert stages["tflite_float16/litert"]["metrics"]["max_abs"] < 5e-3
    # The board bundle tells run_on_board.py the same input normalization.
    from edge_rnn.ontarget.bundle import write_bundle

    bundle = write_bundle(out, tmp_path / "bundle", names=["tflite_float16"])
    entry = json.loads((bundle.out_dir / "bundle.json").read_text())["artefacts"][0]
    assert entry["input_normalization"]["scale"] == pytest.approx([5.0, 5.0])


def _shortening_model(steps: int | None) -> keras.Model:
    """Per-step classifier whose strided Conv1D front halves the sequence."""
    return keras.Sequential(
        [
            keras.Input((steps, 3)),
            keras.layers.Conv1D(4, 3, strides=2, padding="same"),
            keras.layers.GRU(4, return_sequences=True),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def test_per_step_labels_of_a_model_that_shortens_the_sequence(tmp_path: Path) -> None:
    from edge_rnn.data import load_dataset
    from edge_rnn.errors import EdgeRnnError
    from edge_rnn.training.metadata import metadata_for

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 16, 3)).astype(np.float32)
    np.savez(tmp_path / "half.npz", x=x, y=rng.integers(0, 2, (30, 8)))
    dataset = load_dataset(str(tmp_path / "half.npz"))
    for steps in (16, None):  # fixed, and variable length (output steps computed at 16)
        meta = metadata_for(_shortening_model(steps), dataset, None)
        assert meta.input_shape == (16, 3) and meta.output_shape == (8, 2), steps
    # The TFLite route notes how many steps the GRU is unrolled over: 8, not the window's 16.
    from edge_rnn.export.routes import tflite_route
    from edge_rnn.frontends.keras import load_model_ir

    (note,) = tflite_route(load_model_ir(_shortening_model(16)), "float32").notes
    assert " over 8 time steps (" in note, note
    # A model that keeps every step does not fit 8 labels per window, and says so.
    keeps = keras.Sequential([keras.Input((16, 3)), keras.layers.GRU(4, return_sequences=True)])
    with pytest.raises(EdgeRnnError, match=r"output shape \(16, 4\) does not match"):
        metadata_for(keeps, dataset, None)
    # edge-rnn's own trainer keeps every step, so it refuses such labels before training.
    from edge_rnn.training import ModelSpec, train

    with pytest.raises(EdgeRnnError, match="8 per-step labels for 16 time steps"):
        train(dataset, ModelSpec("gru", (4,), head="sequence"), tmp_path / "t", epochs=1)
    np.savez(tmp_path / "long.npz", x=x, y=rng.integers(0, 2, (30, 17)))
    with pytest.raises(EdgeRnnError, match="17 per-time-step labels but x has only 16"):
        load_dataset(str(tmp_path / "long.npz"))


def _binary_sigmoid(activation: str = "sigmoid") -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((STEPS, FEATURES)), keras.layers.GRU(4), keras.layers.Dense(1, activation)]
    )


def test_one_sigmoid_output_is_a_binary_classifier(tmp_path: Path) -> None:
    """Dense(1, 'sigmoid') + binary_crossentropy on 0/1 labels is taken as a 2-class model whose
    output is p(class 1): class 1 when p > 0.5, in every metric and in the chance check."""
    from edge_rnn.data import load_dataset
    from edge_rnn.errors import EdgeRnnError
    from edge_rnn.training.chance import check_chance
    from edge_rnn.training.metadata import metadata_for
    from edge_rnn.validate import metrics

    x, y = _raw_offset_data(40)
    np.savez(tmp_path / "binary.npz", x=x, y=y)
    dataset = load_dataset(str(tmp_path / "binary.npz"))
    meta = metadata_for(_binary_sigmoid(), dataset, None)
    assert meta.output_shape == (1,) and meta.class_names == ("0", "1")
    with pytest.raises(EdgeRnnError, match="one output for 2 classes needs a sigmoid"):
        metadata_for(_binary_sigmoid("linear"), dataset, None)

    ref = np.array([[0.9], [0.2], [0.6], [0.45]], np.float32)
    out = np.array([[0.8], [0.1], [0.4], [0.45]], np.float32)  # the third window flips
    labels = np.array([1, 0, 1, 1])
    found, details = metrics.compare(ref, out, classifier=True, sequence=False, labels=labels)
    assert found["top1_agreement"] == 0.75 and found["top1_real_flips"] == 1
    assert found["accuracy"] == 0.5
    assert details["confusion"] == [[1, 0], [2, 1]]
    assert check_chance(ref, labels, "classification").value == 0.75


def _nested(functional: bool) -> keras.Model:
    """A preprocessing model and a base model wrapped into one, as transfer-learning and
    preprocessing code builds them."""
    keras.utils.set_random_seed(0)
    pre = keras.Sequential(
        [keras.Input((STEPS, FEATURES)), keras.layers.Rescaling(2.5, offset=-7.5)], name="pre"
    )
    base = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.GRU(8),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="base",
    )
    if not functional:
        return keras.Sequential([keras.Input((STEPS, FEATURES)), pre, base])
    inputs = keras.Input((STEPS, FEATURES))
    return keras.Model(inputs, base(pre(inputs)))


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_nested_models_are_read_as_one_chain(tmp_path: Path, functional: bool) -> None:
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.training.task import head_activation

    x, y = _raw_offset_data(60)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    _nested(functional).save(tmp_path / "user.keras")
    loaded = keras.models.load_model(tmp_path / "user.keras")
    assert head_activation(loaded) == "softmax"
    model = load_model_ir(tmp_path / "user.keras")
    assert [type(layer).__name__ for layer in model.layers] == [
        "AffineLayer",
        "RecurrentLayer",
        "DenseLayer",
    ]
    config = _write_config(tmp_path, "", native='"float32"', tflite="")
    out = tmp_path / "build"
    assert main(["build", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s["metrics"] for s in report["stages"] if s["metrics"]}
    assert report["passed"] and stages["native_float32/host_c"]["max_abs"] < 1e-5
