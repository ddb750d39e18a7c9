"""The CLI's contract: one clear error line and a non-zero exit for bad input, nothing
half-written, and `--help` without TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.config import load_config


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # exactly one line, no traceback
    return code, err[0]


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys; from edge_rnn.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'onnx', 'tf_keras', 'optuna', 'distributed',"
        " 'dask', 'numpy', 'jinja2', 'edge_rnn.training', 'edge_rnn.ir') if m in sys.modules]\n"
        "print('heavy:', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "heavy: []" in out.stdout


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "conv.keras"
    keras.Sequential(
        [
            keras.Input((6, 2)),
            keras.layers.Conv1DTranspose(3, 2, name="conv"),
            keras.layers.LSTM(4, activation="gelu", name="rnn"),
            keras.layers.Dense(2),
        ]
    ).save(path)
    return path


def test_unsupported_layers_listed_via_cli(
    capsys: pytest.CaptureFixture[str], conv_model: Path, tmp_path: Path
) -> None:
    code, line = _error(capsys, ["convert", str(conv_model), "--out", str(tmp_path / "m.tflite")])
    assert code == 2
    assert (
        "layer 'conv': Conv1DTranspose is not supported" in line
        and "layer 'rnn': activation='gelu'" in line
    )
    assert not (tmp_path / "m.tflite").exists()


def test_bad_inputs_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    junk_npz = tmp_path / "junk.npz"
    junk_npz.write_text("junk")
    model = tmp_path / "ok.keras"
    keras.Sequential([keras.Input((4, 2)), keras.layers.GRU(3), keras.layers.Dense(2)]).save(model)
    cases = [
        (
            ["convert", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "a.tflite")],
            "not found",
        ),
        (["convert", str(corrupt), "--out", str(tmp_path / "b.tflite")], "cannot be loaded"),
        (
            ["convert", str(model), "--quant", "int4", "--out", str(tmp_path / "c.tflite")],
            "unknown tflite quantization 'int4'",
        ),
        (
            ["convert", str(model), "--quant", "int8", "--out", str(tmp_path / "d.tflite")],
            "needs calibration windows",
        ),
        (["inspect", str(corrupt)], "inspect reads .tflite and .onnx"),
        (
            [
                "convert",
                str(model),
                "--quant",
                "int8",
                "--calibration",
                str(junk_npz),
                "--out",
                str(tmp_path / "e.tflite"),
            ],
            "not a readable NPZ file",
        ),
        (["build", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")], "not found"),
    ]
    for argv, expected in cases:
        code, line = _error(capsys, argv)
        assert code == 2 and expected in line, (argv, line)
    assert not list(tmp_path.glob("*.tflite"))


def test_existing_output_directory_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    config = tmp_path / "c.toml"
    config.write_text('[data]\nsource = "builtin:gesture"\n')
    code, line = _error(capsys, ["build", str(config), "--out", str(out)])
    assert code == 2 and "already exists" in line
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[data]\nsorce = "x"\n', "unknown key(s) sorce in [data]"),
        ('[convert]\ntflite = ["int3"]\n', "convert.tflite: unknown value(s) int3"),
        ('[train]\nepochs = "ten"\n', "train.epochs must be int"),
        ("[model]\nunits = 16\n", "model.units must be a list of ints"),
        ("epochs = 3\n", "unknown key(s) epochs"),
        ('[model]\nhead = "middle"\n', "model.head: unknown value(s) middle"),
        ("[data\n", "is not valid TOML"),
        (
            '[validate]\ntargets = ["cortex-m9"]\n',
            "build.toml: validate.targets: unknown value(s) cortex-m9; choose from all, ",
        ),
        ('[native]\ntarget = "m4f"\n', "native.target: unknown value(s) m4f; choose from ch32"),
        ('name = "My-Net"\n', "build.toml: name 'My-Net' is not a usable C name"),
        ("name = 3\n", "build.toml: name must be str"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, text: str, expected: str) -> None:
    from edge_rnn.errors import EdgeRnnError

    config = tmp_path / "build.toml"
    config.write_text(text)
    with pytest.raises(EdgeRnnError) as err:
        load_config(config)
    assert expected in str(err.value)


def test_bad_validation_target_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[validate]\ntargets = ["cortex-m4f", "m0"]\n')
    code, line = _error(capsys, ["build", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and "validate.targets: unknown value(s) m0" in line
    assert "cortex-m0plus" in line  # the valid names are listed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_build_validates_on_the_configured_targets(tmp_path: Path) -> None:
    from tests.byom import build_user_model, stage_status

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 2)), keras.layers.GRU(4), keras.layers.Dense(2, activation="softmax")]
    )
    backends = (
        "[convert]\ntflite = []\nonnx = []\n[tflm]\nprojects = []\n"
        '[native]\nquant = ["int8"]\n[validate]\ntargets = ["cortex-m3"]\n'
    )
    _, report = build_user_model(tmp_path, model, x, y, backends)
    qemu = sorted(name for name in stage_status(report) if "qemu" in name)
    assert qemu == ["native_int8/qemu-cortex-m3"]  # not the default m4f + m0plus


@pytest.mark.slow
def test_build_from_config_with_user_model(tmp_path: Path) -> None:
    """A user's model file + NPZ data -> every artefact, manifest with sha256, passing report."""
    import json

    from edge_rnn.fsutil import sha256_file

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 2)),
            keras.layers.SimpleRNN(6),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.save(tmp_path / "user.keras")
    (tmp_path / "build.toml").write_text(
        'name = "user_rnn"\n[data]\nsource = "data.npz"\n[model]\npath = "user.keras"\n'
        '[convert]\ntflite = ["float32", "int8"]\nonnx = ["float32"]\n'
        '[native]\nquant = ["float32", "int8"]\n'
    )
    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "build.toml"), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    names = {a["name"] for a in manifest["artefacts"]}
    assert {
        "tflite_float32",
        "tflite_int8",
        "onnx_float32",
        "native_float32",
        "native_int8",
    } <= names
    for artefact in manifest["artefacts"]:
        path = out / artefact["path"]
        if path.is_file():
            assert sha256_file(path) == artefact["sha256"]
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True
    assert not list(tmp_path.glob(".build.partial-*"))
