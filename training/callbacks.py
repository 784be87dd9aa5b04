"""What runs around each training epoch: the learning-rate schedule, the CSV log, the time limit.

`make_callbacks` assembles them (with checkpointing and early stopping) from a `TrainConfig`.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from training.train import TrainConfig

# Under the train module's logger, where the rest of a run's messages are.
logger = logging.getLogger("training.train")


def cosine_learning_rate(epoch: int, config: TrainConfig) -> float:
    """Learning rate for `epoch` (0-based) under the cosine schedule.

    Starts at `config.learning_rate` at `config.initial_epoch` and falls along half a cosine to
    1 % of it in the last epoch. Resuming a run that had decayed is a warm restart: the step size
    goes back up, then anneals again over the epochs of this run. With
    `config.schedule_start_epoch` the curve starts there instead, so a resumed run picks the
    interrupted curve up where it stopped.
    """
    start = (
        config.initial_epoch if config.schedule_start_epoch is None else config.schedule_start_epoch
    )
    span = max(config.epochs - start - 1, 1)
    progress = min(max((epoch - start) / span, 0.0), 1.0)
    floor = 0.01 * config.learning_rate
    return floor + (config.learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TrainingLog(keras.callbacks.Callback):
    """Writes each epoch's figures to a CSV file with one header for every column seen.

    Keras' CSVLogger fixes the columns at the first epoch it logs and, when appending, writes
    its rows under whatever header the file already has: a resumed run that logs another set of
    figures (a learning-rate schedule added, say) then puts values under the wrong headings.
    This logger rewrites the small file with the union of the columns instead; earlier rows are
    left blank where they had no value.
    """

    def __init__(self, path: Path, append: bool) -> None:
        super().__init__()
        self.path = path
        if not append:
            path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        rows: list[dict[str, str]] = []
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as handle:
                rows = [
                    {key: value for key, value in row.items() if key is not None}
                    for row in csv.DictReader(handle)
                ]
        rows.append({"epoch": str(epoch), **{k: repr(float(v)) for k, v in (logs or {}).items()}})
        names = sorted({key for row in rows for key in row} - {"epoch"})
        temporary = self.path.with_suffix(".csv.tmp")
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["epoch", *names], restval="")
            writer.writeheader()
            writer.writerows(rows)
        temporary.replace(self.path)


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that finishes past a wall-clock budget."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + minutes * 60.0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if time.monotonic() >= self.deadline:
            logger.info("time limit reached after epoch %d; stopping", epoch + 1)
            self.model.stop_training = True


def make_callbacks(config: TrainConfig, run_dir: Path, has_validation: bool) -> list[Any]:
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    monitor = config.monitor if has_validation else config.monitor.removeprefix("val_")
    callbacks: list[Any] = [
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False),
        keras.callbacks.ModelCheckpoint(
            str(checkpoints / "best.keras"), monitor=monitor, mode="min", save_best_only=True
        ),
        keras.callbacks.ModelCheckpoint(str(checkpoints / "last.keras")),
    ]
    if config.lr_schedule == "cosine":
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch, _rate: cosine_learning_rate(epoch, config)
            )
        )
    elif config.reduce_lr_patience > 0:
        # Halve the step size when the monitored figure stalls: late epochs then refine the
        # peaks instead of hopping around them.
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                mode="min",
                factor=0.5,
                patience=config.reduce_lr_patience,
                min_lr=1e-5,
            )
        )
    if config.time_limit_minutes is not None:
        callbacks.append(TimeLimit(config.time_limit_minutes))
    # Last, so that the learning rate the schedulers put into the epoch's logs is in the file.
    callbacks.append(TrainingLog(run_dir / "training_log.csv", append=config.initial_epoch > 0))
    return callbacks
