"""The cosine learning-rate schedule: a warm restart when a run resumes, or the same curve
continued when the resumed run names the epoch its cosine began at."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from training.callbacks import cosine_learning_rate
from training.cli import main
from training.train import TrainConfig


def config(
    initial_epoch: int,
    epochs: int,
    learning_rate: float = 3e-4,
    schedule_start_epoch: int | None = None,
) -> TrainConfig:
    return TrainConfig(
        data_dir=Path("data"),
        out_dir=Path("models/m"),
        initial_epoch=initial_epoch,
        epochs=epochs,
        learning_rate=learning_rate,
        lr_schedule="cosine",
        schedule_start_epoch=schedule_start_epoch,
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


def test_a_resume_with_the_schedule_start_continues_the_interrupted_curve() -> None:
    uninterrupted = config(initial_epoch=179, epochs=207, learning_rate=2.5e-4)
    # Stopped by a time limit after epoch 190 (0-based 189), resumed at 190.
    continued = config(
        initial_epoch=190, epochs=207, learning_rate=2.5e-4, schedule_start_epoch=179
    )
    restarted = config(initial_epoch=190, epochs=207, learning_rate=2.5e-4)
    for epoch in range(190, 207):
        assert cosine_learning_rate(epoch, continued) == pytest.approx(
            cosine_learning_rate(epoch, uninterrupted)
        )
    # Without it the resume is a warm restart: back up to the full rate.
    assert cosine_learning_rate(190, restarted) == pytest.approx(2.5e-4)
    assert cosine_learning_rate(190, continued) < 0.7 * 2.5e-4


@pytest.mark.parametrize("start", [-1, 191])
def test_a_schedule_start_outside_0_to_the_initial_epoch_is_refused(start: int) -> None:
    with pytest.raises(ValueError, match="schedule_start_epoch"):
        config(initial_epoch=190, epochs=207, schedule_start_epoch=start)


def test_the_train_command_refuses_a_schedule_start_after_the_initial_epoch(
    tmp_path: Path,
) -> None:
    """A clear error naming the setting, before any data is read (the folder does not exist)."""
    flags = ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit, match=r"error: schedule_start_epoch \(5\) must lie between"):
        main(
            [
                *flags,
                "--lr-schedule",
                "cosine",
                "--initial-epoch",
                "2",
                "--schedule-start-epoch",
                "5",
            ]
        )


def test_a_schedule_start_without_the_cosine_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="cosine schedule only"):
        TrainConfig(
            data_dir=Path("data"),
            out_dir=Path("models/m"),
            initial_epoch=10,
            epochs=20,
            schedule_start_epoch=5,
        )
