"""Exports a trained network as a TensorFlow SavedModel with decoding inside the graph.

Layout (the one TensorFlow Serving reads)::

    models/<name>/<version>/saved_model.pb, variables/, metadata.json

The `serving_default` signature takes `images: uint8 [N, 256, 256, 3]` RGB and returns
`landmarks: float32 [N, 6, 2]`, `scores: float32 [N, 6]`, `class_map: uint8 [N, 256, 256]`,
`candidate_points: float32 [N, 6, K, 2]` and `candidate_scores: float32 [N, 6, K]`
(see docs/CONTRACT.md). The pixel cast and normalisation run inside the graph too, so a caller
only ever sends raw pixels.

An export can average the network's output over each image and its mirror (`flip_average`):
the mirrored image's maps are flipped back and their left/right landmark channels swapped, so
both halves vote on every landmark. It costs a second pass of the network per image and is
recorded in metadata.json. Such an export also keeps the one-pass computation as a second
signature, `serving_single_pass` (same inputs and outputs), for deployments that prefer the
speed.

What `scores` means (recorded in metadata.json as `score`):

- one pass (`peak`): the landmark's own-channel probability at its peak;
- mirror-averaged (`peak_x_mirror_agreement`): that probability on the averaged maps times
  exp(-d^2 / (2 sigma^2)), where d is the distance (model pixels) between the peaks found in
  the image and in its mirror image (mirrored back), sigma = `MIRROR_AGREEMENT_SIGMA`. The
  networks trained with the seed's class weights put a high peak probability on wrong points
  too; whether the two views agree is what tells a right point from a guess on real photos
  (models/README.md gives the measurement).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

# The contract's names (signatures, metadata file) are the service's: it reads what this writes.
# SINGLE_PASS_SIGNATURE_NAME is present only in mirror-averaged exports.
from app.model_runtime import METADATA_FILE, SIGNATURE_NAME, SINGLE_PASS_SIGNATURE_NAME
from training.landmarks import CLASS_COLORS, FLIP_PERMUTATION, IMAGE_SIZE, LANDMARK_NAMES
from training.model import network_size_of
from training.peaks import decode_candidates, decode_landmarks

DEFAULT_TOP_K = 5
# Output channel c of a mirrored image holds class MIRRORED_CLASSES[c] of the original image:
# background stays, each left/right landmark pair swaps.
MIRRORED_CLASSES = (0, *(landmark + 1 for landmark in FLIP_PERMUTATION))
# Model pixels of disagreement between the two views at which a score falls to exp(-1/2).
MIRROR_AGREEMENT_SIGMA = 8.0


def score_description(flip_average: bool) -> dict[str, Any]:
    """The metadata.json `score` entry: what the signature's `scores` are."""
    if not flip_average:
        return {"kind": "peak"}
    return {"kind": "peak_x_mirror_agreement", "agreement_sigma": MIRROR_AGREEMENT_SIGMA}


