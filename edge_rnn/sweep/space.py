"""The search space of `[sweep.space]`: what Optuna samples and how a sample becomes a build.

A list is a categorical choice; a table `{low, high, log}` is a range (int when both ends are
ints). A key left out keeps the build config's value. `units` is sampled per layer
(`units_0`, `units_1`, ...) from the same choices; `artefact` is "backend:quantization"
(`native:int8`, `native:int8w`, `native:float32`, `tflite:int8`, ...): the one artefact a trial
builds, validates and measures.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from edge_rnn.config import NATIVE_QUANTIZATIONS
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.routes import TFLITE_QUANTIZATIONS

# key -> (kind the values must have, where the value goes in the build config)
PARAMS: dict[str, tuple[type, tuple[str, str] | None]] = {
    "cell": (str, ("model", "cell")),
    "layers": (int, None),
    "units": (int, None),
    "bidirectional": (bool, ("model", "bidirectional")),
    "dropout": (float, ("model", "dropout")),
    "timesteps": (int, ("data", "timesteps")),
    "learning_rate": (float, ("train", "learning_rate")),
    "batch_size": (int, ("train", "batch_size")),
    "epochs": (int, ("train", "epochs")),
    "artefact": (str, None),
}
BACKENDS = {"native": NATIVE_QUANTIZATIONS, "tflite": TFLITE_QUANTIZATIONS}
CELLS = ("lstm", "gru", "simple_rnn")


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool
    integer: bool


Dimension = Choice | Range


def artefact_name(spec: str) -> str:
    """'native:int8' -> 'native_int8' (the manifest name)."""
    return spec.replace(":", "_")


def _check_value(key: str, value: Any, where: str) -> None:
    kind = PARAMS[key][0]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise EdgeRnnError(f"{where}: {value!r} is not a {kind.__name__}")
    if key == "cell" and value not in CELLS:
        raise EdgeRnnError(f"{where}: unknown cell '{value}'; choose from {', '.join(CELLS)}")
    if key == "artefact":
        backend, _, quant = value.partition(":")
        if quant not in BACKENDS.get(backend, ()):
            choices = [f"{b}:{q}" for b, qs in BACKENDS.items() for q in qs]
            raise EdgeRnnError(f"{where}: unknown artefact '{value}'; use {', '.join(choices)}")
    if kind in (int, float) and value <= 0 and key not in ("dropout",):
        raise EdgeRnnError(f"{where}: {key} must be positive, got {value!r}")


def parse_space(table: Any, source: str) -> dict[str, Dimension]:
    if not isinstance(table, dict):
        raise EdgeRnnError(f"{source}: [sweep.space] must be a table")
    unknown = sorted(set(table) - set(PARAMS))
    if unknown:
        raise EdgeRnnError(
            f"{source}: unknown key(s) {', '.join(unknown)} in [sweep.space]; "
            f"known keys: {', '.join(PARAMS)}"
        )
    space: dict[str, Dimension] = {}
    for key, value in table.items():
        where = f"{source}: sweep.space.{key}"
        if isinstance(value, list):
            if not value:
                raise EdgeRnnError(f"{where} must list at least one value")
            for item in value:
                _check_value(key, item, where)
            space[key] = Choice(tuple(value))
        elif isinstance(value, dict) and {"low", "high"} <= set(value) <= {"low", "high", "log"}:
            low, high = value["low"], value["high"]
            _check_value(key, low, where)
            _check_value(key, high, where)
            if PARAMS[key][0] not in (int, float) or low >= high:
                raise EdgeRnnError(f"{where}: a range needs numbers with low < high")
            integer = PARAMS[key][0] is int
            space[key] = Range(low, high, bool(value.get("log", False)), integer)
        else:
            raise EdgeRnnError(f"{where} must be a list of choices or a table {{low, high, log}}")
    return space


def _suggest(trial: Any, name: str, dim: Dimension) -> Any:
    if isinstance(dim, Choice):
        return trial.suggest_categorical(name, list(dim.values))
    if dim.integer:
        return trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
    return trial.suggest_float(name, dim.low, dim.high, log=dim.log)


def suggest(trial: Any, space: dict[str, Dimension]) -> dict[str, Any]:
    """One sample (define-by-run: units_1 exists only when layers >= 2)."""
    params = {k: _suggest(trial, k, d) for k, d in space.items() if k not in ("units", "layers")}
    layers = _suggest(trial, "layers", space["layers"]) if "layers" in space else None
    if layers is not None:
        params["layers"] = layers
    if "units" in space:
        count = layers or 1
        params["units"] = [_suggest(trial, f"units_{i}", space["units"]) for i in range(count)]
    return params


def with_params(base: dict[str, Any], params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The base build config (TOML data) with the sampled values and the trial's seed."""
    data = copy.deepcopy(base)
    data["seed"] = seed
    for key, value in params.items():
        place = PARAMS[key][1]
        if place:
            data.setdefault(place[0], {})[place[1]] = value
    model = data.setdefault("model", {})
    if "units" in params:
        model["units"] = list(params["units"])
    elif "layers" in params:  # same width, more or fewer layers
        width = list(model.get("units", [16]))[0]
        model["units"] = [width] * params["layers"]
    return data


def trial_build(base: dict[str, Any], params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The build config of one trial: only the trial's artefact converted/generated, no
    TFLite Micro projects, validation run by the trial itself."""
    data = with_params(base, params, seed)
    backend, _, quant = params["artefact"].partition(":")
    data["convert"] = {**data.get("convert", {}), "tflite": [], "onnx": []}
    data["native"] = {"quant": []}
    if backend == "tflite":
        data["convert"]["tflite"] = [quant]
    else:
        data["native"]["quant"] = [quant]
    data["tflm"] = {"projects": [], "quantizations": []}
    data["validate"] = {**data.get("validate", {}), "enabled": False}
    return data


def rebuild_build(
    base: dict[str, Any], params: dict[str, Any], seed: int, model: str | None
) -> dict[str, Any]:
    """The build config rebuilding a trial: every artefact the base config asks for plus the
    trial's, validation on; `model` (the trial's trained .keras) replaces training when given,
    so the rebuild answers exactly like the trial that was measured."""
    data = with_params(base, params, seed)
    backend, _, quant = params["artefact"].partition(":")
    section, key = ("convert", "tflite") if backend == "tflite" else ("native", "quant")
    table = data.setdefault(section, {})
    defaults = TFLITE_QUANTIZATIONS if backend == "tflite" else NATIVE_QUANTIZATIONS
    chosen = list(table.get(key, defaults))
    table[key] = chosen if quant in chosen else [*chosen, quant]
    if model:
        data["model"]["path"] = model
    data["validate"] = {**data.get("validate", {}), "enabled": True}
    return data
