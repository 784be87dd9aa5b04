"""The cosine learning-rate schedule, a warm restart when a run resumes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from training.train import TrainConfig, cosine_learning_rate


def config(initial_epoch: int, epochs: int, learning_rate: float = 3e-4) -> TrainConfig:
    return TrainConfig(
        data_dir=Path("data"),
        out_dir=Path("models/m"),
        initial_epoch=initial_epoch,
        epochs=epochs,
        learning_rate=learning_rate,
        lr_schedule="cosine",
    )


def test_starts_at_the_learning_rate_on_a_resume_and_ends_at_one_percent() -> None:
    schedule = config(initial_epoch=51, epochs=75)
    rates = [cosine_learning_rate(epoch, schedule) for epoch in range(51, 75)]
    assert rates[0] == pytest.approx(3e-4)
    assert rates[-1] == pytest.approx(3e-6)
    assert all(later < earlier for earlier, later in itertools.pairwise(rates))
    # Half-way through the span the cosine is at its mid-point.
    middle = cosine_learning_rate(51 + 11, schedule)
    expected = 3e-6 + (3e-4 - 3e-6) * 0.5 * (1 + math.cos(math.pi * 11 / 23))
    assert middle == pytest.approx(expected)


def test_epochs_outside_the_run_are_clamped_and_a_one_epoch_run_keeps_the_rate() -> None:
    schedule = config(initial_epoch=10, epochs=20)
    assert cosine_learning_rate(5, schedule) == pytest.approx(3e-4)
    assert cosine_learning_rate(40, schedule) == pytest.approx(3e-6)
    assert cosine_learning_rate(0, config(initial_epoch=0, epochs=1)) == pytest.approx(3e-4)
