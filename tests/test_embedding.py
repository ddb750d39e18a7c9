"""Embedding (token-id input): integer windows through data loading, every backend and the
validator, with the user's Keras model as the reference."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.data import load_dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_model_ir
from tests.byom import build_user_model, stage_status

VOCAB, STEPS = 30, 12


def _tokens(n: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Sentiment-like toy text: the label says whether 'positive' ids (< 10) outnumber others."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, VOCAB, size=(n, STEPS)).astype(np.int32)
    y = ((x < 10).sum(axis=1) > STEPS / 3).astype(np.int64)
    return x, y


def _classifier(train: bool = True) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((STEPS,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 6, name="embed"),
            keras.layers.LSTM(8, name="lstm"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="sentiment",
    )
    if train:
        x, y = _tokens()
        model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    return model


def test_embedding_is_the_token_input_of_the_ir() -> None:
    model = load_model_ir(_classifier(train=False), {"normalization": {"mean": [1], "scale": [2]}})
    assert model.token_input and model.input_shape == (STEPS, 1)
    assert model.normalization is None  # token ids are never normalized
    assert model.layers[0].embeddings.shape == (VOCAB, 6)


def test_two_d_input_without_embedding_names_the_fix() -> None:
    model = keras.Sequential([keras.Input((STEPS,)), keras.layers.Dense(3)])
    with pytest.raises(EdgeRnnError, match="needs an Embedding as the first layer"):
        load_model_ir(model)


def test_npz_token_ids_load_as_integer_windows(tmp_path: Path) -> None:
    x, y = _tokens(40)
    np.savez(tmp_path / "t.npz", x=x, y=y)
    data = load_dataset(str(tmp_path / "t.npz"))
    assert data.input_dtype == "int32" and data.x_train.shape[1:] == (STEPS, 1)
    loaded = np.concatenate([data.x_train, data.x_test]).ravel()
    np.testing.assert_array_equal(np.sort(loaded), np.sort(x.ravel()))


@pytest.mark.slow
def test_embedding_lstm_classifier_builds_on_every_backend(tmp_path: Path) -> None:
    x, y = _tokens()
    manifest, report = build_user_model(tmp_path, _classifier(), x, y)
    status = stage_status(report)
    for stage in (
        "tflite_float32/litert",
        "tflite_int8/tflm",
        "onnx_float32/onnxruntime",
        "native_float32/host_c",
        "native_int8w/host_c_stream",
        "native_float32/qemu-cortex-m4f",
    ):
        assert status[stage] == "passed"
    assert manifest["projects"][0]["artefact"] == "tflite_int8"  # TFLM project, int32 input


@pytest.mark.parametrize("quant, tolerance", [("float32", 1e-5), ("int8w", 2e-3)])
def test_native_c_takes_token_ids(tmp_path: Path, quant: str, tolerance: float) -> None:
    from edge_rnn.native import generate
    from edge_rnn.native.host import run_host

    model = _classifier(train=False)
    x, _ = _tokens(20)
    x[0, 3] = VOCAB + 5  # outside the vocabulary: a zero vector, as documented
    generated = generate(load_model_ir(model), tmp_path / quant, quant=quant)
    header = (tmp_path / quant / "sentiment.h").read_text()
    assert "const int32_t *x_raw" in header
    out = run_host(generated, x[..., np.newaxis].astype(np.int32))
    reference = model(np.where(x < VOCAB, x, 0)).numpy()
    np.testing.assert_allclose(out[1:], reference[1:], atol=tolerance)
    assert not np.allclose(out[0], reference[0], atol=1e-7)  # not an id-0 lookup


def test_native_int8_embedding_is_bit_exact_with_the_twin(tmp_path: Path) -> None:
    from edge_rnn.native import generate
    from edge_rnn.native.generate import embed_tokens, prepare, split_embedding
    from edge_rnn.native.host import compile_host, run_binary
    from edge_rnn.native.quantize import embedding_rows
    from edge_rnn.native.twin_int import int_forward, lookup

    model = _classifier()
    x, _ = _tokens(40)
    x[0, 3], x[1, 5] = VOCAB + 5, -1  # outside the vocabulary: zero vectors
    ids = x[..., np.newaxis].astype(np.int32)
    model_ir = load_model_ir(model)
    generated = generate(model_ir, tmp_path / "q", quant="int8", calibration_x=ids)
    header = (tmp_path / "q" / "sentiment.h").read_text()
    assert "const int32_t *x_raw" in header and "_run_q" not in header  # ids need no quantizing
    binary = compile_host(generated, tmp_path / "model")
    out = run_binary(binary, ids)
    reference = model(x[2:]).numpy()
    np.testing.assert_allclose(out.values[2:], reference, atol=0.03)
    rest, embedding = split_embedding(model_ir)
    assert embedding is not None
    table_max = float(np.abs(embedding.embeddings).max())
    _, plan = prepare(rest, "int8", embed_tokens(embedding, ids), table_max)
    assert plan is not None
    xq = lookup(*embedding_rows(embedding.embeddings, plan.q_in), ids)
    np.testing.assert_array_equal(out.raw, int_forward(plan, xq).reshape(out.raw.shape))
    np.testing.assert_array_equal(run_binary(binary, ids, mode="step").raw, out.raw)
