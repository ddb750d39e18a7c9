"""Runners: one interface (`edge_rnn.runtimes.base`), one module per runtime.

Runner modules register themselves; `load_runners()` discovers every module of this package.
"""

from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    Runner,
    RunnerSkipped,
    RunResult,
    get_runner,
    load_runners,
    register,
    runners_for,
)

__all__ = [
    "Artefact",
    "ModelMeta",
    "Runner",
    "RunnerSkipped",
    "RunResult",
    "get_runner",
    "load_runners",
    "register",
    "runners_for",
]
