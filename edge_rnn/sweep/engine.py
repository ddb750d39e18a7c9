"""The sweep loop: Optuna asks for a configuration, a Dask worker runs the trial, Optuna is told.

The study lives in its storage (SQLite in DIR by default), so running the same sweep again
resumes it: finished trials are kept, trials left running by a stopped sweep are marked failed
("interrupted") and the missing ones are run. Only this process talks to the storage; workers
get a plain spec and return a plain result. At most one trial per worker thread is in flight,
so each `ask` sees every result told so far.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from edge_rnn.errors import EdgeRnnError
from edge_rnn.sweep.config import SweepConfig
from edge_rnn.sweep.measure import check_constraints
from edge_rnn.sweep.space import artefact_name, suggest, trial_build

RESULT = "result"  # user attribute holding a trial's record


@dataclass(frozen=True)
class SweepOutcome:
    out_dir: Path
    json_path: Path
    html_path: Path
    summary: dict[str, Any]


def _sampler(config: SweepConfig) -> Any:
    import optuna

    # Both read the constraints each trial stores with Trial.set_constraint (<= 0: satisfied).
    if config.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=config.seed)
    return optuna.samplers.NSGAIISampler(seed=config.seed)


def open_study(config: SweepConfig, out_dir: Path) -> Any:
    """Create or load the study; refuse one whose objectives differ from the config's."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = config.storage or f"sqlite:///{(out_dir / 'study.db').resolve()}"
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=config.study,
            directions=cast(Any, config.directions),  # "minimize"/"maximize", checked
            sampler=_sampler(config),
            load_if_exists=True,
        )
    except ValueError as err:  # e.g. a stored study with another number of objectives
        raise EdgeRnnError(f"study '{config.study}' in {storage}: {err}") from None
    stored = study.user_attrs.get("objectives")
    if stored is None:
        study.set_user_attr("objectives", list(config.objectives))
    elif stored != list(config.objectives):
        raise EdgeRnnError(
            f"study '{config.study}' in {storage} optimises {', '.join(stored)}, the config "
            f"{', '.join(config.objectives)}: use another --out or sweep.study"
        )
    return study


def _mark_interrupted(study: Any) -> int:
    """Trials a stopped sweep left RUNNING become failed; they do not count as run."""
    import optuna

    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for frozen in stale:
        trial = optuna.trial.Trial(study, frozen._trial_id)
        trial.set_user_attr(
            RESULT, {"number": frozen.number, "status": "interrupted", "error": "sweep stopped"}
        )
        study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
    return len(stale)


def counted(study: Any) -> list[Any]:
    """Finished trials that count towards the budget (not the interrupted ones)."""
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get(RESULT, {}).get("status") in ("complete", "failed")
    ]


class _Progress:
    """Trials done / running / failed, best so far, time per trial."""

    def __init__(self, config: SweepConfig, total: int, log: Callable[[str], None]) -> None:
        self.config, self.total, self.log = config, total, log
        self.done = self.failed = 0
        self.seconds: list[float] = []
        self.best: tuple[float, int] | None = None

    def consider(self, result: dict[str, Any]) -> None:
        """Keep the best feasible value of the first objective (stored trials count too)."""
        value = result.get("metrics", {}).get(self.config.metrics[0])
        sign = -1 if self.config.directions[0] == "maximize" else 1
        if not result.get("feasible") or value is None:
            return
        if self.best is None or sign * value < sign * self.best[0]:
            self.best = (value, result["number"])

    def trial(self, result: dict[str, Any], running: int) -> None:
        self.done += 1
        self.seconds.append(result.get("seconds", 0.0))
        number, metrics = result["number"], result.get("metrics", {})
        if result["status"] != "complete":
            self.failed += 1
            what = f"FAILED: {result.get('error', '')}"
        else:
            shown = [f"{m} {metrics.get(m)}" for m in self.config.metrics]
            verdict = "feasible" if result["feasible"] else "; ".join(result["violations"])
            what = f"{', '.join(shown)} [{verdict}]"
            self.consider(result)
        best = "no feasible trial yet"
        if self.best:
            best = f"best {self.config.metrics[0]} {self.best[0]} (trial {self.best[1]})"
        mean = sum(self.seconds) / len(self.seconds)
        self.log(
            f"trial {number} ({result.get('seconds', 0):.0f} s): {what}\n"
            f"  [{self.done}/{self.total}] running {running}, failed {self.failed}, "
            f"{best}, {mean:.0f} s/trial"
        )


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except OSError as err:
            raise EdgeRnnError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never collides with another cluster
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def _capacity(client: Any, workers: int | None) -> int:
    threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
    if threads == 0:
        raise EdgeRnnError("the Dask cluster has no workers")
    return min(threads, workers) if workers else threads


