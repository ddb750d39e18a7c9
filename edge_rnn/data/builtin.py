"""Built-in synthetic data sets, generated from a seed (no downloads, same seed -> same arrays).

Each imitates a sensor task that small RNNs run on microcontrollers:
- gesture: 3-axis accelerometer (g) at 25 Hz, gravity on a randomly tilted device, sensor
  noise and bias; classes differ by motion pattern and tempo, not by the mean.
- vibration: one accelerometer on a rotating machine at 800 Hz, speed varies per sample;
  classes are the classic fault signatures (1x, 2x harmonics, bearing impulses).
- forecast / forecast_seq: a noisy sum of sines with random periods, phases and offset;
  predict the next sample (one target per window, or one per time step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_rnn.data.dataset import Dataset, make_dataset, split_indices
from edge_rnn.errors import EdgeRnnError

# (x, y, class_names, feature_names) for n samples of T steps.
Generated = tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class _Builtin:
    description: str
    task: str
    timesteps: int
    samples: int
    generate: Callable[[np.random.Generator, int, int], Generated]


def _balanced_labels(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % classes).astype(np.int64)


def _tilt(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """A random rotation matrix: roll and pitch up to max_deg, any yaw."""
    roll, pitch = np.deg2rad(rng.uniform(-max_deg, max_deg, 2))
    yaw = rng.uniform(-np.pi, np.pi)
    cr, sr, cp, sp, cy, sy = (
        np.cos(roll),
        np.sin(roll),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
    )
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _gesture_motion(rng: np.random.Generator, label: int, t: np.ndarray) -> np.ndarray:
    """Linear acceleration (3, T) in g of one gesture in the hand's frame."""
    phase = rng.uniform(0, 2 * np.pi)
    motion = np.zeros((3, t.size))
    if label == 0:  # idle: physiological tremor and a slow sway
        motion[rng.integers(3)] = rng.uniform(0.01, 0.04) * np.sin(
            2 * np.pi * rng.uniform(8, 12) * t + phase
        )
        motion[2] += rng.uniform(0.0, 0.05) * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    elif label == 1:  # wave: side to side ~2 Hz, wrist roll adds a 2f component on z
        amp, freq = rng.uniform(0.4, 0.9), rng.uniform(1.5, 2.5)
        motion[0] = amp * np.sin(2 * np.pi * freq * t + phase)
        motion[2] = 0.3 * amp * np.sin(4 * np.pi * freq * t + 2 * phase)
    elif label == 2:  # shake: fast, jerky (clipped) back and forth ~5 Hz
        amp, freq = rng.uniform(0.6, 1.2), rng.uniform(4.0, 6.0)
        jerk = np.tanh(3 * np.sin(2 * np.pi * freq * t + phase))
        motion[0] = amp * jerk
        motion[1] = 0.4 * amp * jerk
    else:  # circle: two axes in quadrature ~1.3 Hz
        amp, freq = rng.uniform(0.4, 0.8), rng.uniform(1.0, 1.6)
        direction = rng.choice((-1.0, 1.0))
        motion[0] = amp * np.cos(2 * np.pi * freq * t + phase)
        motion[1] = direction * amp * np.sin(2 * np.pi * freq * t + phase)
    return motion


def _gesture(rng: np.random.Generator, n: int, steps: int) -> Generated:
    t = np.arange(steps) / 25.0
    labels = _balanced_labels(rng, n, 4)
    x = np.empty((n, steps, 3))
    for i, label in enumerate(labels):
        # The device is held at a random tilt: gravity and the motion plane rotate together.
        rotation = _tilt(rng, 25.0)
        gravity = np.array([0.0, 0.0, 1.0])
        accel = rotation @ (gravity[:, None] + _gesture_motion(rng, int(label), t))
        bias = rng.normal(0.0, 0.03, (3, 1))
        x[i] = (accel + bias + rng.normal(0.0, 0.05, accel.shape)).T
    return x, labels, ("idle", "wave", "shake", "circle"), ("ax", "ay", "az")


