"""Which per-landmark score best separates right points from wrong ones on labelled photos.

    python benchmarks/calibrate_detection.py MODEL_DIR PHOTO_FOLDER [PHOTO_FOLDER ...]

Rebuilds the exported network (`training.adapt.load_network`), runs every photo (through the
service's decoding and resizing) and its mirror image, and scores each landmark several ways:

- `peak`: the mirror-averaged map's probability at the peak pixel (the single pass's score);
- `mass`: the mirror-averaged probability summed over the 7x7 window around the peak, over
  the same sum for a perfect label (the ring profile's 25 + 24 * 0.8);
- `agreement s`: exp(-d^2 / (2 s^2)) of the distance d (model pixels) between the peaks found
  in the image and in its mirror image (flipped back): a point both views agree on;
- `peak x agreement s`: what a mirror-averaged export reports as `scores`
  (`training.export.MIRROR_AGREEMENT_SIGMA` is the s it uses).

A point is right when its normalised distance is below 0.1. For each score it prints the
threshold with the highest recall at precision >= 0.95 (if any), and precision and recall at a
few fixed thresholds, so the service's score and default threshold can be chosen from data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf

from training import photo_labels
from training.adapt import load_network
from training.export import mirror_pair
from training.landmarks import IMAGE_SIZE
from training.metrics import RIGHT_DISTANCE
from training.peaks import decode_landmarks

LABEL_MASS = 25 * 1.0 + 24 * 0.8
SIGMAS = (4.0, 6.0, 8.0, 12.0)


def scores_and_truth(
    model_dir: Path, folders: list[Path]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every score of every landmark of every photo (flattened), and whether it is right."""
    network, _ = load_network(model_dir)
    scores: dict[str, list[np.ndarray]] = {"peak": [], "mass": [], "distance": []}
    right: list[np.ndarray] = []
    for folder in folders:
        photos = photo_labels.load_photo_set(folder)
        for start in range(0, len(photos.photos), 8):
            # The image's and its mirror image's maps, both in the image's frame, as served.
            direct, back = mirror_pair(network, tf.constant(photos.images[start : start + 8]))
            averaged = (direct + back) / 2.0
            points, peak = decode_landmarks(averaged)
            direct_points, _ = decode_landmarks(direct)
            back_points, _ = decode_landmarks(back)
            window = tf.nn.avg_pool2d(averaged[..., 1:], 7, 1, "SAME") * 49.0
            rounded = tf.cast(tf.round(points), tf.int32)
            rounded = tf.clip_by_value(rounded, 0, IMAGE_SIZE - 1)
            mass = tf.gather_nd(
                tf.transpose(window, (0, 3, 1, 2)),
                tf.stack([rounded[..., 1], rounded[..., 0]], axis=-1),
                batch_dims=2,
            )
            distance = tf.norm(direct_points - back_points, axis=-1)
            scores["peak"].append(peak.numpy())
            scores["mass"].append(np.minimum(mass.numpy() / LABEL_MASS, 1.0))
            scores["distance"].append(distance.numpy())
            truth = photos.points[start : start + 8]
            normalised = np.linalg.norm((points.numpy() - truth) / IMAGE_SIZE, axis=-1)
            right.append(normalised < RIGHT_DISTANCE)
    flat = {name: np.concatenate(values).reshape(-1) for name, values in scores.items()}
    distance = flat.pop("distance")
    for sigma in SIGMAS:
        agreement = np.exp(-(distance**2) / (2 * sigma**2))
        flat[f"agreement {sigma:g}"] = agreement
        flat[f"peak x agreement {sigma:g}"] = flat["peak"] * agreement
    return flat, np.concatenate(right).reshape(-1)


def precision_recall(score: np.ndarray, right: np.ndarray, threshold: float) -> tuple[float, float]:
    detected = score >= threshold
    precision = float((detected & right).sum() / max(detected.sum(), 1))
    recall = float((detected & right).sum() / max(right.sum(), 1))
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    scores, right = scores_and_truth(args.model, args.folders)
    print(f"{right.size} points, {right.mean():.1%} right (normalised distance < 0.1)")
    print("score                | best thr @ prec>=0.95 | prec  recall | P/R at 0.3, 0.5, 0.7, 0.9")
    for name, score in scores.items():
        best = None
        for threshold in np.unique(score):
            precision, recall = precision_recall(score, right, float(threshold))
            if precision >= 0.95 and (best is None or recall > best[2]):
                best = (float(threshold), precision, recall)
        fixed = " ".join(
            "{:.2f}/{:.2f}".format(*precision_recall(score, right, t)) for t in (0.3, 0.5, 0.7, 0.9)
        )
        best_text = f"{best[0]:.3f} | {best[1]:.3f} {best[2]:.3f}" if best else "none |"
        print(f"{name:20s} | {best_text} | {fixed}")
        print(
            f"{'':20s}   median right {np.median(score[right]):.3f}, "
            f"wrong {np.median(score[~right]) if (~right).any() else float('nan'):.3f}"
        )


if __name__ == "__main__":
    main()
