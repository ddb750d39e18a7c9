"""The per-window loop shared by the LiteRT and TFLite Micro runners.

Both interpreters expose the same tensor details (dtype, shape, quantization_parameters) and
carry variable tensors (fused LSTM state) across invoke(), so every window is: reset, quantize
with the model's own input scale/zero point, invoke, read raw output, dequantize.
Light imports only: the TFLM worker subprocess imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.runtimes.base import dequantize, quantize


def quant_params(details: Mapping[str, Any]) -> tuple[float, int] | None:
    """(scale, zero_point) of a per-tensor quantized tensor, None for float tensors."""
    if not np.issubdtype(np.dtype(details["dtype"]), np.integer):
        return None
    if np.dtype(details["dtype"]) == np.int32 and not details.get("quantization", (0.0, 0))[0]:
        return None  # token ids: plain integers
    params = details.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), np.float32).ravel()
    zeros = np.asarray(params.get("zero_points", []), np.int64).ravel()
    if scales.size != 1:
        scale, zero = details.get("quantization", (0.0, 0))
        if not scale:
            raise EdgeRnnError("integer model input/output without a per-tensor scale")
        return float(scale), int(zero)
    return float(scales[0]), int(zeros[0]) if zeros.size else 0


def run_windows(
    xn: np.ndarray,
    *,
    input_details: Mapping[str, Any],
    output_details: Mapping[str, Any],
    set_input: Callable[[np.ndarray], None],
    invoke: Callable[[], None],
    get_output: Callable[[], np.ndarray],
    reset: Callable[[], None],
    source: str,
) -> dict[str, Any]:
    """Run normalized windows xn (N, T, F) one at a time; return outputs and raw outputs."""
    in_shape = tuple(int(d) for d in input_details["shape"])
    if in_shape[1:] != tuple(xn.shape[1:]) or in_shape[0] != 1:
        raise EdgeRnnError(
            f"{source}: model input shape {in_shape} does not take windows of shape "
            f"{tuple(xn.shape[1:])} one at a time (expected (1, T, F))"
        )
    in_dtype = np.dtype(input_details["dtype"])
    in_q = quant_params(input_details)
    out_q = quant_params(output_details)
    raws = []
    for window in xn:
        reset()  # fused LSTM state survives invoke(): every window is an independent sequence
        sample = window[None]
        if in_q is not None:
            sample = quantize(sample, in_q[0], in_q[1], in_dtype)
        set_input(sample.astype(in_dtype))
        invoke()
        raws.append(np.array(get_output(), copy=True))
    raw = np.stack(raws)
    if out_q is None:
        return {"outputs": raw.astype(np.float32), "raw": None, "scale": None, "zero_point": None}
    scale, zero = out_q
    return {"outputs": dequantize(raw, scale, zero), "raw": raw, "scale": scale, "zero_point": zero}
