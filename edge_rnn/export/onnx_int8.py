"""ONNX int8 whose recurrent weights are int8: onnxruntime dynamic quantization, after making
every weight matrix reachable for it.

Measured with onnxruntime 1.32 / tf2onnx 1.17 (README, "Conversion routes"): onnxruntime has an
integer kernel for the ONNX `LSTM` op (DynamicQuantizeLSTM) but none for `GRU`, and it only
quantizes a `MatMul` whose weight is an initializer. tf2onnx writes GRU as a `GRU` op and
SimpleRNN as a `Loop` whose weights travel as loop-carried values into `Gemm` ops, so both stayed
float. Here GRU is exported as a `Loop` too, loop-invariant weights are read from the outer
scope, and `Gemm` is split into `MatMul` + `Add`; every weight matrix then becomes int8
(`MatMulInteger` with per-step `DynamicQuantizeLinear` of the activations).

Weights use 7 bits of the int8 (reduce_range): onnxruntime's uint8 x int8 kernels on x86 CPUs
with AVX2 but without VNNI (VPMADDUBSW) add two products into a saturating int16, so 255 x 127
+ 255 x 127 clips at 32767; measured: a MatMulInteger of 16 such products gave 262,136 instead
of 518,160, DynamicQuantizeLSTM a gate output of 0.022 instead of 0.043, and a tf_keras
LSTM(16)+GRU(8) softmax max_abs 0.349 against Keras (0.011 with 7-bit weights).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge_rnn.export.onnx_graph import all_initializers, all_nodes, element_count, subgraphs

# tf2onnx passes that turn a tf-keras GRU loop into the ONNX GRU op.
_GRU_REWRITERS = ("rewrite_gru_tf2", "rewrite_single_direction_gru", "rewrite_bi_direction_gru")
# Weight-carrying op types the quantizer rewrites (Conv is left out: onnxruntime's CPU
# ConvInteger has no int8-weight kernel).
QUANTIZED_OP_TYPES = ("MatMul", "LSTM", "Gather")


@contextmanager
def gru_as_loop() -> Iterator[None]:
    """tf2onnx without its GRU rewriters: GRU layers stay a Loop of MatMul/Gemm ops."""
    import tf2onnx.tfonnx as tfonnx

    saved = {name: getattr(tfonnx, name) for name in _GRU_REWRITERS}

    def keep_loop(_graph: Any, ops: list[Any]) -> list[Any]:
        return ops

    for name in _GRU_REWRITERS:
        setattr(tfonnx, name, keep_loop)
    try:
        yield
    finally:
        for name, rewriter in saved.items():
            setattr(tfonnx, name, rewriter)


def _rename_uses(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == old:
                node.input[index] = new
    for output in graph.output:
        if output.name == old:
            output.name = new
    for subgraph in subgraphs(graph):
        _rename_uses(subgraph, old, new)


def _hoist_loop_weights(graph: Any, constants: set[str]) -> int:
    """Loop-carried values that enter as an initializer and leave unchanged become outer-scope
    reads, so the quantizer sees them as weights. Returns how many were hoisted."""
    constants = constants | {init.name for init in graph.initializer}
    used_outside = {name for node in graph.node for name in node.input}
    used_outside |= {output.name for output in graph.output}
    hoisted = 0
    for node in graph.node:
        if node.op_type != "Loop":
            continue
        body = next(a.g for a in node.attribute if a.name == "body")
        carried = len(node.input) - 2
        for index in reversed(range(carried)):
            value = node.input[2 + index]
            body_in, body_out = body.input[2 + index].name, body.output[1 + index].name
            if value not in constants or body_in != body_out:
                continue
            if node.output[index] and node.output[index] in used_outside:
                continue
            del node.input[2 + index]
            del node.output[index]
            del body.input[2 + index]
            del body.output[1 + index]
            _rename_uses(body, body_in, value)
            hoisted += 1
    for subgraph in subgraphs(graph):
        hoisted += _hoist_loop_weights(subgraph, constants)
    return hoisted


def _find_initializer(graphs: list[Any], name: str) -> Any:
    for graph in reversed(graphs):
        for init in graph.initializer:
            if init.name == name:
                return init
    return None


def _split_gemms(graph: Any, outer: list[Any]) -> None:
    """Gemm(A, W, C) with a constant W becomes MatMul(A, W) + C (onnxruntime's dynamic
    quantizer has no Gemm rule). Gemm with alpha/beta/transA stays as it is."""
    import onnx
    from onnx import helper, numpy_helper

    scope = [*outer, graph]
    nodes = []
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = _find_initializer(scope, node.input[1]) if node.op_type == "Gemm" else None
        plain = attributes.get("alpha", 1.0) == 1.0 and attributes.get("beta", 1.0) == 1.0
        if weight is None or not plain or attributes.get("transA", 0):
            nodes.append(node)
            continue
        weight_name = weight.name
        if attributes.get("transB", 0):
            weight_name = f"{weight.name}_transposed"
            if _find_initializer(scope, weight_name) is None:
                array = numpy_helper.to_array(weight).T.copy()
                graph.initializer.append(numpy_helper.from_array(array, weight_name))
        product = node.output[0] if len(node.input) < 3 else f"{node.output[0]}_matmul"
        nodes.append(helper.make_node("MatMul", [node.input[0], weight_name], [product]))
        if len(node.input) >= 3 and node.input[2]:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]]))
    del graph.node[:]
    graph.node.extend(nodes)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _split_gemms(attribute.g, scope)


def prepare(model: Any) -> None:
    """Rewrite a float tf2onnx model in place so that every weight matrix is quantizable."""
    _hoist_loop_weights(model.graph, set())
    _split_gemms(model.graph, [])


def describe(model: Any) -> str:
    """Which weights are int8 and exactly which constants stay float, for the manifest note."""
    import onnx

    users: dict[str, set[str]] = {}
    for node in all_nodes(model.graph):
        for name in node.input:
            users.setdefault(name, set()).add(node.op_type)
    int8: Counter[str] = Counter()
    floats: Counter[str] = Counter()
    int8_values = float_values = 0
    for init in all_initializers(model.graph):
        count = element_count(init)
        ops = ", ".join(sorted(users.get(init.name, {"unused"})))
        if init.data_type == onnx.TensorProto.INT8 and count > 1:
            int8[ops] += 1
            int8_values += count
        elif init.data_type == onnx.TensorProto.FLOAT and count > 1:
            floats[ops] += 1
            float_values += count
    said = "; ".join(f"{n} into {ops}" for ops, n in sorted(int8.items()))
    kept = "; ".join(f"{n} into {ops}" for ops, n in sorted(floats.items()))
    return (
        f"int8 weights ({int8_values} values, 7-bit range: {said}); "
        f"stay float32 ({float_values} values: {kept or 'none'}): biases and state constants, "
        "added after the integer products; "
        "activations are quantized to uint8 at run time (DynamicQuantizeLinear)"
    )


def quantize(float_path: Path, out: Path) -> str:
    """Dynamic int8 of `float_path` (exported under `gru_as_loop`) into `out`; returns the note."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(float_path))
    prepare(model)
    prepared = float_path.with_name("prepared.onnx")
    onnx.save(model, str(prepared))
    quantize_dynamic(
        str(prepared),
        str(out),
        weight_type=QuantType.QInt8,
        reduce_range=True,  # no int16 saturation on AVX2 CPUs (module docstring)
        op_types_to_quantize=list(QUANTIZED_OP_TYPES),
        extra_options={"EnableSubgraph": True},
    )
    return describe(onnx.load(str(out)))
