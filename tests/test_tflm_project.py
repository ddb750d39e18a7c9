"""TFLite Micro projects for int8 LSTM, GRU, SimpleRNN, Bidirectional LSTM and
GRU(reset_after=False) models: exact op resolver, measured arena, device-side quantization and
expected outputs equal to the real tflite_micro interpreter, every ecosystem's sources pass
g++ -fsyntax-only against stub TFLM headers (tests/tflm_stubs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.export.tflite import convert_tflite
from edge_rnn.protocol import read_protocol
from edge_rnn.runtimes._tflm_worker import recommended_arena
from edge_rnn.runtimes.base import quantize
from edge_rnn.runtimes.tflm import arena_works
from edge_rnn.tflm import ECOSYSTEMS, generate_project

CELLS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
    # REVERSE_V2 in the graph (a TFLM op the project step once refused)
    "bidirectional_lstm": lambda units: keras.layers.Bidirectional(keras.layers.LSTM(units)),
    # unrolled with per-gate products (the default twin once made an empty SPLIT_V output)
    "gru_reset_before": lambda units: keras.layers.GRU(units, reset_after=False),
}
STEPS, FEATURES, CLASSES, WINDOWS = 8, 3, 3, 6
STUBS = Path(__file__).parent / "tflm_stubs"
METADATA = {
    "name": "tiny_rnn",
    "class_names": ["rest", "walk", "run"],
    "normalization": {"mean": [0.5, -1.0, 2.0], "scale": [2.0, 0.5, 1.5]},
}


def _keras_model(layer, units: int, name: str, path: Path) -> Path:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layer(units),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ],
        name=name,
    )
    model.save(path)
    return path


def _raw_windows(count: int, seed: int) -> np.ndarray:
    """Raw (un-normalized) windows around the metadata's mean and scale."""
    rng = np.random.default_rng(seed)
    norm = METADATA["normalization"]
    x = rng.normal(size=(count, STEPS, FEATURES)) * norm["scale"] + norm["mean"]
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tflm")


@pytest.fixture(scope="module")
def models(root: Path) -> dict[str, Path]:
    """int8 .tflite per cell (fused LSTM, unrolled GRU / SimpleRNN), calibrated on raw windows."""
    np.savez(root / "calibration.npz", x=_raw_windows(64, 0))
    out = {}
    for cell, layer in CELLS.items():
        keras_path = _keras_model(layer, 8, f"tiny_{cell}", root / f"{cell}.keras")
        out[cell] = root / f"{cell}_int8.tflite"
        convert_tflite(
            keras_path, "int8", out[cell], metadata=METADATA, calibration=root / "calibration.npz"
        )
    return out


@pytest.fixture(scope="module")
def projects(models: dict[str, Path], root: Path) -> dict[str, Path]:
    """A cmake project per cell, and the LSTM in every other ecosystem."""
    x = _raw_windows(WINDOWS, 1)
    out = {}
    for cell, path in models.items():
        out[cell] = generate_project(
            path, root / f"proj_{cell}", metadata=METADATA, test_x=x
        ).out_dir
    for ecosystem in ECOSYSTEMS:
        if ecosystem != "cmake":
            out[ecosystem] = generate_project(
                models["lstm"],
                root / f"proj_{ecosystem}",
                ecosystem=ecosystem,
                metadata=METADATA,
                test_x=x,
            ).out_dir
    return out


