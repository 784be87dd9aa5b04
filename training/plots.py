"""Training curves: loss and per-pixel accuracy for training and validation, as the seed plots."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only; never a window.
import matplotlib.pyplot as plt


def read_history(csv_path: Path) -> dict[str, list[float]]:
    """Reads a run's `training_log.csv` into columns (epoch included); blank cells are skipped."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            # Extra cells past the header (key None) are in logs that Keras' CSVLogger appended
            # to from a run logging more columns; they have no name to plot under.
            if key is not None and isinstance(value, str) and value:
                columns.setdefault(key, []).append(float(value))
    return columns


def plot_history(csv_path: Path, out_path: Path) -> Path:
    """Draws loss, accuracy and landmark-error curves (train and validation) into one PNG."""
    history = read_history(csv_path)
    epochs = [e + 1 for e in history.get("epoch", [])]
    panels = [
        (key, title)
        for key, title in (
            ("loss", "loss"),
            ("accuracy", "per-pixel accuracy"),
            ("landmark_error", "landmark error (px)"),
        )
        if key in history
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for axis, (key, title) in zip(axes[0], panels, strict=True):
        axis.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            axis.plot(epochs, history[f"val_{key}"], label="validation")
        axis.set_title(title)
        axis.set_xlabel("epoch")
        if key == "loss":
            axis.set_yscale("log")
        axis.legend()
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)
    plt.close(figure)
    return out_path
