"""Training-side benchmarks, measured side by side in one process.

    python benchmarks/bench_training.py [--data DIR] [--quick]

1. Label maps per second: the vectorised `make_label_map` against a straightforward per-pixel
   Python loop (the reference implementation the tests check it against).
2. Input pipeline images/s (decode, augment, labels; after the cache is warm) against
   training-step images/s of the default network: the pipeline must not be the bottleneck.
3. Training images/s for `seed` and `unet` (and smaller widths) on the same batches.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.inshop import write_inshop_dataset
from tests.training.test_labels import loop_label_map
from training.annotations import load_split
from training.dataset import make_dataset
from training.labels import make_label_map
from training.model import build_model
from training.train import TrainConfig, compile_model


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.1f}/s"


def bench_labels(repeats: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 255, size=(repeats, 6, 2)).astype(np.float32)
    graph_fn = tf.function(make_label_map)
    graph_fn(points[0])  # trace once
    started = time.perf_counter()
    for sample in points:
        graph_fn(sample).numpy()
    vectorised = repeats / (time.perf_counter() - started)
    loop_count = max(1, repeats // 50)
    started = time.perf_counter()
    for sample in points[:loop_count]:
        loop_label_map(sample)
    loop = loop_count / (time.perf_counter() - started)
    return vectorised, loop


def bench_pipeline(data_dir: Path, batch_size: int, batches: int) -> float:
    split = load_split(data_dir, validation_fraction=0.0)
    dataset = make_dataset(split.train, data_dir, batch_size, training=True).repeat()
    iterator = iter(dataset)
    for _ in range(len(split.train) // batch_size + 2):  # warm the cache
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def bench_training(
    data_dir: Path, architecture: str, width: float, batch_size: int, steps: int
) -> float:
    split = load_split(data_dir, validation_fraction=0.0)
    dataset = make_dataset(split.train, data_dir, batch_size, training=True).repeat()
    images, labels = next(iter(dataset))
    model = build_model(architecture, width)
    compile_model(model, TrainConfig(data_dir=data_dir, out_dir=Path("unused")))
    model.train_on_batch(images, labels)  # build and trace
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="In-shop folder (default: a generated one)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    steps = 3 if args.quick else args.steps

    print(f"tensorflow {tf.__version__}, {len(tf.config.list_physical_devices('CPU'))} CPU device")
    vectorised, loop = bench_labels(50 if args.quick else 200)
    print(
        f"label maps: vectorised {vectorised:,.1f}/s, per-pixel loop {loop:,.2f}/s, "
        f"ratio {vectorised / loop:,.0f}x"
    )

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data or Path(scratch)
        if args.data is None:
            write_inshop_dataset(data_dir, 60, extra_rows=False)
        pipeline = bench_pipeline(data_dir, args.batch_size, 20 if args.quick else 60)
        print(f"input pipeline: {pipeline:,.1f} images/s")
        results: dict[tuple[str, float], float] = {}
        for architecture, width in (
            ("encoder_decoder", 1.0),
            ("unet", 1.0),
            ("unet", 0.5),
            ("encoder_decoder", 0.5),
        ):
            results[(architecture, width)] = bench_training(
                data_dir, architecture, width, args.batch_size, steps
            )
            print(
                f"train step {architecture} width {width}: "
                f"{results[(architecture, width)]:,.2f} images/s"
            )
        # The bundled model trains in bfloat16 (`--mixed-precision`): the same steps again.
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        for architecture, width in (
            ("encoder_decoder", 1.0),
            ("unet", 1.0),
            ("encoder_decoder", 0.5),
            ("unet", 0.5),
        ):
            key = (f"{architecture} bf16", width)
            results[key] = bench_training(data_dir, architecture, width, args.batch_size, steps)
            print(
                f"train step {architecture} width {width} mixed_bfloat16: "
                f"{results[key]:,.2f} images/s"
            )
        keras.mixed_precision.set_global_policy("float32")
        fastest = max(results.values())
        print(f"pipeline / fastest training step: {pipeline / fastest:,.1f}x")


if __name__ == "__main__":
    main()
