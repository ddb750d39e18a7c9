"""Keras model (file or object) -> typed IR, with one check pass that lists every problem.

Accepts Keras 3 `.keras` files, legacy `.h5` files and in-memory `keras.Model` objects whose
layers form one chain around at least one recurrent layer (Dropout-like layers are inference
no-ops and are dropped; an `Activation` layer folds into a linear Dense/Conv1D before it; the
other layers are converted in `edge_rnn.frontends.keras_layers`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn import ir
from edge_rnn.cells import CELLS, KERAS_CELL_CLASSES
from edge_rnn.codegen.names import c_identifier
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends import keras_layers
from edge_rnn.frontends.keras_layers import Check as _Check
from edge_rnn.frontends.keras_layers import activation_name as _activation_name

# Layers that do nothing at inference time.
INFERENCE_NO_OPS = {
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "InputLayer",
}
SUPPORTED = (
    "Embedding (first), SimpleRNN, LSTM, GRU, Bidirectional(SimpleRNN/LSTM/GRU), Dense, "
    "TimeDistributed(Dense), Conv1D, DepthwiseConv1D, SeparableConv1D, MaxPooling1D, "
    "AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D, ZeroPadding1D, Cropping1D, "
    "Normalization, Rescaling, BatchNormalization, Activation, ReLU, LeakyReLU, ELU, Softmax, "
    "Flatten, Reshape, LayerNormalization, Masking (first)"
)
RECURRENT = (ir.RecurrentLayer, ir.BidirectionalLayer)
ACTIVATION_CLASSES = ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax")


def load_keras_model(path: str | Path) -> Any:
    """Load a `.keras`/`.h5` file with Keras 3, turning every failure into one clear line."""
    path = Path(path)
    if path.suffix.lower() not in (".keras", ".h5"):
        raise EdgeRnnError(f"model '{path}': use a .keras or .h5 file")
    if not path.is_file():
        raise EdgeRnnError(f"model file '{path}' not found")
    problem = _container_problem(path)
    if problem:
        raise EdgeRnnError(
            f"model '{path}' cannot be loaded: {problem}; copy it again or re-save it with "
            "model.save('model.keras')"
        )
    import keras

    with tempfile.TemporaryDirectory(prefix="edge-rnn-h5-") as scratch:
        try:
            readable = _without_keras2_keys(path, Path(scratch)) if path.suffix == ".h5" else path
            return keras.models.load_model(readable, compile=False)
        except EdgeRnnError:
            raise
        except Exception as err:  # Keras raises many types for corrupt files
            foreign = _foreign_layers(path)
            if foreign:
                raise EdgeRnnError(
                    f"model '{path}' cannot be loaded: {'; '.join(foreign)}; edge-rnn converts "
                    f"built-in Keras layers only ({SUPPORTED}): replace it with those (e.g. "
                    "Rescaling for a constant scale and offset) and save the model again"
                ) from None
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise EdgeRnnError(
                f"model '{path}' cannot be loaded: {reason[:200]} "
                "(re-save it with model.save('model.keras'))"
            ) from None


# Recurrent-layer options of Keras 2 (tf.keras up to TF 2.15, tf-keras) that Keras 3 refuses
# in a legacy .h5 file, with the only value Keras 3 computes.
_KERAS2_ONLY = {"time_major": False}


def _without_keras2_keys(path: Path, scratch: Path) -> Path:
    """`path`, or a copy in `scratch` whose model config lacks the Keras 2 keys Keras 3 refuses
    (an LSTM/GRU saved by tf.keras carries time_major=False: "Unrecognized keyword arguments")."""
    import h5py

    with h5py.File(path, "r") as handle:
        config = handle.attrs.get("model_config")
    if config is None:
        return path
    text = config.decode() if isinstance(config, bytes) else str(config)
    found: list[tuple[str, Any]] = []
    cleaned = json.loads(text, object_hook=lambda obj: _drop_keys(obj, found))
    if not found:
        return path
    other = sorted({f"{key}={value}" for key, value in found if value != _KERAS2_ONLY[key]})
    if other:
        raise EdgeRnnError(
            f"model '{path}': {', '.join(other)} is not supported; "
            "rebuild the model for (batch, timesteps, features) inputs"
        )
    copy = scratch / path.name
    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as handle:
        handle.attrs["model_config"] = json.dumps(cleaned)
    return copy


def _drop_keys(obj: dict[str, Any], found: list[tuple[str, Any]]) -> dict[str, Any]:
    """`obj` without the Keras 2 keys, each appended to `found` with its value."""
    found.extend((key, obj.pop(key)) for key in sorted(_KERAS2_ONLY.keys() & obj.keys()))
    return obj


def _foreign_layers(path: Path) -> list[str]:
    """The layers of the saved model config that are Python code (Lambda) or custom classes,
    one phrase each; [] when there are none or the config cannot be read."""
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json").decode()
        else:
            import h5py

            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get("model_config")
            text = raw.decode() if isinstance(raw, bytes) else str(raw or "{}")
        config = json.loads(text)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            kind, inner = node.get("class_name"), node.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            if kind == "Lambda":
                found.append(f"layer '{name}' is a Lambda (Python code)")
            elif ">" in str(node.get("registered_name") or ""):  # e.g. "Custom>Scale"
                found.append(f"layer '{name}' is a custom class {kind}")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    return found


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _container_problem(path: Path) -> str:
    """Why the file cannot be a Keras model of its kind, or "" (Keras itself says "File not
    found" for a corrupt .keras archive)."""
    if path.suffix.lower() == ".keras":
        if not zipfile.is_zipfile(path):
            return "the file is empty, truncated or not a .keras (zip) archive"
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError) as err:
            return f"the .keras archive is damaged ({err})"
        if damaged:
            return f"the .keras archive is damaged (member {damaged} fails its checksum)"
        if "config.json" not in names:
            return "the zip archive has no config.json, so it is not a .keras model"
        return ""
    with open(path, "rb") as handle:
        if handle.read(len(_HDF5_SIGNATURE)) != _HDF5_SIGNATURE:
            return "the file is empty, truncated or not an HDF5 (.h5) file"
    return ""


