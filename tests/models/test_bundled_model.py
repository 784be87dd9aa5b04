"""The bundled default model: present, small, on contract, and still good at its job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.annotations import load_all
from training.evaluate import evaluate_model
from training.synth import generate_dataset

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "garment_landmarks"


def bundled_version_dir() -> Path:
    versions = sorted(
        (p for p in BUNDLED.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )
    assert versions, f"no version directory under {BUNDLED}"
    return versions[-1]


def test_bundled_model_is_small_and_described() -> None:
    version_dir = bundled_version_dir()
    size = sum(f.stat().st_size for f in version_dir.rglob("*") if f.is_file())
    assert size < 10 * 1024 * 1024, f"bundled model is {size / 2**20:.1f} MiB"
    metadata = json.loads((version_dir / "metadata.json").read_text())
    assert metadata["name"] == "garment_landmarks"
    assert metadata["architecture"] in ("seed", "unet")
    assert len(metadata["landmarks"]) == 6
    assert metadata["evaluation"]["normalized_error"] < 0.1
    # Served mirror-averaged by default, with the single pass beside it (LANDMARKS_FLIP_AVERAGE).
    assert metadata["flip_average"] is True
    assert (version_dir / "saved_model.pb").read_bytes().count(b"serving_single_pass") >= 1


@pytest.mark.slow
def test_bundled_model_finds_landmarks_on_fresh_synthetic_images(tmp_path: Path) -> None:
    # A seed no training or held-out set used, so this is new data for the model.
    generate_dataset(tmp_path / "data", count=40, seed=12345)
    assert load_all(tmp_path / "data")
    report = evaluate_model(BUNDLED, tmp_path / "data", tmp_path / "report", num_worst=2)
    metrics = report.metrics
    # Loose bounds: they catch a broken or mis-exported model, not small regressions.
    assert metrics["normalized_error"] < 0.08
    assert metrics["pck"]["0.2"] > 0.8
    assert np.isfinite(metrics["mean_pixel_error"])