def _vibration(rng: np.random.Generator, n: int, steps: int) -> Generated:
    fs = 800.0
    t = np.arange(steps) / fs
    labels = _balanced_labels(rng, n, 4)
    x = np.empty((n, steps, 1))
    for i, label in enumerate(labels):
        f0 = rng.uniform(25.0, 35.0)  # shaft speed 1500-2100 rpm
        phase = rng.uniform(0, 2 * np.pi, 3)
        one_x = {0: (0.2, 0.4), 1: (0.7, 1.2), 2: (0.3, 0.5), 3: (0.2, 0.4)}[int(label)]
        two_x = (0.5, 0.9) if label == 2 else (0.0, 0.08)
        signal = rng.uniform(*one_x) * np.sin(2 * np.pi * f0 * t + phase[0])
        signal += rng.uniform(*two_x) * np.sin(4 * np.pi * f0 * t + phase[1])
        if label == 2:  # misalignment also shows a 3x component
            signal += 0.15 * np.sin(6 * np.pi * f0 * t + phase[2])
        if label == 3:  # outer-race bearing fault: ringing impulses at ~3.6x shaft speed
            period = 1.0 / (rng.uniform(3.4, 3.8) * f0)
            since = (t + rng.uniform(0, period)) % period
            ring = rng.uniform(220.0, 300.0)
            signal += (
                rng.uniform(0.6, 1.0) * np.exp(-since / 0.003) * np.sin(2 * np.pi * ring * since)
            )
        gain = rng.uniform(0.85, 1.15)  # sensor mounting / sensitivity spread
        x[i, :, 0] = gain * signal + rng.normal(0.0, 0.08, steps)
    names = ("normal", "imbalance", "misalignment", "bearing_fault")
    return x, labels, names, ("accel",)


def _sines(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """(n, length) noisy sums of 2-3 sines with random period (8-50 steps), phase, offset."""
    k = np.arange(length)
    out = np.empty((n, length))
    for i in range(n):
        parts = rng.integers(2, 4)
        freq = rng.uniform(0.02, 0.125, parts)
        amp = rng.uniform(0.2, 0.8, parts)
        phase = rng.uniform(0, 2 * np.pi, parts)
        clean = (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * k + phase[:, None])).sum(0)
        out[i] = rng.uniform(-0.5, 0.5) + clean + rng.normal(0.0, 0.05, length)
    return out


def _forecast(rng: np.random.Generator, n: int, steps: int) -> Generated:
    series = _sines(rng, n, steps + 1)
    return series[:, :steps, None], series[:, steps:], (), ("value",)


def _forecast_seq(rng: np.random.Generator, n: int, steps: int) -> Generated:
    series = _sines(rng, n, steps + 1)
    return series[:, :steps, None], series[:, 1:, None], (), ("value",)


BUILTINS: dict[str, _Builtin] = {
    "gesture": _Builtin(
        "3-axis accelerometer gestures (idle, wave, shake, circle), 20 steps at 25 Hz, 4 classes",
        "classification",
        20,
        1000,
        _gesture,
    ),
    "vibration": _Builtin(
        "machine vibration, 1 channel at 800 Hz (normal, imbalance, misalignment, "
        "bearing_fault), 40 steps, 4 classes",
        "classification",
        40,
        800,
        _vibration,
    ),
    "forecast": _Builtin(
        "next-value regression on a noisy multi-sine sensor signal, 24 steps -> 1 value",
        "regression",
        24,
        1200,
        _forecast,
    ),
    "forecast_seq": _Builtin(
        "sequence-to-sequence regression: predict the next sample at every one of 24 steps",
        "regression",
        24,
        800,
        _forecast_seq,
    ),
}


def builtin_datasets() -> dict[str, str]:
    """Built-in data set name -> one-line description."""
    return {name: entry.description for name, entry in BUILTINS.items()}


def load_builtin(
    name: str, *, seed: int, test_fraction: float, timesteps: int | None, task: str | None
) -> Dataset:
    source = f"builtin:{name}"
    entry = BUILTINS.get(name)
    if entry is None:
        raise EdgeRnnError(
            f"unknown built-in data set '{name}': choose one of {', '.join(BUILTINS)} "
            "(edge-rnn train --list-data)"
        )
    if task is not None and task != entry.task:
        raise EdgeRnnError(f"{source} is a {entry.task} data set; it cannot be used for {task}")
    steps = entry.timesteps if timesteps is None else timesteps
    if not 2 <= steps <= 4096:
        raise EdgeRnnError(f"{source}: timesteps must be between 2 and 4096, got {steps}")
    x, y, class_names, feature_names = entry.generate(
        np.random.default_rng(seed), entry.samples, steps
    )
    train, test = split_indices(len(x), test_fraction, seed, source)
    if entry.task == "regression":
        y = y.astype(np.float32)
    return make_dataset(
        name=name,
        source=source,
        x_train=x[train].astype(np.float32),
        y_train=y[train],
        x_test=x[test].astype(np.float32),
        y_test=y[test],
        task=entry.task,
        class_names=class_names,
        feature_names=feature_names,
    )