def mirror_pair(model: keras.Model, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The network on images and on their mirrors (one call, a batch of 2N).

    Returns:
        float32 [N, 256, 256, 7] twice: the direct output, and the mirrored images' output
        mirrored back with left/right classes swapped (so both are in the image's frame).
    """
    pixels = tf.cast(images, tf.float32)
    count = tf.shape(pixels)[0]
    both = model(tf.concat([pixels, tf.reverse(pixels, axis=[2])], axis=0), training=False)
    mirrored_back = tf.gather(tf.reverse(both[count:], axis=[2]), MIRRORED_CLASSES, axis=-1)
    return both[:count], mirrored_back


def network_probabilities(
    model: keras.Model, images: tf.Tensor, flip_average: bool = False
) -> tf.Tensor:
    """Runs the network, optionally averaged with its output on the mirrored images.

    Args:
        model: the landmark network.
        images: uint8 [N, 256, 256, 3] RGB.
        flip_average: also run the horizontally mirrored images (in the same call, as a batch
            of 2N), mirror their maps back, swap left/right channels and average.

    Returns:
        float32 [N, 256, 256, 7] class probabilities.
    """
    if not flip_average:
        return model(tf.cast(images, tf.float32), training=False)
    direct, mirrored_back = mirror_pair(model, images)
    return (direct + mirrored_back) / 2.0


def class_map_divisors(weights: Sequence[float]) -> tuple[float, ...]:
    """Per-class divisors that undo most of a class-weighted loss's bias in the class map.

    A network trained with class weights w over-predicts the heavily weighted classes: with the
    seed's weights (landmarks 65,536 times background) nearly every pixel's argmax is some
    landmark, and the overlay tints the whole photo. Dividing by w itself would undo the bias
    entirely but no network is that well calibrated (no pixel would be a landmark); dividing
    by sqrt(w / w_background) leaves the landmark classes about the area of their label
    plateaus (models/README.md). Landmark points and scores do not use the class map.

    Args:
        weights: the training class weights, background first (7 values).

    Returns:
        7 divisors, background 1.
    """
    return tuple(math.sqrt(weight / weights[0]) for weight in weights)


def serving_outputs(
    model: keras.Model,
    images: tf.Tensor,
    top_k: int,
    flip_average: bool = False,
    divisors: Sequence[float] | None = None,
) -> dict[str, tf.Tensor]:
    """Runs the network and decodes its output; the body of the serving signature.

    Args:
        model: the landmark network.
        images: uint8 [N, 256, 256, 3] RGB.
        top_k: candidates per landmark.
        flip_average: average with the mirrored images' output (`network_probabilities`).
        divisors: 7 per-class divisors applied before the class map's argmax
            (`class_map_divisors`); None: the plain argmax.

    Returns:
        The signature's output dict (see module docstring; `scores` per `score_description`).
    """
    if flip_average:
        direct, mirrored_back = mirror_pair(model, images)
        probabilities = (direct + mirrored_back) / 2.0
    else:
        probabilities = network_probabilities(model, images)
    landmarks, scores = decode_landmarks(probabilities)
    if flip_average:
        count = tf.shape(images)[0]
        views, _ = decode_landmarks(tf.concat([direct, mirrored_back], axis=0))  # [2N, 6, 2]
        squared = tf.reduce_sum(tf.square(views[:count] - views[count:]), axis=-1)
        scores = scores * tf.exp(-squared / (2.0 * MIRROR_AGREEMENT_SIGMA**2))
    candidate_points, candidate_scores = decode_candidates(probabilities, top_k)
    weighted = probabilities
    if divisors is not None:
        weighted = probabilities / tf.constant(divisors, tf.float32)
    class_map = tf.cast(tf.argmax(weighted, axis=-1), tf.uint8)
    return {
        "landmarks": landmarks,
        "scores": scores,
        "class_map": class_map,
        "candidate_points": candidate_points,
        "candidate_scores": candidate_scores,
    }


def base_metadata(
    name: str,
    version: int,
    architecture: str,
    width_multiplier: float,
    top_k: int = DEFAULT_TOP_K,
) -> dict[str, Any]:
    """The metadata fields every export has; training adds data and evaluation summaries."""
    return {
        "name": name,
        "version": version,
        "architecture": architecture,
        "width_multiplier": width_multiplier,
        "input_size": [IMAGE_SIZE, IMAGE_SIZE],
        "top_k": top_k,
        "landmarks": [
            {"id": index + 1, "name": landmark_name, "color": list(CLASS_COLORS[index + 1])}
            for index, landmark_name in enumerate(LANDMARK_NAMES)
        ],
        "background_color": list(CLASS_COLORS[0]),
    }


def write_metadata(export_dir: Path, metadata: dict[str, Any]) -> Path:
    """Writes `metadata.json` beside a SavedModel, stamping the export time and versions."""
    document = {
        **metadata,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "framework": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    path = export_dir / METADATA_FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def export_saved_model(
    model: keras.Model,
    export_dir: Path,
    metadata: dict[str, Any],
    top_k: int = DEFAULT_TOP_K,
    flip_average: bool = False,
    divisors: Sequence[float] | None = None,
) -> Path:
    """Writes the SavedModel and its metadata file.

    Args:
        model: the landmark network (float32 [N, 256, 256, 3] -> float32 [N, 256, 256, 7]).
        export_dir: `models/<name>/<version>`; created, and replaced if it exists.
        metadata: fields for metadata.json (see `base_metadata`); `top_k` is set from the
            argument, `network_size` from the model.
        top_k: candidates per landmark in the signature's candidate outputs.
        flip_average: average each image's output with its mirror's (two network passes per
            image) in `serving_default`, and add `serving_single_pass`; metadata.json records
            it as `flip_average`.
        divisors: per-class divisors for the class map (`class_map_divisors`), recorded in
            metadata.json as `class_map_divisors`; None: the plain argmax.

    Returns:
        `export_dir`.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    export_dir = Path(export_dir)
    export_dir.parent.mkdir(parents=True, exist_ok=True)

    images_spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, name="images")

    @tf.function(input_signature=[images_spec])
    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return serving_outputs(model, images, top_k, flip_average, divisors)

    @tf.function(input_signature=[images_spec])
    def serve_single_pass(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return serving_outputs(model, images, top_k, divisors=divisors)

    # No `archive.track(model)`: the endpoints' variables are saved anyway (as `_all_variables`),
    # and tracking the model as well writes every weight a second time under `variables`.
    archive = keras.export.ExportArchive()
    archive.add_endpoint(SIGNATURE_NAME, serve)
    if flip_average:
        archive.add_endpoint(SINGLE_PASS_SIGNATURE_NAME, serve_single_pass)
    # Write beside the target and swap in, so a crash never leaves a half-written model where
    # the service would load it.
    staging_dir = export_dir.with_name(f".{export_dir.name}.staging")
    if staging_dir.exists():
        shutil.rmtree(staging_dir)
    archive.write_out(str(staging_dir), verbose=False)
    write_metadata(
        staging_dir,
        {
            **metadata,
            "top_k": top_k,
            # The resolution the network runs at inside the model, which `load_network`
            # (training.adapt) needs beside the architecture fields to rebuild it.
            "network_size": network_size_of(model),
            "flip_average": flip_average,
            "score": score_description(flip_average),
            "class_map_divisors": list(divisors) if divisors is not None else None,
        },
    )
    if export_dir.exists():
        shutil.rmtree(export_dir)
    os.replace(staging_dir, export_dir)
    return export_dir
