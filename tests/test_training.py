"""Model builder, training loop, metadata and the `edge-rnn train` command (real Keras)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.data import load_dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_keras_model
from edge_rnn.training import (
    ModelMetadata,
    ModelSpec,
    build_model,
    evaluate,
    train,
    write_metadata,
)
from edge_rnn.training.metadata import KEYS

keras = pytest.importorskip("keras")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- model builder --------------------------------------------------------------------------


def test_stacked_bidirectional_build() -> None:
    spec = ModelSpec("gru", (8, 4), bidirectional=True, merge_mode="concat")
    model = build_model(spec, 12, 3, 5, "classification", name="my data-1")
    assert model.name == "my_data_1"
    names = [layer.name for layer in model.layers]
    assert names == ["input", "bidirectional_1", "bidirectional_2", "head"]
    first, second = model.layers[1], model.layers[2]
    assert first.forward_layer.return_sequences and not second.forward_layer.return_sequences
    assert isinstance(first.forward_layer, keras.layers.GRU)
    assert first.forward_layer.units == 8 and second.forward_layer.units == 4
    assert model.input_shape == (None, 12, 3) and model.output_shape == (None, 5)
    assert model.get_layer("head").activation.__name__ == "softmax"
    out = model.predict(np.zeros((2, 12, 3), np.float32), verbose=0)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    summed = build_model(
        ModelSpec("lstm", (6,), bidirectional=True, merge_mode="sum"), 12, 3, 2, "regression"
    )
    assert summed.get_layer("head").input.shape[-1] == 6  # sum keeps the unit count


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_sequence_head_shapes(cell: str) -> None:
    model = build_model(ModelSpec(cell, (4, 3), head="sequence"), 10, 2, 3, "regression")
    assert [layer.name for layer in model.layers[1:]] == [f"{cell}_1", f"{cell}_2", "head"]
    assert model.get_layer(f"{cell}_2").return_sequences
    assert model.output_shape == (None, 10, 3)
    assert model.get_layer("head").activation.__name__ == "linear"


def test_model_spec_rejects_bad_options() -> None:
    assert ModelSpec("lstm", [8, 4]).units == (8, 4)  # type: ignore[arg-type]
    for kwargs, message in [
        ({"cell": "transformer", "units": (4,)}, "unknown cell 'transformer'"),
        ({"cell": "lstm", "units": ()}, "units must be one or more positive integers"),
        ({"cell": "lstm", "units": (0,)}, "units must be one or more positive integers"),
        ({"cell": "lstm", "units": (4,), "merge_mode": "max"}, "unknown merge mode 'max'"),
        ({"cell": "lstm", "units": (4,), "head": "all"}, "unknown head 'all'"),
        ({"cell": "lstm", "units": (4,), "dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"cell": "lstm", "units": (4,), "pool": 0}, "pool must be a positive integer"),
        ({"cell": "lstm", "units": (4,), "pool": 2, "head": "sequence"}, "head 'sequence' needs"),
    ]:
        with pytest.raises(EdgeRnnError) as info:
            ModelSpec(**kwargs)
        assert message in str(info.value)


# --- training -------------------------------------------------------------------------------


def test_train_writes_every_file_and_is_reproducible(tmp_path: Path) -> None:
    ds = load_dataset("builtin:gesture")
    spec = ModelSpec("lstm", (4,))
    lines: list[str] = []
    first = train(ds, spec, tmp_path / "a", epochs=2, seed=5, log=lines.append)
    assert [p.name for p in sorted(first.out_dir.iterdir())] == [
        "history.json",
        "history.png",
        "metadata.json",
        "model.keras",
    ]
    assert first.name == "gesture_lstm" and first.metric == "accuracy"
    assert first.epochs_run == 2 and 1 <= first.best_epoch <= 2
    assert lines[0].startswith("training gesture_lstm: lstm [4]")
    assert lines[1].startswith("  batch 32, up to 2 epochs, early stop after epoch 2 ")
    assert lines[2].startswith("  epoch 1/2  loss ") and "val_accuracy" in lines[2]
    assert "test accuracy" in lines[-1]

    # The saved model is the evaluated one: same predictions, same test metric.
    reloaded = load_keras_model(first.model_path)
    x = first.normalization.apply(ds.x_test)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), first.model.predict(x, verbose=0))
    assert evaluate(reloaded, ds, first.normalization) == first.test_metric

    meta = json.loads(first.metadata_path.read_text())
    assert set(meta) == {*KEYS, "evaluation"}
    assert meta["evaluation"]["metric"] == "accuracy" and meta["evaluation"]["labels"] == 200
    assert meta["name"] == "gesture_lstm" and meta["dataset"] == "builtin:gesture"
    assert meta["input_shape"] == [20, 3] and meta["output_shape"] == [4]
    assert meta["class_names"] == ["idle", "wave", "shake", "circle"]
    assert meta["feature_names"] == ["ax", "ay", "az"] and meta["sequence_output"] is False
    assert meta["normalization"]["mean"] == list(first.normalization.mean)
    assert ModelMetadata.read(first.metadata_path).normalization == first.normalization

    history = json.loads(first.history_path.read_text())
    assert set(history["history"]) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "learning_rate",
    }
    assert history["plan"]["batch_size"] == 32 and history["plan"]["learning_rate"] == 0.01
    assert history["test_accuracy"] == first.test_metric
    assert first.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Same seed -> byte-identical files.
    second = train(ds, spec, tmp_path / "b", epochs=2, seed=5, verbose=False)
    for name in ("model.keras", "metadata.json", "history.json", "history.png"):
        assert _digest(first.out_dir / name) == _digest(second.out_dir / name), name


def test_gesture_is_learnable_by_a_small_lstm(tmp_path: Path) -> None:
    ds = load_dataset("builtin:gesture")
    result = train(ds, ModelSpec("lstm", (16,)), tmp_path, epochs=8, verbose=False)
    assert result.test_metric > 0.85


def test_forecast_beats_persistence(tmp_path: Path) -> None:
    """The next-value task carries signal: a small LSTM halves the last-value baseline error."""
    ds = load_dataset("builtin:forecast")
    persistence = float(np.sqrt(np.mean((ds.x_test[:, -1, :] - ds.y_test) ** 2)))
    result = train(ds, ModelSpec("lstm", (16,)), tmp_path, epochs=5, verbose=False)
    assert result.test_metric < 0.6 * persistence


def test_stacked_bidirectional_sequence_regression(tmp_path: Path) -> None:
    ds = load_dataset("builtin:forecast_seq", timesteps=12)
    spec = ModelSpec("gru", (4, 3), bidirectional=True, merge_mode="ave", head="sequence")
    result = train(ds, spec, tmp_path, epochs=1, verbose=False)
    meta = ModelMetadata.read(result.metadata_path)
    assert meta.sequence_output and meta.output_shape == (12, 1) and meta.task == "regression"
    assert result.metric == "rmse" and np.isfinite(result.test_metric)
    reloaded = load_keras_model(result.model_path)
    assert reloaded.get_layer("bidirectional_2").merge_mode == "ave"
    x = result.normalization.apply(ds.x_test)
    expected = result.model.predict(x, verbose=0)
    assert expected.shape == (len(x), 12, 1)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    history = json.loads(result.history_path.read_text())["history"]
    assert set(history) == {"loss", "rmse", "val_loss", "val_rmse", "learning_rate"}


def test_head_must_fit_the_labels(tmp_path: Path) -> None:
    seq = load_dataset("builtin:forecast_seq", timesteps=6)
    with pytest.raises(EdgeRnnError, match="one label per time step: use head 'sequence'"):
        train(seq, ModelSpec("lstm", (2,)), tmp_path, epochs=1, verbose=False)
    last = load_dataset("builtin:forecast", timesteps=6)
    with pytest.raises(EdgeRnnError, match="one label per sample: use head 'last'"):
        train(last, ModelSpec("lstm", (2,), head="sequence"), tmp_path, epochs=1, verbose=False)
    with pytest.raises(EdgeRnnError, match="epochs must be at least 1"):
        train(last, ModelSpec("lstm", (2,)), tmp_path, epochs=0, verbose=False)
    assert not any(tmp_path.iterdir())


def test_divergence_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.normal(size=(40, 5, 2)), y=np.full((40, 1), 1e20))
    ds = load_dataset(str(path))
    with pytest.raises(EdgeRnnError, match="training huge_lstm diverged .* lower the learning"):
        train(ds, ModelSpec("lstm", (2,)), tmp_path / "out", epochs=2, verbose=False)


# --- metadata for user models ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_write_metadata_for_a_user_model(tmp_path: Path, suffix: str) -> None:
    ds = load_dataset("builtin:vibration", timesteps=8)
    model = build_model(ModelSpec("simple_rnn", (3,)), 8, 1, 4, "classification", name="mine")
    path = tmp_path / f"user{suffix}"
    model.save(path)
    meta = write_metadata(tmp_path / "metadata.json", path, ds)
    assert meta.name == "mine" and meta.class_names == ds.class_names
    assert ModelMetadata.read(tmp_path / "metadata.json") == meta

    wrong = load_dataset("builtin:vibration", timesteps=9)
    with pytest.raises(EdgeRnnError) as info:
        write_metadata(tmp_path / "m2.json", path, wrong)
    assert f"user{suffix}: input shape (8, 1) does not match the data's windows (9, 1)" in str(
        info.value
    )
    assert not (tmp_path / "m2.json").exists()


def test_bad_model_and_metadata_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"junk")
    with pytest.raises(EdgeRnnError, match="bad.keras' cannot be loaded"):
        load_keras_model(bad)
    with pytest.raises(EdgeRnnError, match="use a .keras or .h5 file"):
        load_keras_model(tmp_path / "model.onnx")
    meta = tmp_path / "metadata.json"
    meta.write_text('{"name": "x"}')
    with pytest.raises(EdgeRnnError, match="lacks key\\(s\\) task, dataset, input_shape"):
        ModelMetadata.read(meta)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_train(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", "builtin:forecast", "--timesteps", "8", "--cell", "simple_rnn"]
    assert main([*args, "--units", "3,2", "--epochs", "1", "--out", str(out), "-q"]) == 0
    assert (out / "model.keras").is_file() and (out / "history.png").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial directory left
    assert json.loads((out / "metadata.json").read_text())["name"] == "forecast_simple_rnn"
    capsys.readouterr()

    assert main([*args, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--units", "16,x", "--out", str(tmp_path / "o")]) == 2
    assert "--units '16,x'" in capsys.readouterr().err
    assert main(["train", "--list-data"]) == 0
    listing = capsys.readouterr().out
    assert "builtin:gesture" in listing and "builtin:forecast_seq" in listing


def test_head_follows_the_labels_unless_asked() -> None:
    from edge_rnn.training import head_for

    assert head_for(sequence_output=True) == "sequence"
    assert head_for(sequence_output=False) == "last"
    assert head_for(sequence_output=False, head="sequence") == "sequence"
