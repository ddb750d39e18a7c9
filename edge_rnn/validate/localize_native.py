"""Where a failing native C stage's error appears: the TFLite localizer's findings for the
interpreter-free backend.

The generated C keeps no intermediate tensors, but its numpy twins compute the same values:
`twin_int` is the int8 C code bit for bit, `twin` the float32/int8w C code. Both report the
same quantities under the same keys, in the same order: the model input; per recurrent layer
and time step (its processing order) the step's input x, the gates, the cell state c and its
activation, the hidden state h; per other layer its pre-activation and output. The quantized
run (int8: the integer twin, every value dequantized from its Q format; int8w: the float twin
with the int8 rows times their scales) is compared with the float twin of the unquantized
model on the stage's worst windows; `localize.find_origin` then names the layer, step and
tensor as for TFLite. An int16 value in Q q holds [-2^15, 2^15 - 1] / 2^q: the C code clamps
a value beyond that (requantization and state updates; for Q11 pre-activations these are the
ends of the activation tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from edge_rnn.cells import CELLS
from edge_rnn.native.generate import NativePlan, embed_tokens
from edge_rnn.native.lower import BidirectionalStage, RecurrentStage, Stage
from edge_rnn.validate.localize import Accumulator, TensorError

QUANTITIES = {
    "x": "step input",
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate",
    "o": "output gate",
    "z": "update gate",
    "r": "reset gate",
    "c": "cell state",
    "a": "activation of the cell state",
    "h": "hidden state",
    "out": "pre-activation",
    "y": "output",
    "m": "merged directions",
}
STATES = ("c", "h")  # carried from one step to the next
DIRECTIONS = ("forward", "backward")  # as the TFLite export twin names them


@dataclass
class Trace:
    """What a twin reports, in order: (key, values, Q format or None for float values)."""

    records: list[tuple[str, np.ndarray, int | None]] = field(default_factory=list)

    def __call__(self, key: str, value: np.ndarray, q: int | None = None) -> None:
        self.records.append((key, np.array(value), q))


def _places(stages: tuple[Stage, ...]) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """Key prefix ("2", or "2.1" for a cell) -> (layer name, what computes it); the cells
    that run backwards in time."""
    places, backwards = {"input": ("input", "input")}, set()
    for index, stage in enumerate(stages):
        places[str(index)] = (stage.name, type(stage).__name__.removesuffix("Stage"))
        if isinstance(stage, (RecurrentStage, BidirectionalStage)):
            for d, cell in enumerate(stage.cells):
                bidir = isinstance(stage, BidirectionalStage)
                layer = f"{stage.name}/{DIRECTIONS[d]}" if bidir else stage.name
                places[f"{index}.{d}"] = (layer, f"{CELLS[cell.layer.cell].keras_class} step")
                if cell.layer.go_backwards:
                    backwards.add(f"{index}.{d}")
    return places, backwards


def _compare(reference: np.ndarray, quantized: np.ndarray, q: int | None) -> Accumulator:
    """A quantity over the windows: int16 values in Q q (dequantized), or float values."""
    if q is None:
        acc = Accumulator(None, np.dtype(np.float32))
    else:
        acc = Accumulator((2.0**-q, 0), np.dtype(np.int16))
    acc.add(quantized, reference)
    return acc


def trace_errors(
    stages: tuple[Stage, ...], reference: Trace, quantized: Trace
) -> list[TensorError]:
    """Every reported quantity of `quantized` against `reference`, in execution order.

    A quantity's inputs (for how much error it adds): within a cell step, the step's earlier
    quantities and the previous step's states; a step input x, the previous layer's output at
    that step (or its whole output); other quantities, their layer's earlier ones and input."""
    keys = [key for key, _, _ in reference.records]
    if keys != [key for key, _, _ in quantized.records]:
        raise RuntimeError("the float and quantized twins reported different quantities")
    places, backwards = _places(stages)
    rel: list[float] = []
    errors: list[TensorError] = []
    feed: list[int] = []  # the current layer's input: the previous layer's output records
    made: list[int] = []  # the current layer's output records so far
    layer_records: list[int] = []
    step_of: dict[str, int] = {}  # cell -> its current step
    this_step: dict[str, list[int]] = {}  # cell -> its records at the current step
    last_states: dict[str, list[int]] = {}  # cell -> its state records at the previous step
    current = "input"
    pairs = zip(reference.records, quantized.records, strict=True)
    for index, ((key, want, _), (_, got, q)) in enumerate(pairs):
        stage = key.split(".")[0]
        if stage != current:  # a new layer: what the previous one made is its input
            current, feed, made, layer_records = stage, made, [], []
        cell, _, quantity = key.rpartition(".")
        step = None
        if cell in places and cell != stage:  # a cell quantity at one step
            if quantity == "x":
                step_of[cell] = step_of.get(cell, -1) + 1
                held = this_step.get(cell, [])
                last_states[cell] = [i for i in held if keys[i].rpartition(".")[2] in STATES]
                this_step[cell] = []
            step = step_of[cell]
            if quantity != "x":
                inputs = this_step[cell] + last_states[cell]
            elif len(feed) > 1:  # one output per step: the one at this step's time
                inputs = [feed[len(feed) - 1 - step if cell in backwards else step]]
            else:
                inputs = feed
            this_step[cell].append(index)
        else:
            inputs = layer_records + feed
        layer, op = places[cell if step is not None else stage]
        acc = _compare(want, got, q)
        rel.append(acc.rel_l2())
        name = key if key == "input" else f"{layer}/{quantity} ({QUANTITIES[quantity]})"
        introduced = rel[-1] - max((rel[i] for i in inputs), default=0.0)
        errors.append(acc.error(name, op, layer, step, introduced, quantity in STATES))
        layer_records.append(index)
        if quantity in ("y", "m", "input"):
            made = [index]
        elif quantity == "h" and isinstance(stages[int(stage)], RecurrentStage):
            made = (made if stages[int(stage)].seq_out else []) + [index]
    return errors


