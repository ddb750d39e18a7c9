"""Pass/fail thresholds: one default table per quantization, overridable per stage and metric.

Override selectors, least to most specific (a more specific one wins; at equal specificity
the later one wins, so CLI overrides beat the TOML file):
  "*"  <  format ("onnx") or quantization ("int8")  <  format:quantization ("onnx:int8")
       <  runner ("tflm")
       <  artefact ("tflite_int8")  <  stage ("tflite_int8/tflm")
TOML: `[validate.thresholds.<selector>]  metric = value`; CLI: `--threshold SELECTOR.METRIC=VALUE`.
The value "none" removes a threshold.

Top-1 agreement is judged on real flips only (README "Validation"): a flip where the float
model's top two outputs differ by less than `near_tie_margin` (a setting in the same table) is
a near tie, reported but not counted. A stage may have floor((1 - threshold) x predictions) real
flips, and at least one when its error metrics pass: on 40 windows a 0.98 threshold would
otherwise demand perfection, and one flip says little next to a low rel_l2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_rnn.errors import EdgeRnnError

# "max": the metric must be <= the threshold; "min": it must be >= the threshold.
DIRECTION = {
    "max_abs": "max",
    "rmse": "max",
    "rel_l2": "max",
    "cosine": "min",
    "sqnr_db": "min",
    "top1_agreement": "min",
    "accuracy": "min",
    "accuracy_drop": "max",
    "label_rmse": "max",
    "lsb_max": "max",
    "near_tie_margin": "setting",  # not a pass/fail metric: where near ties end
}

# Near-tie margins: about the output error each kind of artefact shows on a softmax (int8
# outputs step by 1/256; measured max_abs 0.05-0.09 on the gesture LSTM), so a flip inside the
# margin is one that rounding of that size can cause.
_INT8 = {
    "rel_l2": 0.1,
    "cosine": 0.99,
    "sqnr_db": 20.0,
    "top1_agreement": 0.95,
    "near_tie_margin": 0.05,
}
# int8 weights, float arithmetic: rel_l2 stays small, but a softmax output can move by several
# hundredths (measured max_abs 0.049, rel_l2 6e-3 for native int8w on the gesture LSTM).
_FLOAT_WEIGHTS_INT8 = {
    "max_abs": 0.1,
    "rel_l2": 0.05,
    "cosine": 0.999,
    "top1_agreement": 0.97,
    "near_tie_margin": 0.05,
}

# Defaults per quantization (tflite: float32 float16 dynamic int8 int16x8; onnx: float32
# int8; native: float32 int8w int8). lsb_max compares integer outputs with the integer
# reference of the same artefact (TFLM vs LiteRT): their LSTM kernels differ, measured
# <= 3 LSB on LSTM (34-56 on BiLSTM was LiteRT misreading h, fixed by
# edge_rnn.export.lstm_hidden_scale: 1 LSB on tests/test_lstm_hidden_scale.py; 10 on a
# BiLSTM/BiGRU/BiSimpleRNN stack), hence the loose int8 value.
DEFAULTS: dict[str, dict[str, float]] = {
    "float32": {
        "max_abs": 1e-4,
        "rel_l2": 1e-4,
        "cosine": 0.99999,
        "top1_agreement": 0.999,
        "near_tie_margin": 1e-3,
    },
    "float16": {
        "max_abs": 1e-2,
        "rel_l2": 1e-2,
        "cosine": 0.9999,
        "top1_agreement": 0.99,
        "near_tie_margin": 0.02,
    },
    "dynamic": dict(_FLOAT_WEIGHTS_INT8),
    # A LayerNormalization after int8-weight cells divides their rounding by a small std:
    # measured max_abs 0.113, cosine 0.99893 on the LSTM-LayerNorm-GRU softmax of
    # tests/test_layer_norm.py (native int8 shows the same error and passes its defaults).
    "int8w": {**_FLOAT_WEIGHTS_INT8, "max_abs": 0.15, "cosine": 0.998},
    # onnxruntime dynamic int8 also quantizes activations (per tensor, at run time), so its
    # error is of the full-int8 kind (measured max_abs 0.09 on the gesture LSTM softmax).
    "onnx:int8": dict(_INT8),
    "int8": {**_INT8, "lsb_max": 64.0},
    "int16x8": {
        "rel_l2": 0.02,
        "cosine": 0.999,
        "sqnr_db": 30.0,
        "top1_agreement": 0.98,
        "lsb_max": 1024.0,
        "near_tie_margin": 0.02,
    },
}
FALLBACK = "int8"  # for a quantization this table does not know


@dataclass(frozen=True)
class Override:
    selector: str
    metric: str
    value: float | None  # None removes the threshold
    source: str


@dataclass(frozen=True)
class StageKey:
    stage: str
    artefact: str
    runner: str
    format: str
    quantization: str

    def specificity(self, selector: str) -> int | None:
        """How specifically `selector` names this stage, or None when it does not."""
        levels = {
            "*": 0,
            self.format: 1,
            self.quantization: 1,
            f"{self.format}:{self.quantization}": 2,
            self.runner: 3,
            self.artefact: 4,
            self.stage: 5,
        }
        return levels.get(selector)


def _value(raw: Any, where: str) -> float | None:
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise EdgeRnnError(f"{where}: threshold '{raw}' is not a number (or 'none')") from None
    if math.isnan(value):
        raise EdgeRnnError(f"{where}: threshold is NaN")
    return value


def _metric(name: str, where: str) -> str:
    if name not in DIRECTION:
        raise EdgeRnnError(
            f"{where}: unknown metric '{name}': choose from {', '.join(sorted(DIRECTION))}"
        )
    return name


def parse_cli(specs: Iterable[str]) -> list[Override]:
    """`SELECTOR.METRIC=VALUE` strings (the selector may itself contain dots)."""
    overrides = []
    for spec in specs:
        where = f"--threshold {spec}"
        target, sep, raw = spec.partition("=")
        selector, dot, metric = target.strip().rpartition(".")
        if not sep or not dot or not selector:
            raise EdgeRnnError(f"{where}: expected SELECTOR.METRIC=VALUE, e.g. '*.rel_l2=0.05'")
        overrides.append(Override(selector, _metric(metric, where), _value(raw, where), where))
    return overrides


def from_table(table: Mapping[str, Any], source: str) -> list[Override]:
    """The `[validate.thresholds]` table of a config: {selector: {metric: value}}."""
    overrides = []
    for selector in sorted(table):
        metrics = table[selector]
        where = f"{source} [validate.thresholds.{selector}]"
        if not isinstance(metrics, Mapping):
            raise EdgeRnnError(f"{where}: expected a table of metric = value")
        for metric in sorted(metrics):
            value = _value(metrics[metric], f"{where} {metric}")
            overrides.append(Override(selector, _metric(metric, where), value, where))
    return overrides


def load_toml(path: str | Path) -> list[Override]:
    """Overrides from `[validate.thresholds]` of a TOML config (none when the table is absent)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgeRnnError(f"config '{path}' not found") from None
    except tomllib.TOMLDecodeError as err:
        raise EdgeRnnError(f"config '{path}' is not valid TOML: {err}") from None
    return from_table(config.get("validate", {}).get("thresholds", {}), str(path))


