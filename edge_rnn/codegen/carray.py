"""Any artefact as a C `.h`/`.c` pair: aligned const bytes, sizes, I/O quantization,
class names and input normalization, byte-identical on every run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_rnn.codegen.names import c_identifier
from edge_rnn.codegen.templates import render
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.inspect import ModelInfo, inspect_file
from edge_rnn.fsutil import sha256_file


@dataclass(frozen=True)
class CArray:
    header: Path
    source: Path
    name: str


def _tensor_context(tensor: Any) -> dict[str, Any]:
    return {
        "name": tensor.name,
        "dtype": tensor.dtype,
        "shape": tensor.shape,
        "elements": math.prod(tensor.shape),
        "scale": tensor.scale,
        "zero_point": tensor.zero_point,
    }


def write_carray(
    artefact: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    quantization: str = "",
    metadata: dict[str, Any] | None = None,
    arena: Any = None,
) -> CArray:
    """Write `<name>.h` and `<name>.c` for `artefact` (.tflite/.onnx) into `out_dir`.

    `metadata` is the model metadata (class names, normalization); `arena` an object with
    `min_bytes`, `recommended_bytes` and `margin` (TFLite Micro arena measurement).
    """
    artefact = Path(artefact)
    info: ModelInfo = inspect_file(artefact)
    ident = c_identifier(name or artefact.stem)
    metadata = metadata or {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header, source = out_dir / f"{ident}.h", out_dir / f"{ident}.c"
    tensors = [("INPUT", info.inputs), ("OUTPUT", info.outputs)]
    if any(len(group) != 1 for _, group in tensors):
        raise EdgeRnnError(f"'{artefact}': expected one input and one output tensor")
    context = {
        "name": ident,
        "prefix": ident.upper(),
        "guard": f"{ident.upper()}_H",
        "header": header.name,
        "source_name": artefact.name,
        "format": info.format,
        "quantization": quantization or "unspecified",
        "length": info.size_bytes,
        "sha256": sha256_file(artefact),
        "tensors": [(role, _tensor_context(group[0])) for role, group in tensors],
        "class_names": [_c_string(c) for c in metadata.get("class_names") or []],
        "normalization": metadata.get("normalization"),
        "arena": arena,
    }
    header.write_text(render("carray/model_data.h.j2", **context), encoding="utf-8")
    source.write_text(
        render("carray/model_data.c.j2", data=artefact.read_bytes(), **context), encoding="utf-8"
    )
    return CArray(header, source, ident)


def _c_string(text: str) -> str:
    """Escape a class name for a C string literal."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
