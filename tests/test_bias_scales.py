"""Every integer FULLY_CONNECTED bias has the scale its kernel assumes (input x weight scale).

TF 2.21's int16x8 quantizer shares one int64 bias between the unrolled steps of a recurrent
layer although each step's state has its own scale; edge_rnn.export.bias_scales requantizes
it per op (a 100-step GRU(64): rel_l2 0.23 -> 0.003). A tiny unrolled GRU shows the sharing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_int16x8_gru_biases_match_their_input_scale(tmp_path: Path) -> None:
    import keras

    from edge_rnn.export.bias_scales import rescale_shared_biases
    from edge_rnn.export.tflite import convert_tflite
    from edge_rnn.validate.localize import open_interpreter

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((12, 2)), keras.layers.GRU(8, name="rnn"), keras.layers.Dense(2)],
        name="tiny",
    )
    rng = np.random.default_rng(0)
    gru = model.get_layer("rnn")
    kernel, recurrent, bias = gru.get_weights()
    gru.set_weights([kernel, recurrent, rng.normal(size=bias.shape)])  # Keras starts at zero
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "cal.npz", x=rng.normal(size=(32, 12, 2)).astype(np.float32))
    out = tmp_path / "tiny_int16x8.tflite"
    result = convert_tflite(
        tmp_path / "model.keras", "int16x8", out, calibration=tmp_path / "cal.npz"
    )
    assert any("bias(es) requantized" in note for note in result.notes)
    interpreter = open_interpreter(out)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    checked = 0
    for op in interpreter._get_ops_details():
        if op["op_name"] != "FULLY_CONNECTED" or len(op["inputs"]) < 3 or op["inputs"][2] < 0:
            continue
        source, weights, bias = (details[i]["quantization_parameters"] for i in op["inputs"][:3])
        want = source["scales"][0] * np.asarray(weights["scales"], np.float64)
        np.testing.assert_allclose(bias["scales"], want, rtol=1e-6)
        checked += 1
    assert checked >= 11  # the recurrent products of steps 1..11 and more
    assert rescale_shared_biases(out.read_bytes())[1] == 0
