"""TFLite Micro firmware projects: exact op resolver, measured arena, validation main."""

from edge_rnn.tflm.ops import OP_METHODS, check_runnable, resolver_ops
from edge_rnn.tflm.project import ECOSYSTEMS, TflmProject, generate_project

__all__ = [
    "ECOSYSTEMS",
    "OP_METHODS",
    "TflmProject",
    "check_runnable",
    "generate_project",
    "resolver_ops",
]
