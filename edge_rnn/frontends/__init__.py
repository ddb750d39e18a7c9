"""Model frontends: a trained model -> `edge_rnn.ir.Model`."""
