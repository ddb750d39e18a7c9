"""Keras 3 model builder: stacked (optionally bidirectional) RNN layers and a Dense head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_rnn.choices import CELL_TYPES, HEADS, MERGE_MODES, TASKS
from edge_rnn.codegen.names import c_identifier
from edge_rnn.errors import EdgeRnnError

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class ModelSpec:
    """The network to train.

    head "last": Dense on the last RNN state (one output per sample);
    head "sequence": the last RNN layer returns sequences, Dense runs on every time step.
    pool: an AveragePooling1D front averaging every `pool` input steps (1: none); None lets
    `train` choose (the small-data recipe pools long windows, see README "Training").
    """

    cell: str
    units: tuple[int, ...]
    bidirectional: bool = False
    merge_mode: str = "concat"
    head: str = "last"
    dropout: float = 0.0
    pool: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(self.units))  # accept a list from a config
        if self.cell not in CELL_TYPES:
            raise EdgeRnnError(f"unknown cell '{self.cell}': use one of {', '.join(CELL_TYPES)}")
        if not self.units or any(int(u) != u or u < 1 for u in self.units):
            raise EdgeRnnError(
                f"units must be one or more positive integers (e.g. 16 or 16,16), got {self.units}"
            )
        if self.merge_mode not in MERGE_MODES:
            raise EdgeRnnError(
                f"unknown merge mode '{self.merge_mode}': use one of {', '.join(MERGE_MODES)}"
            )
        if self.head not in HEADS:
            raise EdgeRnnError(f"unknown head '{self.head}': use one of {', '.join(HEADS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise EdgeRnnError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pool is not None and (int(self.pool) != self.pool or self.pool < 1):
            raise EdgeRnnError(f"pool must be a positive integer (1: no pooling), got {self.pool}")
        if (self.pool or 1) > 1 and self.head == "sequence":
            raise EdgeRnnError("pool > 1 shortens the sequence: head 'sequence' needs pool 1")


def head_for(sequence_output: bool, head: str | None = None) -> str:
    """The head asked for, or the one the labels need: per-step labels -> "sequence"."""
    return head or ("sequence" if sequence_output else "last")


def model_name(dataset_name: str, cell: str) -> str:
    return c_identifier(f"{dataset_name}_{cell}")


def build_model(
    spec: ModelSpec,
    timesteps: int,
    features: int,
    num_outputs: int,
    task: str,
    *,
    name: str = "model",
) -> keras.Model:
    """Layers are named `pool` (if any), `<cell>_<i>` (wrapped in `bidirectional_<i>`), `head`."""
    import keras

    if task not in TASKS:
        raise EdgeRnnError(f"unknown task '{task}': use one of {', '.join(TASKS)}")
    layer_class = {
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
        "simple_rnn": keras.layers.SimpleRNN,
    }[spec.cell]
    inputs = keras.Input((timesteps, features), name="input")
    x = inputs
    pool = spec.pool or 1
    if pool > timesteps:
        raise EdgeRnnError(f"pool {pool} is longer than the {timesteps}-step window")
    if pool > 1:
        x = keras.layers.AveragePooling1D(pool, name="pool")(x)
    for i, units in enumerate(spec.units, start=1):
        sequences = i < len(spec.units) or spec.head == "sequence"
        layer = layer_class(
            units, return_sequences=sequences, dropout=spec.dropout, name=f"{spec.cell}_{i}"
        )
        if spec.bidirectional:
            layer = keras.layers.Bidirectional(
                layer, merge_mode=spec.merge_mode, name=f"bidirectional_{i}"
            )
        x = layer(x)
    activation = "softmax" if task == "classification" else "linear"
    outputs = keras.layers.Dense(num_outputs, activation=activation, name="head")(x)
    return keras.Model(inputs, outputs, name=c_identifier(name))
