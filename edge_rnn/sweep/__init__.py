"""`edge-rnn sweep`: hardware-aware search over RNN configurations.

config = load_sweep_config("sweep.toml")          # build config + [sweep] table
outcome = run_sweep(config, "sweep-out", trials=20, workers=2)   # Optuna + Dask
record, config_path, build = rebuild("sweep-out", parse_pick("flash<32k,acc>=0.95"), "best")
"""

from edge_rnn.sweep.config import SweepConfig, load_sweep_config
from edge_rnn.sweep.engine import SweepOutcome, run_sweep
from edge_rnn.sweep.pick import choose, parse_pick, rebuild

__all__ = [
    "SweepConfig",
    "SweepOutcome",
    "choose",
    "load_sweep_config",
    "parse_pick",
    "rebuild",
    "run_sweep",
]
