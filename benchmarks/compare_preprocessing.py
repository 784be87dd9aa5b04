"""The same model on labelled photos resized two ways: the service's path and TensorFlow's.

    python benchmarks/compare_preprocessing.py models/garment_landmarks ../shared/realval

The service (and, since version 10, training) decodes with Pillow, may decode a large JPEG at
a reduced scale, and resizes with OpenCV's INTER_AREA (`training.photo_labels.model_input`).
Training used to resize with `tf.image.resize(antialias=True)`. This prints the NE and PCK@0.1
of the model's default signature on the photos prepared each way, and how far the two model
inputs differ, to show whether the change matters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("photos", type=Path, help="a labelled photo folder (CSV form)")
    args = parser.parse_args()

    import tensorflow as tf

    from app.geometry import model_to_image
    from app.model_runtime import resolve_version_dir
    from training import photo_labels
    from training.metrics import compute_metrics

    photo_set = photo_labels.load_photo_set(args.photos)
    signature = tf.saved_model.load(str(resolve_version_dir(args.model))).signatures[
        "serving_default"
    ]

    def tensorflow_resized(photo: photo_labels.LabelledPhoto) -> np.ndarray:
        with Image.open(photo_set.folder / photo.image) as image:
            pixels = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        resized = tf.image.resize(pixels, (256, 256), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()

    tensorflow_inputs = np.stack([tensorflow_resized(photo) for photo in photo_set.photos])
    truth = np.stack([photo.points for photo in photo_set.photos])
    visible = np.ones(truth.shape[:2], dtype=bool)
    for name, inputs in (
        ("service (Pillow, INTER_AREA)", photo_set.images),
        ("tf.image.resize(antialias=True)", tensorflow_inputs),
    ):
        points = np.concatenate(
            [
                signature(images=tf.constant(inputs[start : start + 8]))["landmarks"].numpy()
                for start in range(0, len(inputs), 8)
            ]
        )
        in_image = np.stack(
            [model_to_image(points[i], *photo_set.sizes[i]) for i in range(len(points))]
        )
        metrics = compute_metrics(in_image, truth, visible, photo_set.sizes)
        difference = np.abs(inputs.astype(np.int16) - photo_set.images.astype(np.int16)).mean()
        print(
            f"{name:34s} NE {metrics['normalized_error']:.4f}  "
            f"PCK@0.1 {metrics['pck']['0.1']:.3f}  mean |input - service input| {difference:.2f}"
        )


if __name__ == "__main__":
    main()
