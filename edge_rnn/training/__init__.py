"""Training: Keras model builders, the training loop and model metadata."""

from edge_rnn.training.loop import TrainResult, evaluate, train
from edge_rnn.training.metadata import ModelMetadata, write_metadata
from edge_rnn.training.model import ModelSpec, build_model, head_for, model_name

__all__ = [
    "ModelMetadata",
    "ModelSpec",
    "TrainResult",
    "build_model",
    "evaluate",
    "head_for",
    "model_name",
    "train",
    "write_metadata",
]
