"""Where an exported model's time goes: the network, the mirror pass, decoding, candidates.

    python benchmarks/profile_model.py models/garment_landmarks [--batch-size 8]

Rebuilds the network from the export (`training.adapt.load_network`) and times, on one random
uint8 batch, each part the serving signatures are made of (`training.export`,
`training.peaks`) and the two signatures themselves, in milliseconds per image (median of
`--rounds` calls after a warm-up). The parts are timed separately, so their sum is close to,
not exactly, a signature's time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    import tensorflow as tf

    from app.model_runtime import resolve_version_dir
    from training.adapt import load_network
    from training.peaks import decode_candidates, decode_landmarks

    version_dir = resolve_version_dir(args.model)
    network, metadata = load_network(version_dir)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (args.batch_size, 256, 256, 3), dtype=np.uint8))
    pixels = tf.cast(images, tf.float32)
    mirrored = tf.concat([pixels, tf.reverse(pixels, axis=[2])], axis=0)
    maps = network(pixels, training=False)
    signatures = tf.saved_model.load(str(version_dir)).signatures
    parts: list[tuple[str, Callable[[], object]]] = [
        ("network, one pass", tf.function(lambda: network(pixels, training=False))),
        ("network, image + mirror", tf.function(lambda: network(mirrored, training=False))),
        ("decode_landmarks", tf.function(lambda: decode_landmarks(maps))),
        (
            f"decode_candidates (top_k {metadata['top_k']})",
            tf.function(lambda: decode_candidates(maps, int(metadata["top_k"]))),
        ),
        ("class map", tf.function(lambda: tf.argmax(maps, axis=-1))),
    ]
    parts += [(f"signature {name}", lambda s=s: s(images=images)) for name, s in signatures.items()]
    print(f"{version_dir}, batch {args.batch_size}, ms per image (median of {args.rounds})")
    for name, run in parts:
        run()  # warm-up: tracing and oneDNN primitive creation
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            result = run()
            _ = [tensor.numpy() for tensor in tf.nest.flatten(result)]
            times.append((time.perf_counter() - start) / args.batch_size * 1000)
        print(f"  {name:34s} {statistics.median(times):7.2f}")


if __name__ == "__main__":
    main()