def read_metadata_beside(model_path: str | Path) -> dict[str, Any] | None:
    """The `metadata.json` written by `edge-rnn train` next to the model, if any."""
    candidate = Path(model_path).with_name("metadata.json")
    if not candidate.is_file():
        return None
    try:
        return json.loads(candidate.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise EdgeRnnError(f"metadata file '{candidate}' is not valid JSON: {err}") from None


def load_model_ir(
    model: Any,
    metadata: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    timesteps: int | None = None,
) -> ir.Model:
    """Describe a Keras model (path or object) as an `ir.Model`.

    `metadata` (as in docs/architecture.md) supplies task, class names and normalization;
    for a path it defaults to the `metadata.json` beside the file. `timesteps` fixes the
    sequence length of a model built with a variable one.
    """
    source = "Keras model"
    if isinstance(model, (str, Path)):
        source = f"model '{model}'"
        if metadata is None:
            metadata = read_metadata_beside(model)
        model = load_keras_model(model)
    metadata = metadata or {}
    check = _Check(source)
    # A model built with a variable length takes the windows' length from its metadata.
    steps, features = _input_shape(model, check, timesteps, _metadata_steps(metadata))

    layers: list[ir.Layer] = []
    shape = (steps, features)
    for layer in _chain(model, check):
        kind = type(layer).__name__
        if kind in INFERENCE_NO_OPS:
            continue
        converted: ir.Layer | tuple[ir.Layer, ...] | None
        if kind in ACTIVATION_CLASSES:
            converted = _activation(layer, layers, shape[1], check)
        else:
            converted = _convert_layer(layer, *shape, check, first=not layers)
        if converted is None:
            continue
        if layers and converted is layers[-1]:  # folded into the layer before
            continue
        for part in converted if isinstance(converted, tuple) else (converted,):
            layers.append(part)
            shape = part.output_shape(shape[0])
    if not any(isinstance(layer, RECURRENT) for layer in layers) and not check.problems:
        check.add(model.name, f"the model has no recurrent layer; edge-rnn converts {SUPPORTED}")
    check.raise_if_any()

    task = metadata.get("task") or _guess_task(layers[-1])
    # Token ids are never normalized.
    norm = None if isinstance(layers[0], ir.EmbeddingLayer) else metadata.get("normalization")
    return ir.Model(
        name=c_identifier(name or metadata.get("name") or model.name),
        timesteps=steps,
        features=features,
        layers=tuple(layers),
        task=task,
        class_names=tuple(metadata.get("class_names") or ()),
        normalization=ir.Normalization(tuple(norm["mean"]), tuple(norm["scale"])) if norm else None,
    )


def _metadata_steps(metadata: dict[str, Any]) -> int | None:
    shape = metadata.get("input_shape")
    return int(shape[0]) if isinstance(shape, list) and shape else None


def _input_shape(
    model: Any, check: _Check, timesteps: int | None, fallback: int | None
) -> tuple[int, int]:
    shapes = model.input_shape
    if isinstance(shapes, list):
        check.add(
            model.name, f"{len(shapes)} inputs; edge-rnn needs one (timesteps, features) input"
        )
        check.raise_if_any()
    if len(shapes) == 2 and _first_layer_kind(model) == "Embedding":
        shapes = (*shapes, 1)  # one token id per time step
    elif len(shapes) != 3:
        check.add(
            model.name,
            f"input shape {shapes[1:]} is not (timesteps, features); a (timesteps,) input "
            "of token ids needs an Embedding as the first layer",
        )
        check.raise_if_any()
    _, steps, features = shapes
    steps = timesteps or steps or fallback
    if steps is None:
        check.add(
            model.name,
            "the sequence length is variable; microcontrollers need a fixed one: "
            "pass --timesteps N (or build the model with keras.Input((N, features)))",
        )
    if features is None:
        check.add(model.name, "the number of input features is not fixed")
        check.raise_if_any()
    return int(steps or 0), int(features)  # 0: reported above, raised after the layer pass


def flat_layers(model: Any) -> list[Any]:
    """The model's layers in order, with nested Sequential models (a preprocessing or a base
    model wrapped into another) expanded in place, without Input layers."""
    import keras

    layers: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Sequential):
            layers.extend(flat_layers(layer))
        elif type(layer).__name__ != "InputLayer":
            layers.append(layer)
    return layers