def _flatbuffer_ops(path: Path) -> set[str]:
    """Op names read straight from the flatbuffer (independently of edge_rnn.export.inspect)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = {
        names[
            max(
                model.operatorCodes[op.opcodeIndex].builtinCode,
                model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode,
            )
        ]
        for graph in model.subgraphs
        for op in graph.operators
    }
    return codes


def _camel(op: str) -> str:
    """UNIDIRECTIONAL_SEQUENCE_LSTM -> UnidirectionalSequenceLstm (compared case-insensitively)."""
    return "".join(word.capitalize() for word in op.split("_"))


def _define(header: Path, name: str) -> int:
    return int(re.search(rf"#define {name} (\d+)u?", header.read_text()).group(1))


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_resolver_registers_exactly_the_flatbuffer_ops(
    models: dict[str, Path], projects: dict[str, Path], cell: str
) -> None:
    text = (projects[cell] / "src" / "model_ops.h").read_text()
    methods = re.findall(r"resolver\.(Add\w+)\(\)", text)
    ops = _flatbuffer_ops(models[cell])
    assert "WHILE" not in ops
    count = int(re.search(r"kModelOpCount = (\d+);", text).group(1))
    assert "MicroMutableOpResolver<kModelOpCount>" in text
    assert count == len(methods) == len(set(methods)) == len(ops)
    assert {m[3:].lower() for m in methods} == {_camel(op).lower() for op in ops}
    if cell == "lstm":
        assert "AddUnidirectionalSequenceLSTM" in methods


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_arena_constant_runs_and_the_minimum_is_tight(
    models: dict[str, Path], projects: dict[str, Path], cell: str
) -> None:
    src = projects[cell] / "src"
    arena = _define(src / "model_data.h", "MODEL_DATA_TFLM_ARENA_BYTES")
    runner = (src / "model_runner.cc").read_text()
    smallest = int(re.search(r"Smallest working arena (\d+) B", runner).group(1))
    assert "margin of +max(10%, 1024 B)" in runner
    assert arena == recommended_arena(smallest) >= smallest * 1.1
    assert arena_works(models[cell], arena)
    assert arena_works(models[cell], smallest)
    assert not arena_works(models[cell], smallest - 16)


def _compile_quantizer(src: Path, out: Path) -> Path:
    """The generated model_io.h in a C99 harness: raw floats on stdin -> quantized input."""
    (out / "harness.c").write_text(
        '#include <stdio.h>\n#include "model_io.h"\n'
        "int main(void) {\n"
        "    float raw[MODEL_INPUT_ELEMENTS]; model_input_t q[MODEL_INPUT_ELEMENTS];\n"
        "    while (fread(raw, sizeof raw, 1, stdin) == 1) {\n"
        "        model_quantize_input(raw, q); fwrite(q, sizeof q, 1, stdout);\n"
        "    }\n    return 0;\n}\n"
    )
    exe = out / "harness"
    subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(src),
            str(out / "harness.c"),
            "-o",
            str(exe),
            "-lm",
        ],
        check=True,
    )
    return exe


def _embedded_expected(src: Path) -> np.ndarray:
    text = (src / "test_data.cc").read_text()
    body = text.split("test_expected[")[1].split("= {")[1].split("};")[0]
    return np.array([int(v) for v in body.replace("\n", " ").split(",") if v.strip()])


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_device_quantization_and_expected_outputs_match_host_tflm(
    models: dict[str, Path], projects: dict[str, Path], cell: str, tmp_path: Path
) -> None:
    from tflite_micro.python.tflite_micro import runtime

    src = projects[cell] / "src"
    x = _raw_windows(WINDOWS, 1)
    done = subprocess.run(
        [str(_compile_quantizer(src, tmp_path))], input=x.tobytes(), capture_output=True, check=True
    )
    device_in = np.frombuffer(done.stdout, np.int8).reshape(x.shape)
    interpreter = runtime.Interpreter.from_bytes(
        models[cell].read_bytes(),
        arena_size=_define(src / "model_data.h", "MODEL_DATA_TFLM_ARENA_BYTES"),
    )
    details = interpreter.get_input_details(0)
    scale, zero = (
        details["quantization_parameters"]["scales"][0],
        details["quantization_parameters"]["zero_points"][0],
    )
    norm = METADATA["normalization"]
    xn = (x - np.float32(norm["mean"])) / np.float32(norm["scale"])
    np.testing.assert_array_equal(device_in, quantize(xn, scale, zero, np.int8))
    host = []
    for window in device_in:
        interpreter.reset()
        interpreter.set_input(window[None], 0)
        interpreter.invoke()
        host.append(np.array(interpreter.get_output(0)).ravel())
    host = np.stack(host)
    log = read_protocol(projects[cell] / "expected_log.txt")
    assert (log.model, log.dtype, log.samples) == ("tiny_rnn", "i8", WINDOWS)
    np.testing.assert_array_equal(log.outputs, host)
    np.testing.assert_array_equal(_embedded_expected(src), host.ravel())
    with np.load(projects[cell] / "test_windows.npz") as shipped:  # data for validate --data
        np.testing.assert_array_equal(shipped["x"], x)
    assert len(np.unique(host.argmax(axis=1))) > 1 or host.std() > 0  # not a constant output


def _syntax_check(project: Path, src_dir: str) -> None:
    sources = sorted(project.rglob("*.cc")) + sorted(project.rglob("*.ino"))
    assert sources
    for source in sources:
        done = subprocess.run(
            [
                "g++",
                "-std=c++17",
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-I",
                str(STUBS),
                "-I",
                str(project / src_dir),
                "-x",
                "c++",
                str(source),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{source.name}: {done.stderr}"


@pytest.mark.parametrize("name", sorted(CELLS) + [e for e in ECOSYSTEMS if e != "cmake"])
def test_sources_pass_syntax_check_against_tflm_api_stubs(
    projects: dict[str, Path], name: str
) -> None:
    ecosystem = name if name in ECOSYSTEMS else "cmake"
    _syntax_check(projects[name], ECOSYSTEMS[ecosystem][0])


def test_ecosystem_layouts_and_readmes(projects: dict[str, Path]) -> None:
    expect = {
        "cmake": ["CMakeLists.txt", "src/main.cc"],
        "arduino": ["tiny_rnn.ino", "src/model_runner.cc"],
        "zephyr": ["CMakeLists.txt", "prj.conf", "src/main.cc"],
        "esp-idf": [
            "CMakeLists.txt",
            "main/CMakeLists.txt",
            "main/idf_component.yml",
            "sdkconfig.defaults",
            "main/main.cc",
        ],
    }
    for ecosystem, files in expect.items():
        project = projects["lstm" if ecosystem == "cmake" else ecosystem]
        for file in files + ["README.md", "expected_log.txt", "project.json"]:
            assert (project / file).is_file(), f"{ecosystem}: {file}"
        readme = (project / "README.md").read_text()
        assert "not a TFLM build" in readme and "interpreter->Reset()" in readme
        for path in project.rglob("*"):
            if path.is_file() and path.suffix != ".npz":  # every rendered (text) file
                assert "{{" not in path.read_text() and "{%" not in path.read_text(), path
    assert "CONFIG_TENSORFLOW_LITE_MICRO=y" in (projects["zephyr"] / "prj.conf").read_text()
    assert "esp-tflite-micro" in (projects["esp-idf"] / "main/idf_component.yml").read_text()


def test_lstm_resets_state_and_generation_is_deterministic(
    models: dict[str, Path], projects: dict[str, Path], root: Path
) -> None:
    assert "interpreter->Reset()" in (projects["lstm"] / "src/model_runner.cc").read_text()
    again = generate_project(
        models["lstm"], root / "again", metadata=METADATA, test_x=_raw_windows(WINDOWS, 1)
    ).out_dir
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(projects["lstm"]) for p in projects["lstm"].rglob("*") if p.is_file()
    )
    for file in files:
        assert (again / file).read_bytes() == (projects["lstm"] / file).read_bytes(), file


def test_project_without_test_data_or_metadata(models: dict[str, Path], root: Path) -> None:
    project = generate_project(models["gru"], root / "bare", ecosystem="zephyr")
    assert project.expected_log is None and not (project.out_dir / "src/validate.cc").exists()
    assert "edge_rnn_validate" not in (project.out_dir / "src/main.cc").read_text()
    _syntax_check(project.out_dir, "src")


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_syntax_check_catches_an_api_misuse(projects: dict[str, Path], tmp_path: Path) -> None:
    """The stub check is not vacuous: a wrong method name fails it."""
    bad = tmp_path / "bad"
    shutil.copytree(projects["lstm"], bad)
    ops = bad / "src/model_ops.h"
    ops.write_text(ops.read_text().replace("AddSoftmax", "AddSoftMax"))
    with pytest.raises(AssertionError, match="AddSoftMax"):
        _syntax_check(bad, "src")


def test_float32_model_project(models: dict[str, Path], root: Path, tmp_path: Path) -> None:
    """Float I/O: no quantization in the helpers, f32 protocol values equal to host TFLM."""
    from tflite_micro.python.tflite_micro import runtime

    path = root / "lstm_float32.tflite"
    convert_tflite(root / "lstm.keras", "float32", path, metadata=METADATA)
    x = _raw_windows(3, 4)
    project = generate_project(path, tmp_path / "f32", metadata=METADATA, test_x=x)
    src = project.out_dir / "src"
    assert project.output_dtype == "f32" and "lrintf" not in (src / "model_io.h").read_text()
    _syntax_check(project.out_dir, "src")
    log = read_protocol(project.expected_log)
    interpreter = runtime.Interpreter.from_bytes(path.read_bytes(), arena_size=1 << 20)
    norm = METADATA["normalization"]
    xn = (x - np.float32(norm["mean"])) / np.float32(norm["scale"])
    for window, logged in zip(xn, log.outputs, strict=True):
        interpreter.reset()
        interpreter.set_input(window[None], 0)
        interpreter.invoke()
        np.testing.assert_array_equal(np.array(interpreter.get_output(0)).ravel(), logged)
