"""benchmarks/bench_model_cost.py: the side-by-side model-cost check for a retrained model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.app.exports import export_full_seed, export_tiny_unet

ROOT = Path(__file__).resolve().parents[2]


def test_a_bigger_network_is_timed_as_dearer(tmp_path: Path) -> None:
    """A tiny U-Net against the full-width seed network (far more arithmetic per image).

    The benchmark must tell them apart and in the right order, and name each directory it
    resolved: a mix-up of models, a ratio inverted or a reference that is not the first would
    all fail here.
    """
    tiny = export_tiny_unet(tmp_path / "tiny" / "1", "tiny")
    full = export_full_seed(tmp_path / "full" / "1", "full")
    completed = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_model_cost.py",
            str(tmp_path / "tiny"),
            str(full),
            *("--batch-size", "2", "--rounds", "3", "--calls-per-round", "2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = re.findall(
        r"^  (\S+): ([0-9.]+) ms per image \(([0-9.]+) of the first\)$",
        completed.stdout,
        flags=re.MULTILINE,
    )
    assert [Path(path) for path, _, _ in lines] == [tiny, full], completed.stdout
    (_, tiny_ms, tiny_ratio), (_, full_ms, full_ratio) = lines
    assert tiny_ratio == "1.000"
    # In-graph decoding costs both the same few ms, so the ratio is about 2, not 100.
    assert float(full_ms) > 1.5 * float(tiny_ms)
    # The printed ratio is the two times' (each rounded to 0.1 ms).
    assert abs(float(full_ratio) - float(full_ms) / float(tiny_ms)) < 0.02 * float(full_ratio)