def _first_layer_kind(model: Any) -> str:
    kinds = [type(layer).__name__ for layer in flat_layers(model)]
    return next((kind for kind in kinds if kind not in INFERENCE_NO_OPS), "")


def normalizes_input(model: Any) -> bool:
    """The model's first computing layer is a per-feature affine (Normalization, Rescaling,
    BatchNormalization), which every artefact computes in float before its input quantization."""
    return _first_layer_kind(model) in keras_layers.AFFINE_CLASSES


def _chain(model: Any, check: _Check) -> list[Any]:
    """The model's layers in order, refusing graphs that branch or merge."""
    import keras

    if isinstance(model, keras.Sequential):
        return flat_layers(model)
    previous = model.inputs[0]
    for layer in [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]:
        try:
            linked = layer.input is previous
        except (AttributeError, ValueError):  # a layer used more than once
            linked = False
        if not linked:
            check.add(
                layer.name,
                f"{type(layer).__name__}: the model branches, merges or reuses a layer here; "
                f"edge-rnn needs one chain of layers ({SUPPORTED})",
            )
            break
        previous = layer.output
    return flat_layers(model)


def _weights(layer: Any) -> list[np.ndarray]:
    return [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]


def _recurrent(
    layer: Any, input_size: int, check: _Check, bidirectional: bool = False
) -> ir.RecurrentLayer | None:
    kind = type(layer).__name__
    cell = KERAS_CELL_CLASSES.get(kind)
    if cell is None:
        check.add(layer.name, f"{kind} is not supported inside Bidirectional; use {SUPPORTED}")
        return None
    config = layer.get_config()
    if config.get("stateful") and (bidirectional or config.get("go_backwards")):
        check.add(
            layer.name,
            "stateful=True on a backward or Bidirectional layer cannot stream; "
            "rebuild with stateful=False",
        )
    if config.get("return_state"):
        check.add(
            layer.name, "return_state=True is not supported; return sequences or the last state"
        )
    activation = _activation_name(layer, "activation", check, ir.CELL_ACTIVATIONS)
    spec = CELLS[cell]
    recurrent_activation = (
        _activation_name(layer, "recurrent_activation", check, ir.CELL_ACTIVATIONS)
        if spec.uses_recurrent_activation
        else "linear"
    )
    use_bias = bool(config.get("use_bias", True))
    weights = _weights(layer)
    return ir.RecurrentLayer(
        name=layer.name,
        cell=cell,
        units=int(config["units"]),
        input_size=input_size,
        activation=activation,
        recurrent_activation=recurrent_activation,
        use_bias=use_bias,
        return_sequences=bool(config.get("return_sequences", False)),
        go_backwards=bool(config.get("go_backwards", False)),
        reset_after=bool(config.get("reset_after", False)) if spec.has_reset_after else False,
        kernel=weights[0],
        recurrent_kernel=weights[1],
        bias=weights[2] if use_bias else None,
        stateful=bool(config.get("stateful", False)),
    )