class _Sweep:
    def __init__(
        self, config: SweepConfig, out_dir: Path, study: Any, log: Callable[[str], None]
    ) -> None:
        self.config, self.out_dir, self.study, self.log = config, out_dir, study, log
        self.running: dict[Any, Any] = {}  # future -> optuna Trial

    def spec(self, trial: Any) -> dict[str, Any]:
        config = self.config
        params = suggest(trial, config.space)
        seed = config.seed + trial.number
        return {
            "number": trial.number,
            "seed": seed,
            "params": params,
            "artefact": artefact_name(params["artefact"]),
            "build": trial_build(config.build, params, seed),
            "base_dir": str(Path(config.source).resolve().parent),
            "source": config.source,
            "targets": list(config.targets),
            "timeout": config.trial_timeout,
            "trial_dir": str((self.out_dir / "trials" / f"{trial.number:04d}").resolve()),
        }

    def launch(self, client: Any, completed: Any) -> None:
        from edge_rnn.sweep.trial import run_trial

        trial = self.study.ask()
        spec = self.spec(trial)
        trial.set_user_attr("spec", {k: spec[k] for k in ("seed", "params", "build", "artefact")})
        future = client.submit(
            run_trial,
            spec,
            key=f"edge-rnn-trial-{trial.number}-{uuid.uuid4().hex[:8]}",
            pure=False,
        )
        self.running[future] = trial
        shown = ", ".join(f"{k} {v}" for k, v in spec["params"].items())
        self.log(f"trial {trial.number} started: {shown} (seed {spec['seed']})")
        completed.add(future)

    def record(self, future: Any) -> dict[str, Any]:
        import optuna

        trial = self.running.pop(future)
        try:
            result = future.result()
        except Exception as err:  # e.g. KilledWorker: its workers kept dying
            result = {"number": trial.number, "status": "failed", "error": f"worker lost: {err}"}
        result["trial_dir"] = f"trials/{trial.number:04d}"
        values = None
        if result["status"] == "complete":
            metrics = result["metrics"]
            missing = [m for m in self.config.metrics if metrics.get(m) is None]
            if missing:
                result.update(status="failed", error=f"not measured: {', '.join(missing)}")
            else:
                values = [metrics[m] for m in self.config.metrics]
                words, constraints = check_constraints(result, self.config)
                result.update(feasible=not words, violations=words)
                for name, value in constraints.items():
                    trial.set_constraint(name, value)
        trial.set_user_attr(RESULT, result)
        if values is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, values)
        return result


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    *,
    trials: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    log: Callable[[str], None] = print,
) -> SweepOutcome:
    """Run (or resume, or extend) the sweep until the study holds `trials` counted trials;
    write DIR/sweep.json and DIR/sweep.html."""
    from distributed import as_completed

    from edge_rnn.sweep.results import write_outputs

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(config, out_dir)
    interrupted = _mark_interrupted(study)
    total = trials or config.trials
    have = len(counted(study))
    todo = max(0, total - have)
    log(
        f"sweep '{config.study}': {have} trial(s) stored"
        + (f", {interrupted} interrupted marked failed" if interrupted else "")
        + f"; running {todo} more ({config.sampler}, objectives {', '.join(config.objectives)})"
    )
    if todo:
        client, cluster = _client(scheduler, workers or config.workers)
        try:
            capacity = _capacity(client, workers if scheduler else None)
            where = scheduler or f"LocalCluster with {capacity} worker process(es)"
            log(f"running on {where}")
            sweep, progress = _Sweep(config, out_dir, study, log), _Progress(config, todo, log)
            for stored in counted(study):
                progress.consider(stored.user_attrs[RESULT])
            completed, launched = as_completed(), 0
            while launched < todo and len(sweep.running) < capacity:
                sweep.launch(client, completed)
                launched += 1
            for future in completed:
                progress.trial(sweep.record(future), len(sweep.running))
                if launched < todo:
                    sweep.launch(client, completed)
                    launched += 1
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    json_path, html_path, summary = write_outputs(study, config, out_dir)
    log(f"wrote {json_path} and {html_path}")
    return SweepOutcome(out_dir, json_path, html_path, summary)
