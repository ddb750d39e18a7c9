"""Per-feature affine layers at the model input (Normalization, Rescaling, BatchNormalization
first in the chain) folded into the input normalization (x - mean) / scale.

Every artefact then computes them in float32 before its own input quantization: kept in a
float16 or int16x8 graph, an affine that removes a large raw offset (Rescaling(0.2, -20) on
values near 100) loses the precision that the subtraction needs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edge_rnn import ir


def compose_normalization(
    norm: ir.Normalization | None, affine: ir.AffineLayer, features: int
) -> ir.Normalization:
    """((x - m) / s) * scale + offset == (x - m') / s'."""
    mean = np.asarray(norm.mean if norm else (0.0,) * features, np.float64)
    scale = np.asarray(norm.scale if norm else (1.0,) * features, np.float64)
    k, b = affine.scale.astype(np.float64), affine.offset.astype(np.float64)
    new_scale = scale / k
    new_mean = mean - b * new_scale
    return ir.Normalization(
        tuple(float(np.float32(v)) for v in new_mean),
        tuple(float(np.float32(v)) for v in new_scale),
    )


def foldable_at_input(layer: ir.Layer) -> bool:
    """An affine a normalization can express (a zero scale cannot be divided by)."""
    return isinstance(layer, ir.AffineLayer) and bool(np.all(layer.scale != 0))


def fold_input_affines(model: ir.Model) -> ir.Model:
    """`model` with its leading affine layers moved into `model.normalization`."""
    layers = list(model.layers)
    norm = model.normalization
    while layers and foldable_at_input(layers[0]):
        affine = layers.pop(0)
        assert isinstance(affine, ir.AffineLayer)
        norm = compose_normalization(norm, affine, model.features)
    if len(layers) == len(model.layers):
        return model
    return dataclasses.replace(model, layers=tuple(layers), normalization=norm)
