"""training_log.csv keeps every figure under its own heading across resumed runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from training.callbacks import TrainingLog


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_resume_that_logs_a_new_column_widens_the_header(tmp_path: Path) -> None:
    path = tmp_path / "training_log.csv"
    first = TrainingLog(path, append=False)
    first.on_epoch_end(0, {"loss": 2.0, "accuracy": 0.5})
    first.on_epoch_end(1, {"loss": 1.5, "accuracy": 0.6})
    # The resumed run adds a learning-rate schedule, whose rate sorts between the others.
    TrainingLog(path, append=True).on_epoch_end(
        2, {"loss": 1.0, "accuracy": 0.7, "learning_rate": 3e-4}
    )

    rows = read_rows(path)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert [float(row["loss"]) for row in rows] == [2.0, 1.5, 1.0]
    assert [float(row["accuracy"]) for row in rows] == [0.5, 0.6, 0.7]
    assert [row["learning_rate"] for row in rows[:2]] == ["", ""]
    assert float(rows[2]["learning_rate"]) == pytest.approx(3e-4)
    assert all(None not in row for row in rows)


def test_a_fresh_run_starts_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "training_log.csv"
    path.write_text("epoch,loss\n0,9.0\n1,8.0\n", encoding="utf-8")
    TrainingLog(path, append=False).on_epoch_end(0, {"loss": 1.0})
    assert read_rows(path) == [{"epoch": "0", "loss": "1.0"}]