def native_errors(
    planned: NativePlan, quant: str, x_raw: np.ndarray
) -> tuple[list[TensorError], np.ndarray, np.ndarray]:
    """(errors, quantized twin outputs, float twin outputs) on raw windows (token ids for a
    model with an Embedding) for the native `quant` (int8 or int8w) code of `planned`."""
    from edge_rnn.native.quantize import embedding_rows, int8w_stages, int8w_values
    from edge_rnn.native.twin import float_forward
    from edge_rnn.native.twin_int import int_forward, lookup, quantize_input

    embedding, norm = planned.embedding, planned.model.normalization
    if embedding is not None:
        x = embed_tokens(embedding, x_raw)
    else:
        x = norm.apply(x_raw) if norm else np.asarray(x_raw, np.float32)
    # the C code skips a step whose normalized features all equal the mask value
    keep = None if planned.mask is None else ~np.all(x == np.float32(planned.mask), axis=2)
    reference, quantized = Trace(), Trace()
    expected = float_forward(planned.stages, x, reference, keep)
    if quant == "int8":
        plan = planned.plan
        assert plan is not None
        if embedding is not None:
            xq = lookup(*embedding_rows(embedding.embeddings, plan.q_in), x_raw)
        else:
            xq = quantize_input(x, plan.q_in)
        got = int_forward(plan, xq, keep, quantized) * 2.0**-plan.q_out
    else:
        if embedding is not None:
            table = int8w_values(np.asarray(embedding.embeddings, np.float32))
            x = embed_tokens(replace(embedding, embeddings=table), x_raw)
        got = float_forward(int8w_stages(planned.stages), x, quantized, keep)
    return trace_errors(planned.stages, reference, quantized), got, expected
