"""Give every FULLY_CONNECTED its own correctly scaled bias in a quantized .tflite.

An integer FULLY_CONNECTED reads its bias as integers of scale input_scale x weight_scale.
In an unrolled recurrent layer every step's state has its own calibrated scale, but TF 2.21's
int16x8 quantizer stores the recurrent bias once (int64) and shares it between all steps, with
the scale of one step: every other step adds a bias off by the ratio of the two scales (up to
14 % measured), the same sign each step, and the state drifts (100-step GRU(64): rel_l2 0.23).
The int8 quantizer writes one bias per step and is not affected. This pass requantizes the
bias for each op whose input scale does not match (exact: integers -> float -> integers).
"""

from __future__ import annotations

import numpy as np

from edge_rnn.export.flatbuffer import FULLY_CONNECTED, builtin_code, pack, unpack

INTEGER_BIAS = {2: np.int32, 4: np.int64}  # TensorType INT32, INT64


def rescale_shared_biases(flatbuffer: bytes) -> tuple[bytes, int]:
    """(the model with every mis-scaled FULLY_CONNECTED bias requantized, how many)."""
    from ai_edge_litert import schema_py_generated as schema

    model = unpack(flatbuffer)
    fixed = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if builtin_code(model, op) != FULLY_CONNECTED or len(op.inputs) < 3 or op.inputs[2] < 0:
                continue
            source, weights, bias = (graph.tensors[i] for i in op.inputs[:3])
            if bias.type not in INTEGER_BIAS or not (source.quantization and bias.quantization):
                continue
            want = np.float64(source.quantization.scale[0]) * np.asarray(
                weights.quantization.scale, np.float64
            )
            have = np.asarray(bias.quantization.scale, np.float64)
            if have.shape == want.shape and np.allclose(have, want, rtol=1e-6, atol=0.0):
                continue
            dtype = INTEGER_BIAS[bias.type]
            stored = np.frombuffer(bytes(model.buffers[bias.buffer].data), dtype)
            info = np.iinfo(stored.dtype)
            values = np.clip(np.round(stored * have / want), info.min, info.max).astype(dtype)
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(values.tobytes(), np.uint8)
            model.buffers.append(buffer)
            tensor = schema.TensorT()
            name = bias.name.decode() if isinstance(bias.name, bytes) else str(bias.name)
            tensor.name = f"{name};rescaled_{fixed}"
            tensor.type, tensor.shape, tensor.buffer = bias.type, bias.shape, len(model.buffers) - 1
            tensor.quantization = schema.QuantizationParametersT()
            tensor.quantization.scale = [float(s) for s in want]
            tensor.quantization.zeroPoint = [0] * len(want)
            tensor.quantization.quantizedDimension = bias.quantization.quantizedDimension
            graph.tensors.append(tensor)
            op.inputs = [*op.inputs[:2], len(graph.tensors) - 1, *op.inputs[3:]]
            fixed += 1
    if not fixed:
        return flatbuffer, 0
    return pack(model, len(flatbuffer)), fixed
