"""Make LiteRT's int8 fused LSTM store its hidden state with the parameters the graph reads.

LiteRT's integer UNIDIRECTIONAL_SEQUENCE_LSTM quantizes each h_t with the scale and zero point
of its fifth intermediate tensor (`effective_hidden_scale_intermediate`) and stores the integers
as the output and as the next step's state, which the op itself and every consumer read with the
output state's parameters; TFLite Micro quantizes h_t with the output state's parameters. TF
2.21's quantizer can give the output another range than the intermediate: an LSTM feeding a
Bidirectional merge_mode='sum' ADD gets the sum's range. LiteRT then misreads every h_t
(measured max_abs 0.91 against the float model, TFLM 0.065 on the same file). This pass gives
the intermediate the output state's parameters, so both interpreters compute the same thing.
"""

from __future__ import annotations

from typing import Any

from edge_rnn.export.flatbuffer import UNIDIRECTIONAL_SEQUENCE_LSTM, builtin_code, pack, unpack

OUTPUT_STATE_INPUT = 18  # the op's input index of its hidden (output) state variable
HIDDEN_INTERMEDIATE = 4  # effective_hidden_scale_intermediate


def _params(tensor: Any) -> tuple[list[float], list[int]] | None:
    quant = tensor.quantization
    if quant is None or quant.scale is None or quant.zeroPoint is None or len(quant.scale) != 1:
        return None
    return [float(s) for s in quant.scale], [int(z) for z in quant.zeroPoint]


def align_lstm_hidden_scales(flatbuffer: bytes) -> tuple[bytes, int]:
    """(the model with every fused LSTM's hidden intermediate = its output state, how many)."""
    model = unpack(flatbuffer)
    fixed = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if builtin_code(model, op) != UNIDIRECTIONAL_SEQUENCE_LSTM:
                continue
            intermediates = list(op.intermediates) if op.intermediates is not None else []
            if len(intermediates) <= HIDDEN_INTERMEDIATE or len(op.inputs) <= OUTPUT_STATE_INPUT:
                continue
            hidden = graph.tensors[intermediates[HIDDEN_INTERMEDIATE]]
            state = _params(graph.tensors[op.inputs[OUTPUT_STATE_INPUT]])
            if state is None or _params(hidden) is None or _params(hidden) == state:
                continue
            hidden.quantization.scale, hidden.quantization.zeroPoint = state
            fixed += 1
    return (pack(model, len(flatbuffer)), fixed) if fixed else (flatbuffer, 0)
