"""The `tf.data` input pipeline: image files and points -> (image, label map) batches.

    paths, points -> read + decode -> resize to 256 (points scaled) -> cache
        -> shuffle -> augment (training only) -> label maps -> batch -> prefetch

Decoded, resized images are cached (uint8, 192 KiB each), so after the first epoch the only
per-step work is augmentation and label construction, both vectorised graph ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.annotations import Annotation
from training.augment import AugmentOptions, augment
from training.labels import LabelProfile, make_label_map
from training.landmarks import IMAGE_SIZE


def load_image(path: tf.Tensor, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Reads an image file and resizes it to the model's input size.

    Args:
        path: string scalar, an image file (JPEG, PNG, BMP or GIF).
        points: float32 [6, 2] (x, y) pixel indices in the file's own pixel space.

    Returns:
        uint8 [256, 256, 3] RGB and float32 [6, 2] points in the resized image's pixel space
        (pixel centres map as x' = (x + 0.5) * 256 / W - 0.5).
    """
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    size = tf.cast(tf.shape(image)[:2], tf.float32)  # (H, W)
    scale = tf.constant([IMAGE_SIZE, IMAGE_SIZE], tf.float32) / tf.stack([size[1], size[0]])
    resized = tf.image.resize(image, (IMAGE_SIZE, IMAGE_SIZE), antialias=True)
    resized = tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
    return resized, (points + 0.5) * scale - 0.5


def file_samples(annotations: Sequence[Annotation], data_dir: Path) -> tf.data.Dataset:
    """(uint8 [256, 256, 3] image, float32 [6, 2] points) per annotated image file, cached."""
    if not annotations:
        raise ValueError("cannot build a dataset from zero samples")
    paths = [str(data_dir / a.image_name) for a in annotations]
    points = np.stack([a.points for a in annotations]).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((paths, points))
    return dataset.map(load_image, num_parallel_calls=tf.data.AUTOTUNE).cache()


def array_samples(images: np.ndarray, points: np.ndarray) -> tf.data.Dataset:
    """The same from images already in memory (`training.photo_labels.PhotoSet`).

    Args:
        images: uint8 [N, 256, 256, 3].
        points: float32 [N, 6, 2] in the 256x256 space.
    """
    if len(images) == 0:
        raise ValueError("cannot build a dataset from zero samples")
    return tf.data.Dataset.from_tensor_slices((images, points.astype(np.float32)))


def labelled_stream(
    samples: tf.data.Dataset,
    *,
    training: bool,
    profile: LabelProfile = LabelProfile(),
    augment_options: AugmentOptions | None = AugmentOptions(),
    seed: int = 0,
    shuffle_buffer: int = 0,
) -> tf.data.Dataset:
    """Samples -> (float32 [256, 256, 3] image, float32 [256, 256, 7] label map), unbatched.

    Training shuffles (over `shuffle_buffer` samples, default all of them) and augments.
    """
    if training:
        buffer = shuffle_buffer or int(samples.cardinality())
        samples = samples.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)

    def to_float(image: tf.Tensor, sample_points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(image, tf.float32), sample_points

    dataset = samples.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment_options is not None:
        options = augment_options
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda sample, sample_seed: augment(sample[0], sample[1], sample_seed, options),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def to_labels(image: tf.Tensor, sample_points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return image, make_label_map(sample_points, profile)

    return dataset.map(to_labels, num_parallel_calls=tf.data.AUTOTUNE)


def mix_streams(
    streams: Sequence[tf.data.Dataset], weights: Sequence[float], seed: int = 0
) -> tf.data.Dataset:
    """Draws each sample from one of several endless streams with the given probabilities.

    Every stream is repeated, so a small set of real photos can make up a fixed share of every
    batch however many synthetic images there are (the result is endless: train with
    `steps_per_epoch`).
    """
    if len(streams) != len(weights) or not streams:
        raise ValueError("need one weight per stream, and at least one stream")
    if len(streams) == 1:
        return streams[0].repeat()
    total = float(sum(weights))
    return tf.data.Dataset.sample_from_datasets(
        [stream.repeat() for stream in streams],
        weights=[weight / total for weight in weights],
        seed=seed,
    )


def batched(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Batches (keeping a short last batch) and prefetches."""
    return dataset.batch(batch_size, drop_remainder=False).prefetch(tf.data.AUTOTUNE)


def make_dataset(
    annotations: Sequence[Annotation],
    data_dir: Path,
    batch_size: int,
    *,
    training: bool,
    profile: LabelProfile = LabelProfile(),
    augment_options: AugmentOptions | None = AugmentOptions(),
    seed: int = 0,
) -> tf.data.Dataset:
    """Builds the input pipeline for one split of an In-shop data directory.

    Args:
        annotations: the samples (six visible landmarks each).
        data_dir: the folder the annotations' image names are relative to.
        batch_size: global batch size.
        training: shuffle and augment when true.
        profile: label map profile.
        augment_options: augmentation ranges; None turns augmentation off.
        seed: seeds shuffling and augmentation.

    Returns:
        A dataset of (float32 [B, 256, 256, 3] images in 0..255,
        float32 [B, 256, 256, 7] label maps).
    """
    stream = labelled_stream(
        file_samples(annotations, data_dir),
        training=training,
        profile=profile,
        augment_options=augment_options,
        seed=seed,
    )
    return batched(stream, batch_size)