def thresholds_for(key: StageKey, overrides: Iterable[Override] = ()) -> dict[str, float]:
    """Defaults for the stage's quantization, then matching overrides by specificity."""
    table = DEFAULTS.get(f"{key.format}:{key.quantization}") or DEFAULTS.get(
        key.quantization, DEFAULTS[FALLBACK]
    )
    result: dict[str, float | None] = dict(table)
    matching = [(key.specificity(o.selector), i, o) for i, o in enumerate(overrides)]
    for _, _, override in sorted((m for m in matching if m[0] is not None), key=lambda m: m[:2]):
        result[override.metric] = override.value
    return {m: v for m, v in sorted(result.items()) if v is not None}


def unused(overrides: Iterable[Override], keys: Iterable[StageKey]) -> list[Override]:
    """Overrides whose selector names no stage (most likely a typo): reported, not fatal."""
    keys = list(keys)
    return [o for o in overrides if all(k.specificity(o.selector) is None for k in keys)]


def check(metrics: Mapping[str, float], thresholds: Mapping[str, float]) -> list[str]:
    """Failure messages; a threshold on a metric this stage does not have is not applied."""
    failures = []
    for metric, limit in sorted(thresholds.items()):
        if metric not in metrics or DIRECTION[metric] == "setting" or metric == "top1_agreement":
            continue
        value = metrics[metric]
        if DIRECTION[metric] == "max":
            ok = value <= limit
            sign = ">"
        else:
            ok = value >= limit
            sign = "<"
        if not ok:  # NaN fails both ways
            failures.append(f"{metric} {value:.6g} {sign} {limit:.6g}")
    if "top1_agreement" in thresholds and "top1_agreement" in metrics:
        failures += _check_top1(metrics, thresholds["top1_agreement"], errors_pass=not failures)
    return failures


def allowed_flips(limit: float, predictions: int, errors_pass: bool) -> int:
    """Real flips a top-1 threshold allows on this many predictions."""
    allowed = math.floor((1.0 - limit) * predictions + 1e-9)
    return max(allowed, 1) if errors_pass else allowed


def _check_top1(metrics: Mapping[str, float], limit: float, errors_pass: bool) -> list[str]:
    if "top1_real_flips" not in metrics:  # metrics computed without the flip split
        value = metrics["top1_agreement"]
        return [] if value >= limit else [f"top1_agreement {value:.6g} < {limit:.6g}"]
    real, predictions = int(metrics["top1_real_flips"]), int(metrics["top1_predictions"])
    allowed = allowed_flips(limit, predictions, errors_pass)
    if real <= allowed:
        return []
    near = int(metrics.get("top1_near_tie_flips", 0))
    return [
        f"top1_agreement {1 - real / predictions:.6g} < {limit:.6g}: {real} real flip(s) in "
        f"{predictions} predictions, {allowed} allowed"
        + (f" ({near} near-tie flip(s) not counted)" if near else "")
    ]


def flip_note(metrics: Mapping[str, float], thresholds: Mapping[str, float]) -> str:
    """What the top-1 verdict did with flips, for the stage's notes ('' when none flipped)."""
    near, real = int(metrics.get("top1_near_tie_flips", 0)), int(metrics.get("top1_real_flips", 0))
    if not near and not real:
        return ""
    margin = thresholds.get("near_tie_margin", 0.0)
    low, high = metrics["top1_ci_low"], metrics["top1_ci_high"]
    return (
        f"top-1 flips: {real} real, {near} near tie(s) (float top-2 margin < {margin:g}, not "
        f"counted); agreement without near ties {1 - real / metrics['top1_predictions']:.4f}, "
        f"95 % interval {low:.3f}-{high:.3f}"
    )
