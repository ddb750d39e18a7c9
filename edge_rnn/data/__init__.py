"""Data: NPZ/CSV loaders, built-in synthetic data sets, normalization."""

from edge_rnn.data.builtin import builtin_datasets
from edge_rnn.data.dataset import Dataset, fit_normalization
from edge_rnn.data.loaders import load_dataset

__all__ = ["Dataset", "builtin_datasets", "fit_normalization", "load_dataset"]
