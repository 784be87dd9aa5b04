"""Model time per image of two or more SavedModels, measured side by side in one process.

    python benchmarks/bench_model_cost.py OLD_MODEL_DIR NEW_MODEL_DIR [--batch-size 8]

Each directory is a `models/<name>/<version>` export (or `models/<name>`, whose highest version
is used). Every model's `--signature` is called on the same uint8 batch; rounds alternate
between the models (A, B, A, B, ...), so a drift in what else the machine runs moves all of
them alike. Prints the median milliseconds per image over the rounds and each model's ratio to
the first one. Use it when the bundled model is retrained: the same network with new weights
should cost the same.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from app.model_runtime import resolve_version_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="SavedModel directories to compare")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--calls-per-round", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--signature", default="serving_default")
    args = parser.parse_args()

    import tensorflow as tf  # after argparse, so --help is instant

    version_dirs = [resolve_version_dir(path) for path in args.models]
    signatures = [
        tf.saved_model.load(str(path)).signatures[args.signature] for path in version_dirs
    ]
    batch = tf.constant(
        np.random.default_rng(0).integers(0, 256, (args.batch_size, 256, 256, 3), dtype=np.uint8)
    )
    for signature in signatures:  # warm-up: tracing and oneDNN primitive creation
        signature(images=batch)

    per_image_ms: list[list[float]] = [[] for _ in signatures]
    images_per_round = args.calls_per_round * args.batch_size
    for _ in range(args.rounds):
        for times, signature in zip(per_image_ms, signatures, strict=True):
            start = time.perf_counter()
            for _ in range(args.calls_per_round):
                outputs = signature(images=batch)
                _ = {name: tensor.numpy() for name, tensor in outputs.items()}
            times.append((time.perf_counter() - start) / images_per_round * 1000)

    medians = [statistics.median(times) for times in per_image_ms]
    print(
        f"{args.signature}, batch {args.batch_size}, median of {args.rounds} alternating rounds "
        f"of {args.calls_per_round} calls"
    )
    for path, median in zip(version_dirs, medians, strict=True):
        print(f"  {path}: {median:.1f} ms per image ({median / medians[0]:.3f} of the first)")


if __name__ == "__main__":
    main()
