"""Public-style small time-series data sets, generated in code (no downloads).

They resemble UCR/UEA benchmarks in what makes them hard for a default trainer: long
sequences, few training windows, imbalance. Each returns an `edge_rnn.data.Dataset`.

- gunpoint_like: 2 classes, 150 steps x 1, 50 train / 150 test windows (hand x-position:
  "gun" has a small dip when drawing and holstering, "point" does not).
- arrowhead_like: 3 classes, 251 steps x 1, 36 train / 175 test windows (outline of a shape
  as a distance-from-centre profile; the classes differ in tip width and notches).
- fault_imbalanced: 3 classes (80 / 15 / 5 %), 128 steps x 3 features, 120 train / 300 test
  windows (machine vibration: normal, a slow drift of one axis, short impulses).
- motions_like: 4 classes, 100 steps x 6 features (accelerometer + gyroscope), 40 train /
  40 test windows (standing, walking, running, badminton).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge_rnn.data.dataset import Dataset, make_dataset

Generator = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def _smoothstep(t: np.ndarray, start: float, width: float) -> np.ndarray:
    u = np.clip((t - start) / width, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _gunpoint(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(150, dtype=np.float64)
    y = np.arange(n) % 2
    x = np.empty((n, 150, 1))
    for i, label in enumerate(y):
        up, down = rng.uniform(35, 50), rng.uniform(90, 110)
        rise, fall = rng.uniform(8, 16), rng.uniform(8, 16)
        height = rng.uniform(1.2, 2.0)
        curve = height * (_smoothstep(t, up, rise) - _smoothstep(t, down, fall))
        if label == 0:  # gun: dip before lifting and after lowering (the holster)
            dip = rng.uniform(0.25, 0.5)
            curve -= dip * np.exp(-0.5 * ((t - up + 4) / 3.0) ** 2)
            curve -= dip * np.exp(-0.5 * ((t - down - fall - 4) / 3.0) ** 2)
        drift = np.cumsum(rng.normal(0, 0.01, 150))
        x[i, :, 0] = curve + drift + rng.normal(0, 0.05, 150) + rng.uniform(-0.3, 0.3)
    return x, y


def _arrowhead(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    steps = 251
    angle = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    y = np.arange(n) % 3
    x = np.empty((n, steps, 1))
    for i, label in enumerate(y):
        tip_width = (0.25, 0.45, 0.3)[label] * rng.uniform(0.85, 1.15)
        profile = 1.0 + 0.8 * np.exp(-0.5 * (np.angle(np.exp(1j * angle)) / tip_width) ** 2)
        for corner in (2.3, 3.98):  # the two base corners
            profile += 0.3 * np.exp(-0.5 * ((angle - corner) / 0.2) ** 2)
        if label == 2:  # side notches
            for notch in (1.4, 4.9):
                depth = rng.uniform(0.15, 0.3)
                profile -= depth * np.exp(-0.5 * ((angle - notch) / 0.08) ** 2)
        profile *= rng.uniform(0.8, 1.2)
        profile = np.roll(profile, int(rng.integers(-8, 9)))
        x[i, :, 0] = profile + rng.normal(0, 0.04, steps)
    return x, y


def _fault(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    steps = 128
    t = np.arange(steps) / 200.0
    counts = np.maximum(np.round(np.array([0.8, 0.15, 0.05]) * n).astype(int), 1)
    counts[0] = n - counts[1:].sum()
    y = rng.permutation(np.repeat(np.arange(3), counts))
    x = np.empty((n, steps, 3))
    for i, label in enumerate(y):
        freq = rng.uniform(20, 30)
        for axis in range(3):
            phase = rng.uniform(0, 2 * np.pi)
            x[i, :, axis] = rng.uniform(0.8, 1.2) * np.sin(2 * np.pi * freq * t + phase)
        x[i] += rng.normal(0, 0.3, (steps, 3))
        if label == 1:  # slow drift of one axis (loosening mount)
            x[i, :, int(rng.integers(3))] += np.linspace(0, rng.uniform(0.8, 1.4), steps)
        elif label == 2:  # short impulses (bearing fault)
            for hit in rng.choice(steps - 4, size=int(rng.integers(2, 4)), replace=False):
                x[i, hit : hit + 3, :] += rng.uniform(1.5, 2.5) * rng.choice([-1, 1])
    return x, y


def _motions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    steps = 100
    t = np.arange(steps) / 10.0
    y = np.arange(n) % 4
    x = np.empty((n, steps, 6))
    for i, label in enumerate(y):
        freq, amp = [(0.0, 0.0), (1.8, 0.6), (2.8, 1.5), (1.0, 1.2)][label]
        freq *= rng.uniform(0.85, 1.15)
        phase = rng.uniform(0, 2 * np.pi, 6)
        gains = rng.uniform(0.6, 1.4, 6) * amp
        x[i] = gains * np.sin(2 * np.pi * freq * t[:, None] + phase)
        if label == 3:  # badminton: a few bursts (swings) on top of stepping
            for swing in rng.choice(steps - 8, size=3, replace=False):
                x[i, swing : swing + 6, 3:] += rng.uniform(2, 4)
        x[i, :, 2] += 1.0  # gravity
        x[i] += rng.normal(0, 0.15 + 0.1 * amp, (steps, 6))
    return x, y


PUBLIC_STYLE: dict[str, tuple[Generator, int, int, tuple[str, ...]]] = {
    "gunpoint_like": (_gunpoint, 50, 150, ("gun", "point")),
    "arrowhead_like": (_arrowhead, 36, 175, ("avonlea", "clovis", "mix")),
    "fault_imbalanced": (_fault, 120, 300, ("normal", "drift", "impulse")),
    "motions_like": (_motions, 40, 40, ("standing", "walking", "running", "badminton")),
}


def public_style(name: str, seed: int = 0) -> Dataset:
    """One of PUBLIC_STYLE, with its fixed train/test sizes; the same seed gives the same data."""
    generate, n_train, n_test, classes = PUBLIC_STYLE[name]
    rng = np.random.default_rng(seed)
    x_train, y_train = generate(rng, n_train)
    x_test, y_test = generate(rng, n_test)
    return make_dataset(
        name=name,
        source=f"benchmarks:{name}",
        x_train=x_train.astype(np.float32),
        y_train=y_train,
        x_test=x_test.astype(np.float32),
        y_test=y_test,
        task="classification",
        class_names=classes,
    )
