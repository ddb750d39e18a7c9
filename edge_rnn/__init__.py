"""edge-rnn: recurrent neural networks from training to microcontrollers and ARM boards."""

__version__ = "0.1.0"
