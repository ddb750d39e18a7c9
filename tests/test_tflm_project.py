"""TFLite Micro projects for int8 LSTM, GRU, SimpleRNN, Bidirectional LSTM and
GRU(reset_after=False) models: exact op resolver, measured arena, device-side quantization and
expected outputs equal to the real tflite_micro interpreter; every ecosystem's sources compile
with TFLM's flags (g++ and arm-none-eabi-g++, stub TFLM headers in tests/tflm_stubs) into
objects without global constructors or atexit destructors, and the CMakeLists passes those
flags to TFLM and the app."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.export.tflite import convert_tflite
from edge_rnn.protocol import read_protocol
from edge_rnn.runtimes._tflm_worker import recommended_arena
from edge_rnn.runtimes.base import quantize
from edge_rnn.runtimes.tflm import arena_works
from edge_rnn.targets import list_targets
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


# TFLM's own Makefile compiles with these; the generated CMakeLists passes them too.
TFLM_FLAGS = ("-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics", "-fno-unwind-tables")
# What a bare-metal startup may not provide: constructors run before main(), destructors
# registered with atexit (__dso_handle), thread-safe static guards (libstdc++).
STARTUP_NEEDS = ("__cxa_atexit", "atexit", "__dso_handle", "__cxa_guard_acquire")
COMPILERS = {  # name -> target flags
    "g++": (),
    "arm-none-eabi-g++": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
}


def _startup_problems(obj: Path) -> list[str]:
    """Global constructors or atexit/guard needs in one compiled object."""
    from elftools.elf.elffile import ELFFile

    problems = []
    with obj.open("rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            if section.name.startswith((".init_array", ".ctors")) and section["sh_size"]:
                problems.append(f"{section.name} ({section['sh_size']} B of constructors)")
            if section.name == ".symtab":
                for symbol in section.iter_symbols():
                    if symbol.name.startswith("_GLOBAL__sub_I"):
                        problems.append(symbol.name)
                    elif symbol.name in STARTUP_NEEDS and symbol["st_shndx"] == "SHN_UNDEF":
                        problems.append(f"needs {symbol.name}")
    return problems


def _compile_check(project: Path, src_dir: str, compiler: str = "g++") -> None:
    """Every source compiles (stub TFLM headers) with TFLM's flags, warning-free, into an
    object without global constructors, atexit destructors or static guards."""
    if shutil.which(compiler) is None:
        pytest.skip(f"needs {compiler} (bash scripts/setup.sh --arm)")
    sources = sorted(project.rglob("*.cc")) + sorted(project.rglob("*.ino"))
    assert sources
    for source in sources:
        obj = source.parent / f"{source.name}.{compiler}.o"
        done = subprocess.run(
            [compiler, *COMPILERS[compiler], "-std=c++17", "-Os", "-c", *TFLM_FLAGS]
            + ["-Wall", "-Wextra", "-Werror", "-I", str(STUBS), "-I", str(project / src_dir)]
            + ["-x", "c++", str(source), "-o", str(obj)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{source.name}: {done.stderr}"
        problems = _startup_problems(obj)
        obj.unlink()
        assert not problems, f"{source.name} ({compiler}): {', '.join(problems)}"


@pytest.mark.parametrize("name", sorted(CELLS) + [e for e in ECOSYSTEMS if e != "cmake"])
@pytest.mark.parametrize("compiler", sorted(COMPILERS))
def test_sources_compile_against_tflm_api_stubs_without_startup_code(
    projects: dict[str, Path], name: str, compiler: str
) -> None:
    ecosystem = name if name in ECOSYSTEMS else "cmake"
    _compile_check(projects[name], ECOSYSTEMS[ecosystem][0], compiler)


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
    # A fit verdict: model bytes (flash) and the arena (RAM) against every microcontroller
    # board (Cortex-M and RISC-V: esp-idf's TFLite Micro runs on the ESP32-C3).
    facts = json.loads((project.out_dir / "project.json").read_text())
    assert facts["fits_targets"] == list(project.fits_targets)
    assert project.fits_targets == tuple(
        t.name
        for t in list_targets()
        if t.bare_metal
        and t.flash_kib * 1024 >= project.model_bytes
        and t.ram_kib * 1024 >= project.arena.recommended_bytes
    )
    assert "cortex-m0plus" in project.fits_targets
    assert "cortex-m0plus" in (project.out_dir / "README.md").read_text()
    assert "fits NO edge-rnn MCU board" in replace(project, fits_targets=()).fit_summary()
    assert "edge_rnn_validate" not in (project.out_dir / "src/main.cc").read_text()
    _compile_check(project.out_dir, "src")


@pytest.mark.parametrize(
    "file,old,new,found",
    [
        ("model_ops.h", "AddSoftmax", "AddSoftMax", "AddSoftMax"),  # wrong API name
        # A file-scope resolver: a constructor before main() and an atexit destructor.
        (
            "model_runner.cc",
            "tflite::MicroInterpreter* interpreter = nullptr;",
            "tflite::MicroInterpreter* interpreter = nullptr;\nModelOpResolver global_resolver;",
            "_GLOBAL__sub_I",
        ),
        # A function-local static object: a destructor registered with atexit.
        (
            "model_runner.cc",
            "ModelOpResolver* resolver = new (resolver_storage) ModelOpResolver();",
            "static ModelOpResolver local;\n  ModelOpResolver* resolver = &local;"
            "\n  (void)resolver_storage;",
            "needs __cxa_atexit",
        ),
    ],
)
def test_compile_check_catches_api_misuse_and_startup_code(
    projects: dict[str, Path], tmp_path: Path, file: str, old: str, new: str, found: str
) -> None:
    """The stub check is not vacuous."""
    bad = tmp_path / "bad"
    shutil.copytree(projects["lstm"], bad)
    path = bad / "src" / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(AssertionError, match=found):
        _compile_check(bad, "src")


def test_float32_model_project(models: dict[str, Path], root: Path, tmp_path: Path) -> None:
    """Float I/O: no quantization in the helpers, f32 protocol values equal to host TFLM."""
    from tflite_micro.python.tflite_micro import runtime

    path = root / "lstm_float32.tflite"
    convert_tflite(root / "lstm.keras", "float32", path, metadata=METADATA)
    x = _raw_windows(3, 4)
    project = generate_project(path, tmp_path / "f32", metadata=METADATA, test_x=x)
    src = project.out_dir / "src"
    assert project.output_dtype == "f32" and "lrintf" not in (src / "model_io.h").read_text()
    _compile_check(project.out_dir, "src")
    log = read_protocol(project.expected_log)
    interpreter = runtime.Interpreter.from_bytes(path.read_bytes(), arena_size=1 << 20)
    norm = METADATA["normalization"]
    xn = (x - np.float32(norm["mean"])) / np.float32(norm["scale"])
    for window, logged in zip(xn, log.outputs, strict=True):
        interpreter.reset()
        interpreter.set_input(window[None], 0)
        interpreter.invoke()
        np.testing.assert_array_equal(np.array(interpreter.get_output(0)).ravel(), logged)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
@pytest.mark.parametrize("route", ["TFLM_TREE", "TFLM_TREE_CMSIS_NN", "TFLM_LIB"])
def test_cmake_builds_tflm_and_the_app_with_tflm_flags(
    projects: dict[str, Path], tmp_path: Path, route: str
) -> None:
    """Both routes of the generated CMakeLists compile every source (TFLM's too) with TFLM's
    flags: the real TFLM tree does not compile with exceptions on. A tree exported with
    OPTIMIZED_KERNEL_DIR=cmsis_nn also needs the CMSIS-NN C sources, -DCMSIS_NN and, for
    cortex_m_generic's micro_time.cc, the CMSIS device header (found in a real build)."""
    tree = tmp_path / "tree"
    shutil.copytree(STUBS / "tensorflow", tree / "tensorflow")
    (tree / "tensorflow/lite/micro/stand_in.cc").write_text("int edge_rnn_stand_in;\n")
    downloads = tree / "tensorflow/lite/micro/tools/make/downloads"
    for third_party in ("flatbuffers/include", "gemmlowp", "ruy"):  # TFLM_DIR's include paths
        (downloads / third_party).mkdir(parents=True)
    cmsis = tmp_path / "cmsis"
    where = {
        "TFLM_TREE": [f"-DTFLM_TREE={tree}"],
        "TFLM_TREE_CMSIS_NN": [f"-DTFLM_TREE={tree}", "-DTFLM_CMSIS_DEVICE=ARMCM4"]
        + [f"-DTFLM_CMSIS_DIR={cmsis}"],
        "TFLM_LIB": [f"-DTFLM_DIR={tree}", f"-DTFLM_LIB={tree / 'libtensorflow-microlite.a'}"],
    }[route]
    cmsis_nn = route == "TFLM_TREE_CMSIS_NN"
    if cmsis_nn:
        kernels = tree / "third_party/cmsis_nn/Source/FullyConnectedFunctions"
        kernels.mkdir(parents=True)
        (kernels / "stand_in_nn.c").write_text("int edge_rnn_stand_in_nn;\n")
    build = tmp_path / "build"
    subprocess.run(
        ["cmake", "-S", str(projects["lstm"]), "-B", str(build), *where]
        + ["-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
        check=True,
        capture_output=True,
    )
    commands = json.loads((build / "compile_commands.json").read_text())
    files = {Path(entry["file"]).name for entry in commands}
    assert {"main.cc", "model_runner.cc", "model_data.cc"} <= files
    assert ("stand_in.cc" in files) == route.startswith("TFLM_TREE")
    assert ("stand_in_nn.c" in files) == cmsis_nn
    for entry in commands:
        words = entry["command"].split()
        wanted = TFLM_FLAGS if entry["file"].endswith(".cc") else ("-fno-unwind-tables",)
        missing = [flag for flag in wanted if flag not in words]
        assert not missing, f"{entry['file']}: {missing}"
        if cmsis_nn:  # TFLM's kernels pick CMSIS-NN by this define, and find its headers
            assert "-DCMSIS_NN" in words and "-DARMCM4" in words, entry["file"]
            assert f"-I{tree}/third_party/cmsis_nn/Include" in words, entry["file"]
            assert f"-I{cmsis}/Cortex_DFP/Device/ARMCM4/Include" in words, entry["file"]
            assert f"-I{cmsis}/CMSIS/Core/Include" in words, entry["file"]
