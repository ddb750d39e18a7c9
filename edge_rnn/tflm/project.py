"""A TFLite Micro application for one .tflite, in a cmake / Arduino / Zephyr / ESP-IDF layout.

Every number in it is measured here: ops from the flatbuffer, the arena by bisection on the
host tflite_micro interpreter (plus a stated margin), the expected validation outputs by running
the embedded test windows through that same interpreter.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.codegen.carray import write_carray
from edge_rnn.codegen.names import c_identifier
from edge_rnn.codegen.templates import render
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.inspect import ModelInfo, inspect_file, output_quantization, parse_tflite
from edge_rnn.fsutil import atomic_output_dir, write_json
from edge_rnn.ontarget.fit import boards_with_room
from edge_rnn.resources import FIRMWARE_DIR
from edge_rnn.tflm.ops import check_runnable, resolver_ops

# edge-rnn's quantization name for a TFLM-runnable model, from its input tensor type.
QUANTIZATION_BY_INPUT = {"int8": "int8", "int16": "int16x8", "float32": "float32"}
MAX_WINDOWS = 10  # embedded test windows: enough to validate, small enough for flash
# ecosystem -> (source folder, {template under tflm/<ecosystem>/: output path})
ECOSYSTEMS: dict[str, tuple[str, dict[str, str]]] = {
    "cmake": ("src", {"CMakeLists.txt.j2": "CMakeLists.txt", "main.cc.j2": "src/main.cc"}),
    "arduino": ("src", {"sketch.ino.j2": "{name}.ino"}),
    "zephyr": (
        "src",
        {
            "CMakeLists.txt.j2": "CMakeLists.txt",
            "prj.conf.j2": "prj.conf",
            "main.cc.j2": "src/main.cc",
        },
    ),
    "esp-idf": (
        "main",
        {
            "CMakeLists.txt.j2": "CMakeLists.txt",
            "main_CMakeLists.txt.j2": "main/CMakeLists.txt",
            "idf_component.yml.j2": "main/idf_component.yml",
            "sdkconfig.defaults.j2": "sdkconfig.defaults",
            "main.cc.j2": "main/main.cc",
        },
    ),
}
COMMON = (
    "model_ops.h",
    "model_io.h",
    "model_runner.h",
    "model_runner.cc",
    "edge_rnn_app.h",
    "example.cc",
)
VALIDATION = ("test_data.h", "test_data.cc", "validate.cc")
_TYPES = {  # tensor dtype -> (C type, TfLiteTensor data member, protocol dtype)
    "int8": ("int8_t", "int8", "i8"),
    "int16": ("int16_t", "i16", "i16"),
    "float32": ("float", "f", "f32"),
    "int32": ("int32_t", "i32", "i32"),  # token ids (Embedding models): never quantized
}


@dataclass(frozen=True)
class TflmProject:
    out_dir: Path
    ecosystem: str
    name: str
    ops: tuple[tuple[str, str], ...]  # (TFLite op, MicroMutableOpResolver method)
    arena: Any  # edge_rnn.runtimes.tflm.ArenaResult
    model_bytes: int
    has_state: bool  # variable tensors: reset before each sequence
    output_dtype: str  # protocol dtype
    output_scale: float | None
    output_zero_point: int | None
    files: tuple[Path, ...] = field(default=())
    expected_log: Path | None = None
    fits_targets: tuple[str, ...] = ()  # microcontroller boards with room for model + arena

    def fit_summary(self) -> str:
        """One line on where the project fits (TFLM's own code is not counted: not built here)."""
        sizes = f"model {self.model_bytes:,} B flash + arena {self.arena.recommended_bytes:,} B RAM"
        if not self.fits_targets:
            return f"fits NO edge-rnn MCU board: {sizes}, before TFLM's own code and stack"
        return f"{sizes} fit {', '.join(self.fits_targets)} (before TFLM's own code and stack)"


def _tensor_types(info: ModelInfo, path: Path) -> dict[str, tuple[str, str, str]]:
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise EdgeRnnError(f"{path}: expected one input and one output tensor")
    found = {}
    for role, tensor in (("input", info.inputs[0]), ("output", info.outputs[0])):
        if tensor.dtype not in _TYPES:
            raise EdgeRnnError(
                f"{path}: {role} '{tensor.name}' is {tensor.dtype}: the TFLM "
                f"project handles {', '.join(_TYPES)} model I/O"
            )
        found[role] = _TYPES[tensor.dtype]
    return found


def _has_variables(path: Path) -> bool:
    model = parse_tflite(path.read_bytes(), str(path))
    return any(t.isVariable for g in model.subgraphs or [] for t in g.tensors or [])


def _expected(
    path: Path, info: ModelInfo, metadata: dict[str, Any], test_x: np.ndarray, name: str
) -> tuple[np.ndarray, Any]:
    """Host TFLM outputs (raw when integer) for test_x, and the measured arena."""
    import tempfile

    from edge_rnn.ir import Normalization
    from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext
    from edge_rnn.runtimes.tflm import ArenaResult, TFLMRunner

    norm = metadata.get("normalization")
    tokens = info.inputs[0].dtype == "int32"
    meta = ModelMeta(
        name=name,
        input_shape=(*info.inputs[0].shape[1:], *((1,) if tokens else ())),  # type: ignore[arg-type]
        input_dtype="int32" if tokens else "float32",
        output_shape=tuple(info.outputs[0].shape[1:]),
        normalization=Normalization(tuple(norm["mean"]), tuple(norm["scale"])) if norm else None,
    )
    with tempfile.TemporaryDirectory(prefix="edge-rnn-tflm-") as tmp:
        result = TFLMRunner().run(
            Artefact(path.stem, path, "tflite", ""), test_x, meta, RunContext(Path(tmp))
        )
    memory = result.memory
    arena = ArenaResult.from_min(
        memory["arena_min_bytes"], memory["arena_interpreter_reported_bytes"] or None
    )
    outputs = result.raw_outputs if result.raw_outputs is not None else result.outputs
    return outputs.reshape(len(test_x), -1), arena


def generate_project(
    tflite_path: str | Path,
    out_dir: str | Path,
    *,
    ecosystem: str = "cmake",
    metadata: dict[str, Any] | None = None,
    test_x: np.ndarray | None = None,
    name: str | None = None,
) -> TflmProject:
    """Write a TFLM project for `tflite_path` into `out_dir` (must not exist).

    `metadata` is model/metadata.json (normalization, class names, name); `test_x` raw
    (un-normalized) windows (N, T, F): the first MAX_WINDOWS are embedded in the validation main.
    """
    from edge_rnn.protocol import write_protocol
    from edge_rnn.runtimes.tflm import find_min_arena

    if ecosystem not in ECOSYSTEMS:
        raise EdgeRnnError(f"--project {ecosystem}: choose one of {', '.join(ECOSYSTEMS)}")
    path = Path(tflite_path)
    info = inspect_file(path)
    if info.format != "tflite":
        raise EdgeRnnError(f"{path}: the tflm backend takes a .tflite model")
    check_runnable(path, info)
    ops = resolver_ops(info)
    types = _tensor_types(info, path)
    metadata = dict(metadata or {})
    model_name = str(metadata.get("name") or name or path.stem)
    ident = c_identifier(name or model_name)
    in_shape, out_shape = info.inputs[0].shape, info.outputs[0].shape
    tokens = info.inputs[0].dtype == "int32"
    if tokens and len(in_shape) == 2:
        in_shape = (*in_shape, 1)  # one token id per time step
    if in_shape[0] != 1 or len(in_shape) != 3:
        raise EdgeRnnError(f"{path}: input shape {list(in_shape)}: expected (1, T, F)")
    windows = None
    if test_x is not None:
        windows = np.asarray(test_x, np.float32)[:MAX_WINDOWS]
        if windows.ndim != 3 or windows.shape[1:] != tuple(in_shape[1:]) or not len(windows):
            raise EdgeRnnError(
                f"test windows of shape {list(np.shape(test_x))} do not fit the "
                f"model input {list(in_shape)}: expected (N, T, F)"
            )
        expected, arena = _expected(path, info, metadata, windows, model_name)
    else:
        arena = find_min_arena(path)
    output_quant = output_quantization(info)
    out_scale = output_quant.get("output_scale")
    out_zero = output_quant.get("output_zero_point")
    src_dir, layout = ECOSYSTEMS[ecosystem]
    norm = metadata.get("normalization")
    fits_targets = tuple(boards_with_room(info.size_bytes, arena.recommended_bytes))
    context = {
        "name": ident,
        "model_name": model_name,
        "ecosystem": ecosystem,
        "tflite_name": path.name,
        "model_bytes": info.size_bytes,
        "ops": ops,
        "arena": arena,
        "fits_targets": fits_targets,
        "has_state": _has_variables(path),
        "timesteps": in_shape[1],
        "features": in_shape[2],
        "input_elements": math.prod(in_shape),
        "output_elements": math.prod(out_shape),
        "input": {
            "ctype": types["input"][0],
            "field": types["input"][1],
            "dtype": info.inputs[0].dtype,
            "quantized": bool(info.inputs[0].scale),
        },
        "output": {
            "ctype": types["output"][0],
            "field": types["output"][1],
            "dtype": info.outputs[0].dtype,
            "protocol": types["output"][2],
            "quantized": bool(info.outputs[0].scale),
        },
        "normalization": norm,
        "quantization": QUANTIZATION_BY_INPUT.get(
            (info.outputs[0] if tokens else info.inputs[0]).dtype, info.inputs[0].dtype
        ),
        "class_names": list(metadata.get("class_names") or []),
        "validation": windows is not None,
        "src_dir": src_dir,
        "common_sources": [
            f for f in COMMON + (VALIDATION if windows is not None else ()) if f.endswith(".cc")
        ]
        + ["model_data.cc"],
    }
    if windows is not None:
        context.update(test_windows=len(windows), test_x=windows.ravel(), expected=expected.ravel())
    with atomic_output_dir(out_dir) as tmp:
        tmp = Path(tmp)
        src = tmp / src_dir
        src.mkdir(parents=True, exist_ok=True)
        carray = write_carray(
            path,
            src,
            name="model_data",
            quantization=info.inputs[0].dtype + " I/O",
            metadata=metadata,
            arena=arena,
        )
        carray.source.rename(src / "model_data.cc")  # C++ projects: one language for TFLM
        shutil.copyfile(
            FIRMWARE_DIR / "protocol" / "edge_rnn_protocol.h", src / "edge_rnn_protocol.h"
        )
        for file in COMMON + (VALIDATION if windows is not None else ()):
            (src / file).write_text(render(f"tflm/common/{file}.j2", **context), encoding="utf-8")
        for template, target in layout.items():
            out = tmp / target.format(name=ident)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render(f"tflm/{ecosystem}/{template}", **context), encoding="utf-8")
        (tmp / "README.md").write_text(
            render(f"tflm/{ecosystem}/README.md.j2", **context), encoding="utf-8"
        )
        if windows is not None:
            (tmp / "expected_log.txt").write_text(
                write_protocol(model_name, expected, types["output"][2]), encoding="utf-8"
            )
            # The embedded windows as data for `edge-rnn validate --data` (device-log check).
            np.savez(tmp / "test_windows.npz", x=windows)
        write_json(
            tmp / "project.json",
            {
                "model": path.name,
                "name": model_name,
                "ecosystem": ecosystem,
                "model_bytes": info.size_bytes,
                "ops": [op for op, _ in ops],
                "arena": arena.as_dict(),
                "fits_targets": list(fits_targets),
                "has_state": context["has_state"],
                "output_dtype": types["output"][2],
                "output_scale": out_scale,
                "output_zero_point": out_zero,
                "test_windows": len(windows) if windows is not None else 0,
            },
        )
        files = tuple(sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file()))
    out_dir = Path(out_dir)
    return TflmProject(
        out_dir=out_dir,
        ecosystem=ecosystem,
        name=model_name,
        ops=tuple(ops),
        arena=arena,
        model_bytes=info.size_bytes,
        has_state=context["has_state"],
        output_dtype=types["output"][2],
        output_scale=out_scale,
        output_zero_point=out_zero,
        files=tuple(out_dir / f for f in files),
        expected_log=out_dir / "expected_log.txt" if windows is not None else None,
        fits_targets=fits_targets,
    )
