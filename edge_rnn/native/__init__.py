"""Interpreter-free C backend: IR -> C99 kernels + generated weights, float32/int8w/int8."""

from edge_rnn.native.generate import QUANTS, GeneratedModel, generate

__all__ = ["QUANTS", "GeneratedModel", "generate"]
