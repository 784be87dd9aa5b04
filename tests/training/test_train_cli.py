"""End to end: train a tiny model on In-shop files, export it, resume it, evaluate it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inshop import write_inshop_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_training_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("TF_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "training", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_train_export_resume_and_evaluate_on_two_logical_cpus(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_inshop_dataset(data_dir, 12)
    common = [
        "--data", str(data_dir), "--out", str(tmp_path / "models" / "tiny"),
        "--run-dir", str(tmp_path / "run"), "--arch", "unet", "--width", "0.125",
        "--batch-size", "4", "--steps-per-epoch", "2", "--reduce-lr-patience", "1",
        "--logical-cpus", "2", "--devices", "/cpu:0,/cpu:1",
    ]  # fmt: skip
    first = run_training_cli("train", *common, "--epochs", "2", cwd=tmp_path)
    assert "MirroredStrategy over 2 replica(s)" in first.stderr

    run_dir = tmp_path / "run"
    log_lines = (run_dir / "training_log.csv").read_text().splitlines()
    assert log_lines[0].startswith("epoch") and len(log_lines) == 3
    assert "val_loss" in log_lines[0] and "val_landmark_error" in log_lines[0]
    assert (run_dir / "checkpoints" / "best.keras").is_file()
    assert (run_dir / "curves.png").stat().st_size > 1000
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))

    # Resume from the last checkpoint for one more epoch, as the seed's 351-400 run did, with
    # a cosine warm restart: the restored optimizer's rate (at most the default 1e-3) is
    # replaced by --learning-rate.
    run_training_cli(
        "train", *common, "--epochs", "3", "--initial-epoch", "2",
        "--lr-schedule", "cosine", "--learning-rate", "0.004", "--flip-average", cwd=tmp_path,
    )  # fmt: skip
    log_lines = (run_dir / "training_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log_lines[1:]] == ["0", "1", "2"]
    rate_column = log_lines[0].split(",").index("learning_rate")
    assert float(log_lines[3].split(",")[rate_column]) == pytest.approx(0.004)

    export_dir = tmp_path / "models" / "tiny" / "1"
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["architecture"] == "unet"
    assert metadata["training_data"]["num_train"] == 10
    assert metadata["training_data"]["num_validation"] == 2
    assert metadata["training"]["epochs"] == 3
    assert metadata["training"]["lr_schedule"] == "cosine"
    assert metadata["training"]["schedule_start_epoch"] is None  # a warm restart at epoch 2
    # Kept through the rewrite that adds the validation figures.
    assert metadata["flip_average"] is True
    assert 0.0 <= metadata["evaluation"]["normalized_error"] <= 1.5

    # The export command on its own: the architecture and width are read off the checkpoint.
    run_training_cli(
        "export", "--checkpoint", str(run_dir / "checkpoints" / "best.keras"),
        "--out", str(tmp_path / "models" / "tiny"), "--version", "2", "--top-k", "3",
        "--flip-average", cwd=tmp_path,
    )  # fmt: skip
    exported = json.loads((tmp_path / "models" / "tiny" / "2" / "metadata.json").read_text())
    assert exported["architecture"] == "unet" and exported["width_multiplier"] == 0.125
    assert exported["top_k"] == 3 and exported["flip_average"] is True

    report_dir = tmp_path / "report"
    run_training_cli(
        "evaluate", "--model", str(tmp_path / "models" / "tiny"), "--data", str(data_dir),
        "--out", str(report_dir), cwd=tmp_path,
    )  # fmt: skip
    report = json.loads((report_dir / "report.json").read_text())
    assert report["metrics"]["num_images"] == 12
    assert (report_dir / "report.md").is_file()
