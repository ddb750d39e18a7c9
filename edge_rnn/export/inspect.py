"""What is inside a .tflite (parsed from the flatbuffer) or .onnx file: ops, tensors, sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from edge_rnn.errors import EdgeRnnError


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    path: str
    format: str
    size_bytes: int
    ops: dict[str, int]  # op name -> count
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    subgraphs: int = 1
    weight_bytes: int = 0
    weight_dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> bytes of constants
    notes: tuple[str, ...] = field(default=())


class OutputQuantization(TypedDict, total=False):
    output_scale: float
    output_zero_point: int


def output_quantization(info: ModelInfo) -> OutputQuantization:
    """`output_scale`/`output_zero_point` of a quantized output tensor (what a raw integer
    device log is dequantized with), as manifest keys; empty for a float output."""
    output = info.outputs[0]
    if not output.scale:
        return {}
    return {"output_scale": output.scale[0], "output_zero_point": output.zero_point[0]}


def parse_tflite(data: bytes, source: str):  # -> schema ModelT; one clear error if corrupt
    from ai_edge_litert import schema_py_generated as schema

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise EdgeRnnError(f"'{source}' is not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        return schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as err:  # flatbuffers raises struct/index errors on corrupt input
        raise EdgeRnnError(f"'{source}' is a corrupted TFLite flatbuffer ({err})") from None


def _op_name(code, builtin_names: dict[int, str]) -> str:  # code: OperatorCodeT
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    name = builtin_names.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom}" if not str(custom).startswith("Flex") else str(custom)
    return name


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {
        value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")
    }


def inspect_tflite_bytes(data: bytes, source: str) -> ModelInfo:
    from ai_edge_litert import schema_py_generated as schema

    model = parse_tflite(data, source)
    names = _builtin_names()
    dtype_names = {
        value: key.lower()
        for key, value in vars(schema.TensorType).items()
        if not key.startswith("_")
    }
    ops: dict[str, int] = {}
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            name = _op_name(model.operatorCodes[op.opcodeIndex], names)
            ops[name] = ops.get(name, 0) + 1

    main = model.subgraphs[0]

    def tensor(index: int) -> TensorInfo:
        t = main.tensors[index]
        quant = t.quantization
        scales = quant.scale if quant is not None and quant.scale is not None else []
        zeros = quant.zeroPoint if quant is not None and quant.zeroPoint is not None else []
        scale, zero = tuple(float(v) for v in scales), tuple(int(v) for v in zeros)
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        return TensorInfo(name, shape, dtype_names.get(t.type, str(t.type)), scale, zero)

    weight_bytes = sum(len(buf.data) for buf in model.buffers or [] if buf.data is not None)
    weight_dtypes: dict[str, int] = {}
    for subgraph in model.subgraphs or []:
        for t in subgraph.tensors or []:
            constant = model.buffers[t.buffer].data if t.buffer else None
            if constant is not None:
                dtype = dtype_names.get(t.type, str(t.type))
                weight_dtypes[dtype] = weight_dtypes.get(dtype, 0) + len(constant)
    notes = (
        ("contains WHILE loops: TFLite Micro and int8 calibration cannot handle them",)
        if ("WHILE" in ops)
        else ()
    )
    return ModelInfo(
        path=source,
        format="tflite",
        size_bytes=len(data),
        ops=dict(sorted(ops.items())),
        inputs=tuple(tensor(i) for i in main.inputs),
        outputs=tuple(tensor(i) for i in main.outputs),
        subgraphs=len(model.subgraphs or []),
        weight_bytes=weight_bytes,
        weight_dtypes=dict(sorted(weight_dtypes.items())),
        notes=notes,
    )


def inspect_onnx(path: Path) -> ModelInfo:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as err:  # protobuf DecodeError and friends
        raise EdgeRnnError(f"'{path}' is not a valid ONNX model ({str(err)[:200]})") from None
    graph = model.graph
    ops: dict[str, int] = {}
    for node in graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    initializers = {init.name for init in graph.initializer}

    def value_info(info) -> TensorInfo:
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else -1 for d in info.type.tensor_type.shape.dim
        )
        dtype = onnx.TensorProto.DataType.Name(info.type.tensor_type.elem_type).lower()
        return TensorInfo(info.name, dims, dtype)

    weight_bytes = sum(numpy_helper.to_array(init).nbytes for init in graph.initializer)
    return ModelInfo(
        path=str(path),
        format="onnx",
        size_bytes=path.stat().st_size,
        ops=dict(sorted(ops.items())),
        inputs=tuple(value_info(i) for i in graph.input if i.name not in initializers),
        outputs=tuple(value_info(o) for o in graph.output),
        weight_bytes=weight_bytes,
    )


def inspect_file(path: str | Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise EdgeRnnError(f"file '{path}' not found")
    if path.suffix == ".tflite":
        return inspect_tflite_bytes(path.read_bytes(), str(path))
    if path.suffix == ".onnx":
        return inspect_onnx(path)
    raise EdgeRnnError(f"'{path}': inspect reads .tflite and .onnx files")


def format_info(info: ModelInfo) -> str:
    """Human-readable summary for `edge-rnn inspect`."""
    lines = [
        f"{info.path}: {info.format}, {info.size_bytes:,} bytes "
        f"({info.weight_bytes:,} in weights), {info.subgraphs} subgraph(s)"
    ]
    lines.append("ops: " + ", ".join(f"{name} x{count}" for name, count in info.ops.items()))
    if info.weight_dtypes:
        lines.append(
            "constants: "
            + ", ".join(f"{dtype} {size:,} bytes" for dtype, size in info.weight_dtypes.items())
        )
    for role, tensors in (("input", info.inputs), ("output", info.outputs)):
        for t in tensors:
            quant = (
                (
                    f" scale={','.join(f'{s:.9g}' for s in t.scale)} "
                    f"zero_point={','.join(map(str, t.zero_point))}"
                )
                if t.scale
                else ""
            )
            lines.append(f"{role} '{t.name}': {t.dtype} {list(t.shape)}{quant}")
    lines.extend(f"note: {note}" for note in info.notes)
    return "\n".join(lines)
