"""Artefact producers of `edge-rnn build`: one interface (`edge_rnn.backends.base`), one module
per backend; `edge_rnn.backends.run.run_backends` runs them all, recording what failed."""
