"""Data loaders (NPZ, CSV), their error messages, built-in data sets and normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.data import builtin_datasets, fit_normalization, load_dataset
from edge_rnn.errors import EdgeRnnError

RNG = np.random.default_rng(7)


def _x(n: int = 10, t: int = 5, f: int = 2) -> np.ndarray:
    return RNG.normal(size=(n, t, f)).astype(np.float32)


def _write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _csv_rows(n: int, t: int, label) -> list[str]:
    """Rows sample,t,a,b,label with label(sample, step) as the label text."""
    return [f"{s},{k},{s + 0.1 * k},{-k},{label(s, k)}" for s in range(n) for k in range(t)]


# --- NPZ ------------------------------------------------------------------------------------


def test_npz_train_test_layout(tmp_path: Path) -> None:
    x_train, x_test = _x(8), _x(4)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=x_train,
        y_train=np.arange(8) % 3,
        x_test=x_test,
        y_test=np.arange(4) % 3,
        class_names=np.array(["a", "b", "c"]),
    )
    ds = load_dataset(str(path))
    assert ds.name == "d" and ds.source == str(path)
    np.testing.assert_array_equal(ds.x_train, x_train)
    np.testing.assert_array_equal(ds.x_test, x_test)
    assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (8,)
    assert ds.task == "classification" and ds.class_names == ("a", "b", "c")
    assert ds.feature_names == ("x0", "x1")
    assert (ds.timesteps, ds.features, ds.num_outputs, ds.sequence_output) == (5, 2, 3, False)


def test_npz_xy_layout_is_split_with_the_seed(tmp_path: Path) -> None:
    x = _x(20)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.arange(20) % 2)
    a = load_dataset(str(path), seed=1, test_fraction=0.25)
    b = load_dataset(str(path), seed=1, test_fraction=0.25)
    c = load_dataset(str(path), seed=2, test_fraction=0.25)
    assert a.x_train.shape == (15, 5, 2) and a.x_test.shape == (5, 5, 2)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    # Every sample lands in exactly one split, with its own label.
    both = np.concatenate([a.x_train, a.x_test])
    assert sorted(map(tuple, both[:, 0, :].tolist())) == sorted(map(tuple, x[:, 0, :].tolist()))
    row = int(np.flatnonzero(x[:, 0, 0] == a.x_test[0, 0, 0])[0])
    assert a.y_test[0] == row % 2


def test_npz_string_labels_and_regression(tmp_path: Path) -> None:
    path = tmp_path / "s.npz"
    np.savez(path, x=_x(6), y=np.array(["wave", "idle", "wave", "idle", "shake", "idle"]))
    ds = load_dataset(str(path))
    assert ds.class_names == ("idle", "shake", "wave")
    path = tmp_path / "r.npz"
    np.savez(path, x=_x(6), y=np.linspace(0, 1, 6))
    ds = load_dataset(str(path))
    assert ds.task == "regression" and ds.y_train.shape == (ds.x_train.shape[0], 1)
    assert ds.y_train.dtype == np.float32 and ds.num_outputs == 1
    ds = load_dataset(str(path.with_name("s.npz")), task="classification")
    assert ds.task == "classification"
    np.savez(path, x=_x(6), y=np.arange(6) % 2)
    assert load_dataset(str(path), task="regression").task == "regression"


def test_npz_per_step_labels(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.savez(path, x=_x(6), y=np.arange(30).reshape(6, 5) % 3)
    ds = load_dataset(str(path))
    assert ds.sequence_output and ds.y_train.shape[1:] == (5,)
    np.savez(path, x=_x(6), y=RNG.normal(size=(6, 5, 2)))
    ds = load_dataset(str(path))
    assert ds.task == "regression" and ds.sequence_output and ds.num_outputs == 2


def test_npz_one_hot_labels_are_class_indices(tmp_path: Path) -> None:
    """keras.utils.to_categorical labels (float one-hot rows) are classes, not 4 regression
    targets; per step too; a (N, T) array as wide as the windows stays per-step labels."""
    path = tmp_path / "hot.npz"
    classes = np.arange(12) % 4
    np.savez(path, x=_x(12), y=np.eye(4, dtype=np.float32)[classes])
    ds = load_dataset(str(path))
    assert ds.task == "classification" and ds.num_outputs == 4 and not ds.sequence_output
    assert sorted(np.concatenate([ds.y_train, ds.y_test]).tolist()) == sorted(classes.tolist())
    assert any("one-hot: read as class indices 0..3" in note for note in ds.notes)
    np.savez(path, x=_x(12), y=np.eye(3, dtype=np.float32)[np.arange(60).reshape(12, 5) % 3])
    ds = load_dataset(str(path))
    assert ds.task == "classification" and ds.sequence_output and ds.num_outputs == 3
    np.savez(path, x=_x(12), y=np.eye(5, dtype=np.float32)[classes])  # 5 wide, 5 steps
    assert load_dataset(str(path)).task == "regression"
    np.savez(path, x=_x(12), y=np.eye(4, dtype=np.float32)[classes])
    assert load_dataset(str(path), task="regression").num_outputs == 4
    # `edge-rnn validate --data` reads such labels the same way.
    from edge_rnn.runtimes.base import ModelMeta
    from edge_rnn.validate.run import _labels

    meta = ModelMeta("hot", (5, 2), (4,), "classification")
    hot = np.eye(4, dtype=np.float32)[classes]
    assert _labels(hot, _x(12), meta, "hot.npz").tolist() == classes.tolist()


# --- CSV ------------------------------------------------------------------------------------


def test_csv_classification_with_string_labels(tmp_path: Path) -> None:
    names = ["wave", "idle", "shake"]
    rows = _csv_rows(6, 4, lambda s, k: names[s % 3])
    rows.reverse()  # row order must not matter: samples are sorted by t
    path = _write_csv(tmp_path / "g.csv", "sample,t,a,b,label", rows)
    ds = load_dataset(str(path), test_fraction=0.5)
    assert ds.class_names == ("idle", "shake", "wave")
    assert ds.feature_names == ("a", "b")
    assert ds.x_train.shape == (3, 4, 2) and ds.y_train.shape == (3,)
    for x, y in zip(ds.x_train, ds.y_train, strict=True):
        sample = round(x[0, 0])
        np.testing.assert_allclose(x[:, 1], [0, -1, -2, -3])
        np.testing.assert_allclose(x[:, 0], sample + 0.1 * np.arange(4), rtol=1e-6)
        assert ds.class_names[y] == names[sample % 3]


def test_csv_integer_labels_regression_and_split_column(tmp_path: Path) -> None:
    rows = [
        r + f",{'test' if r.startswith('3,') else 'train'}"
        for r in _csv_rows(4, 3, lambda s, k: s % 2)
    ]
    path = _write_csv(tmp_path / "i.csv", "sample,t,a,b,label,split", rows)
    ds = load_dataset(str(path))
    assert ds.class_names == ("0", "1") and len(ds.x_test) == 1 and ds.y_test[0] == 1
    path = _write_csv(tmp_path / "r.csv", "sample,t,a,b,label", _csv_rows(5, 3, lambda s, k: s / 4))
    ds = load_dataset(str(path))
    assert ds.task == "regression" and ds.y_train.shape == (4, 1)


def test_csv_single_feature(tmp_path: Path) -> None:
    rows = [f"s{s},{k},{s * 10 + k},{s % 2}" for s in range(4) for k in range(3)]
    ds = load_dataset(str(_write_csv(tmp_path / "one.csv", "sample,t,v,label", rows)))
    assert ds.x_train.shape == (3, 3, 1) and ds.feature_names == ("v",)
    for x in np.concatenate([ds.x_train, ds.x_test]):
        np.testing.assert_array_equal(x[:, 0] - x[0, 0], [0, 1, 2])


def test_csv_per_step_labels(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "seq.csv",
        "sample,t,a,b,label",
        _csv_rows(5, 4, lambda s, k: "on" if k % 2 else "off"),
    )
    ds = load_dataset(str(path))
    assert ds.sequence_output and ds.y_train.shape == (4, 4)
    np.testing.assert_array_equal(ds.y_train[0], [0, 1, 0, 1])  # off, on, off, on
    path = _write_csv(
        tmp_path / "reg.csv", "sample,t,a,b,label", _csv_rows(5, 4, lambda s, k: k * 0.5)
    )
    ds = load_dataset(str(path))
    assert ds.task == "regression" and ds.y_train.shape == (4, 4, 1)
    np.testing.assert_allclose(ds.y_train[0, :, 0], [0, 0.5, 1.0, 1.5])


# --- bad input ------------------------------------------------------------------------------


def _error(spec: str, **kwargs) -> str:
    with pytest.raises(EdgeRnnError) as info:
        load_dataset(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def _npz(tmp_path: Path, **arrays) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    assert "'nope.npz' not found" in _error("nope.npz")
    assert "use builtin:<name>, a .npz file or a .csv file" in _error("data.txt")
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    assert "c.npz: not a readable NPZ file" in _error(str(tmp_path / "c.npz"))
    (tmp_path / "c.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    assert "c.csv: not a readable CSV file" in _error(str(tmp_path / "c.csv"))
    (tmp_path / "e.csv").write_text("")
    assert "e.csv: is empty" in _error(str(tmp_path / "e.csv"))
    assert "unknown built-in data set 'nope'" in _error("builtin:nope")


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        (
            {"x": np.zeros((4, 5)), "y": np.arange(4)},
            "x must be 3-D (samples, timesteps, features)",
        ),
        ({"x": np.zeros((0, 5, 2)), "y": np.arange(0)}, "x is empty"),
        ({"x": np.zeros((4, 5, 2)), "y": np.arange(3)}, "y has 3 labels but x has 4 samples"),
        (
            {
                "x_train": np.zeros((4, 5, 2)),
                "y_train": np.arange(5) % 2,
                "x_test": np.zeros((2, 5, 2)),
                "y_test": np.arange(2),
            },
            "y_train has 5 labels but x has 4 samples",
        ),
        ({"x": np.zeros((6, 5, 2)), "y": np.array([0, 1, -1, 0, 1, 0])}, "negative class label -1"),
        ({"x": np.zeros((6, 5, 2)), "y": np.zeros(6, np.int64)}, "fewer than 2 classes"),
        (
            {"x": np.zeros((6, 5, 2)), "y": np.zeros((6, 6), np.int64)},
            "6 per-time-step labels but x has only 5 time steps",
        ),
        ({"x_train": np.zeros((4, 5, 2))}, "missing array(s) y_train"),
        ({"a": np.zeros(3)}, "needs arrays x_train, y_train[, x_test, y_test] or x, y; found a"),
        ({"x": np.array([["a"]]), "y": np.arange(1)}, "x has dtype <U1; it must hold numbers"),
    ],
)
def test_bad_npz(tmp_path: Path, arrays: dict, expected: str) -> None:
    message = _error(_npz(tmp_path, **arrays))
    assert "bad.npz" in message
    assert expected in message


def test_nan_in_x_and_y_named_with_count_and_index(tmp_path: Path) -> None:
    x = np.zeros((6, 5, 2))
    x[3, 2, 1] = np.nan
    x[4, 0, 0] = np.inf
    message = _error(_npz(tmp_path, x=x, y=np.arange(6) % 2))
    assert "bad.npz: x has 2 NaN/inf value(s), first at index (3, 2, 1)" in message
    y = np.linspace(0, 1, 6)
    y[5] = np.nan
    assert "y has 1 NaN/inf value(s), first at index (5,)" in _error(
        _npz(tmp_path, x=np.zeros((6, 5, 2)), y=y)
    )


def test_bad_csv(tmp_path: Path) -> None:
    def err(header: str, rows: list[str]) -> str:
        return _error(str(_write_csv(tmp_path / "bad.csv", header, rows)))

    good = _csv_rows(4, 3, lambda s, k: s % 2)
    assert "bad.csv: missing column(s) t, label (header: sample,a,b,c,d)" in err(
        "sample,a,b,c,d", good
    )
    assert "rename the columns that hold them" in err("sample,a,b,c,d", good)
    assert "bad.csv: sample '2' has 2 time steps but sample '0' has 3" in err(
        "sample,t,a,b,label", [r for r in good if not r.startswith("2,2,")]
    )
    assert "bad.csv line 3: column a value 'oops' is not a number" in err(
        "sample,t,a,b,label", [good[0], "0,1,oops,1,0", *good[2:]]
    )
    assert "bad.csv: 1 NaN/inf feature value(s), first on line 4 column b" in err(
        "sample,t,a,b,label", [*good[:2], "0,2,1,nan,0", *good[3:]]
    )
    assert "bad.csv line 2: 4 fields but the header has 5" in err("sample,t,a,b,label", ["0,0,1,1"])
    assert "bad.csv: has a header but no data rows" in err("sample,t,a,b,label", [])
    assert "negative class label -1" in err(
        "sample,t,a,b,label", _csv_rows(4, 2, lambda s, k: s - 1)
    )
    assert "fewer than 2 classes" in err("sample,t,a,b,label", _csv_rows(4, 2, lambda s, k: "x"))
    assert "no feature columns" in err("sample,t,label", ["0,0,1", "1,0,0"])
    assert "sample '1' repeats a value of t" in err(
        "sample,t,a,b,label", ["0,0,1,1,0", "0,1,1,1,0", "1,0,1,1,1", "1,0,1,1,1"]
    )


def test_timesteps_and_task_mismatches(tmp_path: Path) -> None:
    path = _npz(tmp_path, x=_x(6), y=np.arange(6) % 2)
    assert "the data has 5 time steps but 7 were asked for" in _error(path, timesteps=7)
    assert "builtin:gesture is a classification data set" in _error(
        "builtin:gesture", task="regression"
    )
    assert "test fraction must be between 0 and 1" in _error(path, test_fraction=1.5)
    floats = _npz(tmp_path, x=_x(6), y=np.array([0, 1, 2.5, 0, 1, 0]))
    assert "bad.npz: y has non-integer class label 2.5" in _error(floats, task="classification")
    whole = _npz(tmp_path, x=_x(6), y=np.array([1.0, 2.0, 3.0] * 2))
    assert load_dataset(whole).task == "regression"  # float labels are targets by default
    assert load_dataset(whole, task="classification").class_names == ("0", "1", "2", "3")
    huge = _npz(tmp_path, x=_x(6), y=np.array([0, 1, 5000] * 2))
    assert "bad.npz: y has class label 5000; classification needs" in _error(huge)
    text = _npz(tmp_path, x=_x(6), y=np.array(["a", "b"] * 3))
    assert "y holds text labels; regression needs numbers" in _error(text, task="regression")


def test_cli_exit_code_2_on_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _npz(tmp_path, x=np.zeros((4, 5)), y=np.arange(4))
    assert main(["train", "--data", path, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edge-rnn train: error:") and "x must be 3-D" in err
    assert len(err.splitlines()) == 1
    assert (
        main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    )
    assert "missing.csv' not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- built-ins and normalization ------------------------------------------------------------

SHAPES = {
    "gesture": ((20, 3), (), 4),
    "vibration": ((40, 1), (), 4),
    "forecast": ((24, 1), (1,), 1),
    "forecast_seq": ((24, 1), (24, 1), 1),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_builtin_shapes_and_determinism(name: str) -> None:
    window, label_shape, outputs = SHAPES[name]
    a = load_dataset(f"builtin:{name}", seed=3)
    b = load_dataset(f"builtin:{name}", seed=3)
    c = load_dataset(f"builtin:{name}", seed=4)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape[1:] == window and a.x_train.dtype == np.float32
    assert a.y_train.shape[1:] == label_shape and a.num_outputs == outputs
    assert 300 <= len(a.x_train) + len(a.x_test) <= 2000
    assert abs(len(a.x_test) / (len(a.x_train) + len(a.x_test)) - 0.2) < 0.01
    assert a.source == f"builtin:{name}" and len(a.feature_names) == window[1]
    if a.task == "classification":
        assert a.y_train.dtype == np.int64
        # Balanced classes, every class present in both splits.
        assert set(np.unique(a.y_test)) == set(range(outputs))
        counts = np.bincount(np.concatenate([a.y_train, a.y_test]))
        assert counts.min() == counts.max()
    assert name in builtin_datasets()


def test_builtin_timesteps_override() -> None:
    ds = load_dataset("builtin:gesture", timesteps=32)
    assert ds.x_train.shape[1:] == (32, 3)
    ds = load_dataset("builtin:forecast_seq", timesteps=10)
    assert ds.y_train.shape[1:] == (10, 1)
    # The target is the next sample of the same series.
    np.testing.assert_array_equal(ds.y_train[:, :-1, 0], ds.x_train[:, 1:, 0])


def test_gesture_is_not_separable_by_the_mean() -> None:
    """Per-sample means with a nearest-centroid rule stay near chance (0.25)."""
    ds = load_dataset("builtin:gesture")
    train, test = ds.x_train.mean(axis=1), ds.x_test.mean(axis=1)
    centroids = np.stack([train[ds.y_train == k].mean(axis=0) for k in range(4)])
    guess = np.argmin(((test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert np.mean(guess == ds.y_test) < 0.4


def test_fit_normalization() -> None:
    x = np.stack([RNG.normal(3.0, 2.0, (50, 10)), np.full((50, 10), 7.0)], axis=-1)
    norm = fit_normalization(x.astype(np.float32))
    assert norm.mean[0] == pytest.approx(x[..., 0].mean(), rel=1e-5)
    assert norm.scale[0] == pytest.approx(x[..., 0].std(), rel=1e-5)
    assert norm.mean[1] == pytest.approx(7.0) and norm.scale[1] == 1.0  # constant feature
    z = norm.apply(x)
    assert z.dtype == np.float32
    assert abs(z[..., 0].mean()) < 1e-5 and z[..., 0].std() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(z[..., 1], 0.0)
