"""Bad input found by trying edge-rnn as a user: each gives one clear line naming the user's
file, exit code 2, and nothing left behind (no partial build, no temporary folders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import F, T, tiny_build  # noqa: F401 (session fixture)

from edge_rnn.cli import main
from edge_rnn.data import load_dataset

MODEL = "model/model.keras"


def _error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture()
def empty_npz(tmp_path: Path) -> Path:
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    return path


def test_empty_npz_is_named_as_unreadable(
    tiny_build: Path,  # noqa: F811
    empty_npz: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    model = str(tiny_build / MODEL)
    commands = [
        ["convert", model, "--quant", "int8", "--calibration", str(empty_npz)],
        ["generate", model, "--quant", "int8", "--calibration", str(empty_npz)],
    ]
    for i, args in enumerate(commands):
        assert main([*args, "--out", str(tmp_path / f"out{i}")]) == 2
        err = _error(capsys)
        assert f"calibration data '{empty_npz}': not a readable NPZ file (empty" in err
        assert not (tmp_path / f"out{i}").exists()
    assert main(["validate", str(tiny_build), "--data", str(empty_npz)]) == 2
    assert f"test data '{empty_npz}': not a readable NPZ file" in _error(capsys)


def test_validate_data_is_checked_and_takes_the_readme_layouts(
    tiny_build: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, T, F)).astype(np.float32) + 5.0
    y = np.argmax(x.mean(axis=1), axis=1)
    nan = x.copy()
    nan[3, 2, 1] = np.nan
    cases = {
        "nan.npz": ({"x": nan, "y": y}, "x has 1 NaN/inf value(s), first at index (3, 2, 1)"),
        "none.npz": ({"x": x[:0], "y": y[:0]}, "x is empty"),
        "other.npz": ({"windows": x}, "needs an array x_test or x or x_train"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        assert main(["validate", str(tiny_build), "--data", str(tmp_path / name)]) == 2
        assert message in _error(capsys), name

    np.savez(tmp_path / "train_only.npz", x_train=x, y_train=y)  # the README's NPZ layout
    args = ["validate", str(tiny_build), "--data", str(tmp_path / "train_only.npz")]
    assert main([*args, "--stages", "tflite_float32"]) == 0
    capsys.readouterr()
    report = (tiny_build / "report.json").read_text()
    assert str(tmp_path / "train_only.npz") in report


def test_corrupt_keras_file_is_not_reported_as_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for name, content in (("cut.keras", b"PK\x03\x04 cut short"), ("cut.h5", b"\x00" * 64)):
        (tmp_path / name).write_bytes(content)
        assert main(["generate", str(tmp_path / name), "--out", str(tmp_path / "out")]) == 2
        err = _error(capsys)
        assert "cannot be loaded: the file is empty, truncated or not a" in err
        assert "not found" not in err


def test_messages_name_the_users_files_not_temporary_copies(
    tiny_build: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    import keras

    # A model that branches: refused, and the message names the user's file.
    inputs = keras.Input((T, F))
    merged = keras.layers.Add()([keras.layers.GRU(4)(inputs), keras.layers.LSTM(4)(inputs)])
    branching = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(merged))
    branching.save(tmp_path / "mine.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(30, T, F)), y=np.arange(30) % 3)
    (tmp_path / "b.toml").write_text(
        '[data]\nsource = "data.npz"\n[model]\npath = "mine.keras"\n'
        "[convert]\ntflite = []\nonnx = []\n"
    )
    assert main(["build", str(tmp_path / "b.toml"), "--out", str(tmp_path / "out")]) == 2
    err = _error(capsys)
    assert f"model '{tmp_path / 'mine.keras'}'" in err and ".partial-" not in err
    assert "layer 'add'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml", "data.npz", "mine.keras"]

    # Calibration data of the wrong shape: named as the user gave it, not a temp file.
    args = ["convert", str(tiny_build / MODEL), "--quant", "int8", "--out", str(tmp_path / "m")]
    assert main([*args, "--calibration", "builtin:gesture"]) == 2
    err = _error(capsys)
    assert "calibration data 'builtin:gesture': windows have shape (20, 3)" in err
    assert "edge-rnn-" not in err


def test_arguments_are_checked_before_tensorflow_is_imported(
    tiny_build: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    existing = tmp_path / "exists"
    existing.mkdir()
    model = str(tiny_build / MODEL)
    probes = [
        ["convert", model, "--quant", "int4", "--out", str(tmp_path / "x.tflite")],
        ["convert", model, "--to", "onnx", "--quant", "int16x8", "--out", str(tmp_path / "x")],
        ["generate", model, "--quant", "int4", "--out", str(tmp_path / "g")],
        ["generate", model, "--out", str(existing)],
        ["generate", model, "--quant", "int8", "--target", "nope", "--out", str(tmp_path / "t")],
        ["generate", model, "--name", "3-axis", "--out", str(tmp_path / "n")],
    ]
    for args in probes:
        probe = (
            "import sys; from edge_rnn.cli import main\n"
            f"code = main({args!r})\n"
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        )
        run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        assert run.stdout.split() == ["2", "False", "False"], (args, run.stdout, run.stderr)
        assert "error:" in run.stderr


def test_generate_name_sets_the_c_prefix(
    tiny_build: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    model = str(tiny_build / MODEL)
    for bad, suggested in (("My-Net", "my_net"), ("int", "int_model"), ("", "model")):
        assert main(["generate", model, "--name", bad, "--out", str(tmp_path / "bad")]) == 2
        err = _error(capsys)
        assert f"--name '{bad}' is not a usable C name" in err and f"'{suggested}'" in err
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "c"
    assert main(["generate", model, "--name", "my_net", "--out", str(out)]) == 0
    assert {"my_net.h", "my_net.c"} <= {p.name for p in out.iterdir()}
    assert "my_net_run(" in (out / "my_net.h").read_text()


def test_npz_class_name_aliases_and_ignored_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4, 2)), np.arange(20) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y, classes=np.array(["rest", "walk"]), subject=y * 3)
    data = load_dataset(str(tmp_path / "d.npz"))
    assert data.class_names == ("rest", "walk")
    assert any("read array 'classes' as class_names" in n for n in data.notes)
    assert any("ignored array(s) subject" in n for n in data.notes)


@pytest.mark.slow
def test_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGTERM during a build's conversions removes the partial build and the temp folders."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    (tmp_path / "b.toml").write_text(
        '[data]\nsource = "builtin:gesture"\ntimesteps = 8\n[model]\nunits = [4]\n'
        '[train]\nepochs = 1\n[convert]\ntflite = ["float32", "int8"]\nonnx = []\n'
    )
    env = {**os.environ, "TMPDIR": str(scratch)}
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_rnn.cli",
            "build",
            str(tmp_path / "b.toml"),
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(scratch.glob("edge-rnn-convert-*")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    assert list(scratch.glob("edge-rnn-convert-*")), "the build never reached a conversion"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml", "tmp"]
