"""Validation: every artefact on the same windows, compared with the float Keras model."""

from edge_rnn.validate.run import validate_build
from edge_rnn.validate.stages import Report, StageResult

__all__ = ["Report", "StageResult", "validate_build"]
