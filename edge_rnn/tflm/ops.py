"""Which TFLite Micro op registrations a .tflite needs, and what TFLM cannot run.

Ops come from the flatbuffer (edge_rnn.export.inspect), not from the interpreter: the resolver
must list exactly those, with `MicroMutableOpResolver<N>` sized to the count.
"""

from __future__ import annotations

from pathlib import Path

from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.inspect import ModelInfo, inspect_file, parse_tflite

# TFLite builtin op -> tflite::MicroMutableOpResolver method (TFLM micro_mutable_op_resolver.h).
OP_METHODS: dict[str, str] = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BROADCAST_TO": "AddBroadcastTo",
    "CAST": "AddCast",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "ELU": "AddElu",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "HARD_SWISH": "AddHardSwish",
    "L2_NORMALIZATION": "AddL2Normalization",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LOG": "AddLog",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MAXIMUM": "AddMaximum",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "QUANTIZE": "AddQuantize",
    "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "REVERSE_V2": "AddReverseV2",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack",
    "ZEROS_LIKE": "AddZerosLike",
}

ALTERNATIVE = (
    "use the native backend (`edge-rnn generate MODEL.keras --backend native`) or "
    "an int8 TFLite export (fused LSTM / unrolled GRU and SimpleRNN)"
)
# Ops whose weights are constant inputs: float activations x int8 weights = dynamic range.
_WEIGHTED = {
    "FULLY_CONNECTED",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "BATCH_MATMUL",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
}


def resolver_ops(info: ModelInfo) -> list[tuple[str, str]]:
    """(op name, AddXxx method) for every distinct op, sorted by op name."""
    unknown = sorted(op for op in info.ops if op not in OP_METHODS)
    if unknown:
        raise EdgeRnnError(
            f"{info.path}: op(s) {', '.join(unknown)} have no TFLite Micro registration known to "
            f"edge-rnn: {ALTERNATIVE}"
        )
    return [(op, OP_METHODS[op]) for op in sorted(info.ops)]


# Ops TFLM has no int16 kernel for, and the layer whose int16x8 export brings them.
_NO_INT16 = {
    "GATHER": "Embedding in int16x8; TFLM gathers float32/int8 only",
    "RSQRT": "LayerNormalization in int16x8; TFLM's RSQRT takes float32/int8 only",
    "REDUCE_MAX": "GlobalMaxPooling1D in int16x8; TFLM's REDUCE_MAX takes float32/int8 only",
}

# Ops TFLM has float32 kernels only for, and the layer whose quantized export brings them.
_FLOAT_ONLY = {
    "EXP": "softplus in int8/int16x8; TFLM's EXP takes float32 only",
    "LOG": "softplus in int8/int16x8; TFLM's LOG takes float32 only",
}


def tflm_refusal(path: str | Path) -> str | None:
    """Why TFLite Micro cannot run this .tflite, or None when it can (a corrupt file raises)."""
    info = inspect_file(path)
    try:
        check_runnable(path, info)
        resolver_ops(info)  # ops TFLM has no kernel for
    except EdgeRnnError as err:
        return str(err)
    return None


def check_runnable(path: str | Path, info: ModelInfo) -> None:
    """Refuse, naming the reason and the alternative, what TFLite Micro cannot run."""
    from ai_edge_litert import schema_py_generated as schema

    def refuse(why: str) -> EdgeRnnError:
        return EdgeRnnError(f"{path}: TFLite Micro cannot run this model: {why}; {ALTERNATIVE}")

    special = sorted(op for op in info.ops if op.startswith(("Flex", "CUSTOM:")))
    if special:
        raise refuse(f"Flex/custom op(s) {', '.join(special)}")
    if "WHILE" in info.ops:
        raise refuse("it contains WHILE loops (Keras 3 RNN layers; TFLM hangs on them)")
    model = parse_tflite(Path(path).read_bytes(), str(path))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    main = model.subgraphs[0]
    for tensor in main.tensors or []:
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        if tensor.type == schema.TensorType.FLOAT16:
            raise refuse(f"float16 tensor '{name}' (TFLM's DEQUANTIZE takes int8 only)")
        for raw in (tensor.shapeSignature, tensor.shape):
            dims = [int(d) for d in (raw if raw is not None else [])]
            if any(d < 0 for d in dims):
                raise refuse(
                    f"tensor '{name}' has a dynamic shape {dims}: fix the batch to 1 "
                    "and the sequence length"
                )
    for op in main.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        opname = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
        int16_input = main.tensors[op.inputs[0]].type == schema.TensorType.INT16
        if opname in _NO_INT16 and int16_input:
            raise refuse(f"an int16 {opname} ({_NO_INT16[opname]})")
        if opname in _FLOAT_ONLY and main.tensors[op.inputs[0]].type != schema.TensorType.FLOAT32:
            raise refuse(f"a quantized {opname} ({_FLOAT_ONLY[opname]})")
        if opname == "RELU6" and _quantization(main.tensors[op.inputs[0]]) != _quantization(
            main.tensors[op.outputs[0]]
        ):
            raise EdgeRnnError(
                f"{path}: TFLite Micro cannot run this model: a quantized standalone RELU6 whose "
                "output scale differs from its input's (TFLM's RELU6 ignores the output scale); "
                "make relu6 the activation of a Dense/Conv1D or use the native backend "
                "(`edge-rnn generate MODEL.keras --backend native`)"
            )
        if opname not in _WEIGHTED or op.inputs is None or len(op.inputs) < 2:
            continue
        act = main.tensors[op.inputs[0]]
        weights = [main.tensors[i] for i in op.inputs[1:] if i >= 0]
        if act.type == schema.TensorType.FLOAT32 and any(
            w.type == schema.TensorType.INT8 for w in weights
        ):
            raise refuse(
                f"dynamic-range quantization ({opname} with float inputs and int8 weights)"
            )


def _quantization(tensor: object) -> tuple[list[float], list[int]] | None:
    """A tensor's (scales, zero points), None when not quantized."""
    quant = getattr(tensor, "quantization", None)
    if quant is None or getattr(quant, "scale", None) is None:
        return None
    return [float(v) for v in quant.scale], [int(v) for v in quant.zeroPoint]
