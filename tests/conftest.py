"""Shared test setup: the CLI's TensorFlow environment, headless matplotlib."""

import os

from edge_rnn.tf_env import apply_tf_env

apply_tf_env()
os.environ.setdefault("MPLBACKEND", "Agg")