def _dense(layer: Any, input_size: int, sequence: bool, check: _Check) -> ir.DenseLayer:
    config = layer.get_config()
    use_bias = bool(config.get("use_bias", True))
    weights = _weights(layer)
    return ir.DenseLayer(
        name=layer.name,
        units=int(config["units"]),
        input_size=input_size,
        use_bias=use_bias,
        per_timestep=sequence,
        kernel=weights[0],
        bias=weights[1] if use_bias else None,
        **keras_layers.activation(layer, check),
    )


def _embedding(layer: Any, first: bool, check: _Check) -> ir.EmbeddingLayer:
    config = layer.get_config()
    if not first:
        check.add(layer.name, "Embedding is supported only as the first layer (token id input)")
    if config.get("mask_zero"):
        check.add(layer.name, "mask_zero=True is not supported; pad with a Masking layer")
    table = _weights(layer)[0]
    return ir.EmbeddingLayer(layer.name, int(table.shape[0]), int(table.shape[1]), table)


def _layer_norm(layer: Any, size: int, check: _Check) -> ir.LayerNormLayer:
    config = layer.get_config()
    axis = config.get("axis", -1)
    if (axis if isinstance(axis, int) else tuple(axis)) not in (-1, 2, (-1,), (2,)):
        check.add(layer.name, f"axis={axis!r}: only the feature axis (-1) is supported")
    if config.get("rms_scaling"):
        check.add(layer.name, "rms_scaling=True is not supported")
    weights = iter(_weights(layer))
    gamma = next(weights) if config.get("scale", True) else None
    beta = next(weights) if config.get("center", True) else None
    return ir.LayerNormLayer(layer.name, size, float(config.get("epsilon", 1e-3)), gamma, beta)


