"""Generated native C also compiles warning-free with clang and computes the same numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.frontends.keras import load_model_ir
from edge_rnn.native import generate
from edge_rnn.native.host import compile_host, run_binary


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
@pytest.mark.parametrize("quant", ["float32", "int8"])
def test_clang_build_matches_gcc(tmp_path: Path, quant: str) -> None:
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((7, 3)),
            keras.layers.GRU(6, return_sequences=True),
            keras.layers.LSTM(5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(1).normal(size=(16, 7, 3)).astype(np.float32)
    gen = generate(load_model_ir(model), tmp_path / "gen", quant=quant, calibration_x=x)
    # CFLAGS carry -std=c99 -Wall -Wextra -Werror: any clang warning fails the build.
    by_gcc = run_binary(compile_host(gen, tmp_path / "gcc.bin"), x)
    by_clang = run_binary(compile_host(gen, tmp_path / "clang.bin", cc="clang"), x)
    if quant == "int8":
        np.testing.assert_array_equal(by_clang.raw, by_gcc.raw)  # integer path: bit-exact
    else:
        np.testing.assert_allclose(by_clang.values, by_gcc.values, atol=1e-6)
