"""The streaming check: T calls of the generated `_step` must equal `_run` bit for bit."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_model_ir
from edge_rnn.manifest import ManifestEntry
from edge_rnn.native import generate, host
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, RunnerSkipped, get_runner

STEPS, FEATURES = 6, 3


def _native(tmp_path: Path, recurrent: keras.layers.Layer, quant: str) -> Artefact:
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), recurrent, keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(32, STEPS, FEATURES)).astype(np.float32)
    gen = generate(load_model_ir(model), tmp_path / quant, quant=quant, calibration_x=x)
    entry = ManifestEntry(f"native_{quant}", ".", "native-c", quant, streaming=gen.streaming)
    return Artefact(f"native_{quant}", gen.out_dir, "native-c", quant, entry)


def _meta() -> ModelMeta:
    return ModelMeta("m", (STEPS, FEATURES), (2,), task="regression")


def _windows() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(8, STEPS, FEATURES)).astype(np.float32)


@pytest.mark.parametrize("quant", ["float32", "int8"])
def test_step_equals_run(tmp_path: Path, quant: str) -> None:
    artefact = _native(tmp_path, keras.layers.GRU(5), quant)
    streamed = get_runner("host_c_stream").run(artefact, _windows(), _meta(), RunContext(tmp_path))
    whole = get_runner("host_c").run(artefact, _windows(), _meta(), RunContext(tmp_path))
    np.testing.assert_array_equal(streamed.outputs, whole.outputs)


def test_bidirectional_has_no_streaming(tmp_path: Path) -> None:
    artefact = _native(tmp_path, keras.layers.Bidirectional(keras.layers.LSTM(3)), "float32")
    assert artefact.manifest_entry.streaming is False
    with pytest.raises(RunnerSkipped) as skipped:
        get_runner("host_c_stream").run(artefact, _windows(), _meta(), RunContext(tmp_path))
    assert skipped.value.not_applicable


def test_state_not_carried_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step path that loses state in one window must fail the stage."""
    artefact = _native(tmp_path, keras.layers.LSTM(4), "float32")
    real = host.run_binary

    def lossy_step(binary: Path, x: np.ndarray, *, mode: str = "run", prefix: tuple = ()):
        result = real(binary, x, mode=mode, prefix=prefix)
        if mode == "step":
            result.raw[3] += np.float32(1e-3)
        return result

    monkeypatch.setattr(host, "run_binary", lossy_step)
    with pytest.raises(EdgeRnnError, match="1 of 8 windows \\(first: window 3\\)"):
        get_runner("host_c_stream").run(artefact, _windows(), _meta(), RunContext(tmp_path))
