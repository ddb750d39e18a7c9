"""The environment TensorFlow runs under, set before it is imported (CLI, conversion child).

oneDNN off: TensorFlow then prints nothing at start-up and computes the float reference in a
fixed order (oneDNN's kernels may round differently run to run); CPU only; no C++ log noise.
"""

from __future__ import annotations

import os

TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "CUDA_VISIBLE_DEVICES": "-1",
}


def apply_tf_env() -> None:
    """Set the defaults in this process (explicit user settings win)."""
    for key, value in TF_ENV.items():
        os.environ.setdefault(key, value)
