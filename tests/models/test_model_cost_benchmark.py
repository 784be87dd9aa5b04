"""benchmarks/bench_model_cost.py: the side-by-side model-cost check for a retrained model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.model_runtime import resolve_version_dir

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "models" / "garment_landmarks"


def test_compares_two_savedmodels_side_by_side() -> None:
    """The bundled model against itself: both timed, the first as the 1.000 reference."""
    completed = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_model_cost.py",
            str(BUNDLED),
            str(BUNDLED),
            *("--batch-size", "2", "--rounds", "2", "--calls-per-round", "1"),
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
    assert len(lines) == 2, completed.stdout
    assert all(Path(path) == resolve_version_dir(BUNDLED) for path, _, _ in lines)
    assert lines[0][2] == "1.000"
    assert all(float(ms) > 0 for _, ms, _ in lines)
