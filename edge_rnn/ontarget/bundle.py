"""A self-contained bundle for an ARM Linux board (Raspberry Pi class): the .tflite/.onnx
models, the RAW test windows, the normalization and quantization metadata, and
`run_on_board.py` (numpy + ai_edge_litert / tflite_runtime / onnxruntime), which prints the
line protocol of docs/architecture.md for `edge-rnn validate DIR --device-log LOG`.

    write_bundle("build/gesture", "bundle/")            # every tflite/onnx of the manifest
    write_bundle(["m_int8.tflite"], "bundle/", metadata=md, x=x_raw)

Layout: bundle.json, run_on_board.py, models/<file>, test_x.npy and test_x.f32 (raw windows,
(N, T, F) float32; the .f32 is the same bytes little-endian for non-numpy readers).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.choices import TFLITE_QUANTIZATIONS
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.inspect import inspect_file, output_quantization
from edge_rnn.fsutil import atomic_output_dir, read_json, sha256_file, write_json
from edge_rnn.manifest import Manifest, ManifestEntry
from edge_rnn.ontarget.toolchain import FIRMWARE_DIR

BOARD_SCRIPT = FIRMWARE_DIR / "linux" / "run_on_board.py"
BUNDLE_FORMATS = {".tflite": "tflite", ".onnx": "onnx"}


@dataclass(frozen=True)
class Bundle:
    out_dir: Path
    script: Path
    artefacts: tuple[dict[str, Any], ...]  # the entries of bundle.json
    samples: int


def _from_build_dir(build_dir: Path, names: Sequence[str] | None) -> tuple[list, dict, Any]:
    manifest = Manifest.read(build_dir)
    metadata = read_json(build_dir / manifest.model_metadata, "model metadata")
    test = build_dir / manifest.data_test
    if not test.is_file():
        raise EdgeRnnError(f"test windows '{test}' not found: rebuild '{build_dir}'")
    with np.load(test) as data:
        x = data["x"]
    entries = []
    for entry in manifest.artefacts:
        if entry.format not in BUNDLE_FORMATS.values() or (names and entry.name not in names):
            continue
        path = entry.resolve(build_dir)
        problem = entry.integrity_problem(path)
        if problem:
            raise EdgeRnnError(problem)
        folded = entry.details.get("input_normalization")
        entries.append((entry.name, path, entry.format, entry.quantization, folded))
    return entries, metadata, x


def _from_files(paths: Sequence[str | Path]) -> list:
    entries = []
    for item in paths:
        path = Path(item)
        fmt = BUNDLE_FORMATS.get(path.suffix)
        if fmt is None or not path.is_file():
            raise EdgeRnnError(f"'{path}' is not a .tflite or .onnx file: bundle only those")
        quant = path.stem.rsplit("_", 1)[-1]
        entries.append((path.stem, path, fmt, quant if quant in TFLITE_QUANTIZATIONS else "", None))
    return entries


def write_bundle(
    source: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    metadata: Mapping[str, Any] | None = None,
    x: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Write the board bundle. `source` is a build directory (manifest.json; `names` picks
    artefacts) or a list of .tflite/.onnx files, which then need `metadata` and RAW `x`."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        entries, build_metadata, build_x = _from_build_dir(Path(source), names)
        metadata = metadata or build_metadata
        x = build_x if x is None else x
    else:
        files = [source] if isinstance(source, (str, Path)) else source
        entries = _from_files(files)
        if metadata is None or x is None:
            raise EdgeRnnError("a bundle of model files needs metadata and test windows x")
    if not entries:
        raise EdgeRnnError(f"'{source}' has no .tflite or .onnx artefact to bundle")
    x = np.ascontiguousarray(x, dtype="<f4")
    if x.ndim != 3 or len(x) == 0:
        raise EdgeRnnError(f"test windows must be shaped (N, T, F) with N >= 1, got {x.shape}")
    artefacts = []
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "models").mkdir()
        for name, path, fmt, quant, folded in entries:
            shutil.copyfile(path, tmp / "models" / path.name)
            quantized = output_quantization(inspect_file(path)) if fmt == "tflite" else {}
            entry = ManifestEntry(
                name,
                f"models/{path.name}",
                fmt,
                quant,
                sha256=sha256_file(path),
                details={"input_normalization": folded} if folded else {},
                **quantized,
            )
            artefacts.append(entry.to_dict())
        np.save(tmp / "test_x.npy", x)
        (tmp / "test_x.f32").write_bytes(x.tobytes())
        shutil.copyfile(BOARD_SCRIPT, tmp / BOARD_SCRIPT.name)
        write_json(
            tmp / "bundle.json",
            {
                "model": metadata.get("name", entries[0][0]),
                "input_shape": list(x.shape[1:]),
                "output_shape": list(metadata.get("output_shape", [])),
                "normalization": metadata.get("normalization"),
                "test_x": "test_x.npy",
                "samples": len(x),
                "artefacts": artefacts,
            },
        )
    out = Path(out_dir)
    return Bundle(out, out / BOARD_SCRIPT.name, tuple(artefacts), len(x))
