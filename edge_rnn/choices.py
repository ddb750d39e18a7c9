"""Every name list the tool accepts, each defined once here (config keys, CLI choices, API
checks import them). No heavy imports: `edge-rnn --help` offers these as choices."""

from __future__ import annotations

CELL_TYPES = ("simple_rnn", "lstm", "gru")
MERGE_MODES = ("concat", "sum", "ave", "mul")
TASKS = ("classification", "regression")
HEADS = ("last", "sequence")
LR_SCHEDULES = ("auto", "plateau", "cosine", "constant")  # auto: cosine for the small-data recipe
CLASS_WEIGHTS = ("auto", "balanced", "none")
SMALL_DATA_MODES = ("auto", "on", "off")  # the small-data recipe (see README "Training")

TFLITE_QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int16x8")
ONNX_QUANTIZATIONS = ("float32", "int8")
ROUTE_CHOICES = ("auto", "fused", "unrolled")
NATIVE_QUANTIZATIONS = ("float32", "int8w", "int8")
# native int8 cell weights: int16 (speed) or int8 (size); auto chooses per target
NATIVE_LAYOUTS = ("auto", "speed", "size")
TFLM_QUANTIZATIONS = ("float32", "int8", "int16x8")  # the TFLite quantizations TFLM runs
TFLM_ECOSYSTEMS = ("cmake", "arduino", "zephyr", "esp-idf")  # TFLM project layouts