def _convert_layer(
    layer: Any, steps: int, size: int, check: _Check, first: bool = False
) -> ir.Layer | tuple[ir.Layer, ...] | None:
    kind = type(layer).__name__
    sequence = steps > 0
    if kind in KERAS_CELL_CLASSES:
        if not sequence:
            check.add(
                layer.name,
                "a recurrent layer needs a sequence input; set "
                "return_sequences=True on the recurrent layer before it",
            )
        return _recurrent(layer, size, check)
    if kind == "Bidirectional":
        if not sequence:
            check.add(layer.name, "Bidirectional needs a sequence input")
        merge_mode = layer.get_config().get("merge_mode")
        if merge_mode not in ir.MERGE_MODES:
            check.add(
                layer.name,
                f"merge_mode={merge_mode!r} is not supported; use one of "
                f"{', '.join(ir.MERGE_MODES)}",
            )
        forward = _recurrent(layer.forward_layer, size, check, bidirectional=True)
        backward = _recurrent(layer.backward_layer, size, check, bidirectional=True)
        if forward is None or backward is None:
            return None
        return ir.BidirectionalLayer(
            layer.name, forward, backward, str(merge_mode), forward.return_sequences
        )
    if kind == "Embedding":
        return _embedding(layer, first, check)
    if kind == "Masking":
        if not first:
            check.add(layer.name, "Masking is supported only as the first layer")
        return ir.MaskingLayer(layer.name, size, float(layer.get_config()["mask_value"]))
    if kind == "LayerNormalization":
        return _layer_norm(layer, size, check)
    if kind == "Dense":
        return _dense(layer, size, sequence, check)
    if kind == "TimeDistributed" and type(layer.layer).__name__ == "Dense":
        return _dense(layer.layer, size, True, check)
    converter = _OTHER_LAYERS.get(kind)
    if converter is not None:
        return converter(layer, steps, size, check)
    cell = type(getattr(layer, "cell", None)).__name__
    if kind == "RNN" and cell in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
        check.add(
            layer.name,
            f"RNN({cell}) is not supported; the same layer as "
            f"keras.layers.{cell.removesuffix('Cell')}(...) with the same units and options "
            "takes its weights unchanged (new_layer.set_weights(rnn_layer.get_weights()))",
        )
        return None
    check.add(
        layer.name,
        f"{kind} is not supported; edge-rnn converts {SUPPORTED} "
        "(remove the layer or move that processing outside the model)",
    )
    return None


_OTHER_LAYERS = {
    "Conv1D": keras_layers.conv1d,
    "DepthwiseConv1D": keras_layers.depthwise_conv1d,
    "SeparableConv1D": keras_layers.separable_conv1d,
    "ZeroPadding1D": keras_layers.time_pad,
    "Cropping1D": keras_layers.time_pad,
    "Flatten": keras_layers.reshape,
    "Reshape": keras_layers.reshape,
    **{name: keras_layers.pooling for name in keras_layers.POOL_CLASSES},
    **{name: keras_layers.global_pooling for name in keras_layers.GLOBAL_POOL_CLASSES},
    **{name: keras_layers.affine for name in keras_layers.AFFINE_CLASSES},
}


def _activation(layer: Any, layers: list[ir.Layer], size: int, check: _Check) -> ir.Layer | None:
    """Keras `Activation` (or a `ReLU`/`LeakyReLU`/`Softmax` layer): folded into a linear
    Dense/Conv1D right before it (returned as that layer, replaced in `layers`), nothing when
    linear, else a layer of its own."""
    fields = _layer_activation(layer, check)
    previous = layers[-1] if layers else None
    if fields["activation"] == "linear":
        return None
    if ir.takes_activation(previous, fields["activation"]):
        layers[-1] = dataclasses.replace(previous, **fields)
        return layers[-1]
    return ir.ActivationLayer(layer.name, size, **fields)


def _layer_activation(layer: Any, check: _Check) -> dict[str, Any]:
    """The IR fields `activation` and `leaky` of an activation layer."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind in ("ReLU", "LeakyReLU"):
        slope = float(config.get("negative_slope") or 0.0)
        max_value = config.get("max_value")
        threshold = float(config.get("threshold") or 0.0)
        name, leaky = keras_layers.relu_family(slope, max_value, threshold)
        return {"activation": name, "leaky": leaky}
    if kind == "ELU":
        if config.get("alpha", 1.0) != 1.0:
            check.add(
                layer.name, f"ELU(alpha={config['alpha']!r}): only alpha=1 (activation 'elu')"
            )
        return {"activation": "elu", "leaky": None}
    if kind == "Softmax":
        if config.get("axis", -1) not in (-1, [-1], (-1,)):
            check.add(layer.name, f"Softmax(axis={config.get('axis')!r}): only the last axis")
        return {"activation": "softmax", "leaky": None}
    return keras_layers.activation(layer, check)


def _guess_task(last: ir.Layer) -> str:
    activation = getattr(last, "activation", None)
    if isinstance(last, (ir.DenseLayer, ir.ActivationLayer)) and activation in (
        "softmax",
        "sigmoid",
    ):
        return "classification"
    return "regression"
