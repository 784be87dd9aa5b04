"""Adapts an exported model to a user's own photos: mirror-consistent pseudo-labels, fine-tune.

    exported model -> Keras network with its weights
    unlabelled photos -> the network on each photo and on its mirror image
        -> keep photos where both agree on all six points -> pseudo-labels (their mean)
    fine-tune: synthetic images + pseudo-labelled photos (+ labelled photos) -> new version

A network that is right about a photo answers the same for its mirror image (with left and
right swapped); where the two answers disagree it is guessing. Only photos whose six points
all agree within `agreement_px` become training labels, so the model learns the look of the
new photos from its own confident answers without learning its mistakes. Synthetic images stay
in every batch so that it does not forget what they taught it.

Photos go through the service's own decoding and resizing (`training.photo_labels`), and the
export keeps the source model's serving form (mirror-averaged or not).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.errors import InputError
from app.geometry import model_to_image
from app.model_runtime import read_metadata, read_metadata_document, resolve_version_dir
from training import photo_labels
from training.labels import LabelProfile
from training.landmarks import FLIP_PERMUTATION, IMAGE_SIZE
from training.model import build_model
from training.peaks import decode_landmarks
from training.photo_labels import PHOTO_SUFFIXES, list_photos
from training.train import TrainConfig, TrainResult, compile_model, train

logger = logging.getLogger(__name__)

PSEUDO_LABELS_DIR = "pseudo_labels"


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """One adaptation run; the CLI fills it from flags."""

    model_dir: Path  # models/<name> (newest version) or models/<name>/<version>
    photos_dir: Path  # the user's photos, unlabelled (searched recursively)
    out_dir: Path  # models/<name> of the adapted export
    version: int
    run_dir: Path
    labelled_dirs: tuple[Path, ...] = ()  # optional labelled photo folders (CSV form)
    synthetic_dir: Path | None = None  # In-shop synthetic set; None: generate one in run_dir
    synthetic_count: int = 2000
    # Validates (and picks the best epoch); None: a share of the synthetic images does.
    validation_dir: Path | None = None
    agreement_px: float = 8.0  # in the 256x256 model space
    photo_weight: float = 0.5
    epochs: int = 4
    steps_per_epoch: int = 100
    batch_size: int = 16
    learning_rate: float = 2e-4
    seed: int = 0
    verbose: int = 2


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """What the pseudo-labelling step found.

    Attributes:
        labels_file: the CSV (photo_labels form) of the photos that were kept.
        kept: photos whose six points agreed with their mirror image's.
        disagreeing: photos left out because some point did not.
        unreadable: files that are not images the service accepts, with the reason.
    """

    labels_file: Path
    kept: int
    disagreeing: int
    unreadable: list[tuple[str, str]]


def load_network(model_dir: Path) -> tuple[keras.Model, dict[str, Any]]:
    """Rebuilds an exported model's Keras network with its trained weights.

    The SavedModel tracks the network's variables by name; the network is rebuilt from the
    architecture metadata.json records (architecture, width, network size) and each variable
    copied over.

    Returns:
        The network (float32 [N, 256, 256, 3] -> [N, 256, 256, 7]) and the metadata document.
    """
    version_dir = resolve_version_dir(Path(model_dir))
    read_metadata(version_dir)  # validates the fields the service needs
    metadata = read_metadata_document(version_dir)
    network = build_model(
        metadata["architecture"],
        float(metadata["width_multiplier"]),
        pretrained=False,
        network_size=metadata.get("network_size"),
    )
    loaded = tf.saved_model.load(str(version_dir))
    # Exports list the signatures' variables as `_all_variables`; older ones (which also tracked
    # the model) have them as `variables` too.
    saved = list(getattr(loaded, "_all_variables", [])) or list(loaded.variables)
    restored = {v.name.removesuffix(":0"): v for v in saved}
    # Weights only: dropout seed-generator state is numbered per build and not worth restoring.
    for variable in network.weights:
        source = restored.get(variable.path)
        if source is None or tuple(source.shape) != tuple(variable.shape):
            raise ValueError(f"{version_dir}: no saved variable fits {variable.path}")
        variable.assign(source)
    return network, metadata


def mirror_consistent_points(
    network: keras.Model, images: np.ndarray, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Runs the network on images and on their mirrors.

    Args:
        network: the landmark network.
        images: uint8 [N, 256, 256, 3].
        batch_size: images per network call.

    Returns:
        points float32 [N, 6, 2], the mean of the two answers (mirror answer flipped back, left
        and right swapped), and disagreement float32 [N, 6], the distance between them in
        model pixels.
    """
    points, disagreement = [], []
    for start in range(0, len(images), batch_size):
        batch = tf.cast(images[start : start + batch_size], tf.float32)
        direct, _ = decode_landmarks(network(batch, training=False))
        mirrored, _ = decode_landmarks(network(tf.reverse(batch, axis=[2]), training=False))
        mirrored = mirrored.numpy()[:, list(FLIP_PERMUTATION)]
        mirrored[..., 0] = IMAGE_SIZE - 1.0 - mirrored[..., 0]
        direct_points = direct.numpy()
        points.append((direct_points + mirrored) / 2.0)
        disagreement.append(np.linalg.norm(direct_points - mirrored, axis=-1))
    return np.concatenate(points).astype(np.float32), np.concatenate(disagreement)


def pseudo_label(
    network: keras.Model, photos: list[Path], out_dir: Path, agreement_px: float
) -> PseudoLabels:
    """Labels the photos the network answers consistently; writes `out_dir/labels.csv`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs, sizes, names, unreadable = [], [], [], []
    for path in photos:
        try:
            pixels, width, height = photo_labels.model_input(path)
        except InputError as error:
            unreadable.append((str(path), error.message))
            continue
        inputs.append(pixels)
        sizes.append((width, height))
        names.append(path.resolve())
    kept_rows = []
    disagreeing = 0
    if inputs:
        points, disagreement = mirror_consistent_points(network, np.stack(inputs))
        for name, (width, height), image_points, distances in zip(
            names, sizes, points, disagreement, strict=True
        ):
            if float(distances.max()) > agreement_px:
                disagreeing += 1
                continue
            pixels_points = model_to_image(image_points, width, height)
            pixels_points = np.clip(pixels_points, -0.5, np.array([width, height]) - 0.5)
            kept_rows.append(
                [str(name), width, height, *(f"{value:.2f}" for value in pixels_points.reshape(-1))]
            )
    labels_file = out_dir / photo_labels.LABEL_FILES[0]
    with labels_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "width", "height", *photo_labels.POINT_COLUMNS])
        writer.writerows(kept_rows)
    return PseudoLabels(labels_file, len(kept_rows), disagreeing, unreadable)


def adapt(config: AdaptConfig) -> tuple[PseudoLabels, TrainResult]:
    """Pseudo-labels the photos, then fine-tunes and exports (see the module docstring).

    Raises:
        ValueError: no photo was answered consistently enough to train on, and no labelled
            folder was given.
    """
    config.run_dir.mkdir(parents=True, exist_ok=True)
    network, metadata = load_network(config.model_dir)
    photos = list_photos(config.photos_dir)
    if not photos:
        raise ValueError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) under {config.photos_dir}")
    labels = pseudo_label(network, photos, config.run_dir / PSEUDO_LABELS_DIR, config.agreement_px)
    logger.info(
        "pseudo-labels: %d of %d photos kept, %d disagreed with their mirror image, %d unreadable",
        labels.kept,
        len(photos),
        labels.disagreeing,
        len(labels.unreadable),
    )
    photo_dirs = ((labels.labels_file,) if labels.kept else ()) + config.labelled_dirs
    if labels.kept + labels.disagreeing == 0 and not config.labelled_dirs:
        shown = "; ".join(f"{path}: {reason}" for path, reason in labels.unreadable[:3])
        raise ValueError(f"none of the {len(photos)} photos could be read ({shown})")
    if not photo_dirs:
        raise ValueError(
            f"none of the {len(photos)} photos was answered consistently within "
            f"{config.agreement_px} px; raise --agreement-px or add labelled photos"
        )

    synthetic_dir = config.synthetic_dir
    if synthetic_dir is None:
        from training.synth.dataset import generate_dataset

        synthetic_dir = config.run_dir / "synthetic"
        generate_dataset(synthetic_dir, config.synthetic_count, config.seed)

    # Fine-tune with the losses and labels the source model was trained with.
    recorded = metadata.get("training", {})
    weights = recorded.get("class_weights")
    profile = recorded.get("label_profile")
    train_config = TrainConfig(
        data_dir=synthetic_dir,
        background_weight=float(weights[0]) if weights else 1.0,
        landmark_weight=float(weights[1]) if weights else 65536.0,
        profile=LabelProfile(**{**profile, "ring": tuple(profile["ring"])})
        if profile
        else LabelProfile(),
        out_dir=config.out_dir,
        version=config.version,
        run_dir=config.run_dir,
        architecture=metadata["architecture"],
        width_multiplier=float(metadata["width_multiplier"]),
        photo_dirs=photo_dirs,
        photo_weight=config.photo_weight,
        validation_dir=config.validation_dir,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_schedule="cosine",
        seed=config.seed,
        top_k=int(metadata.get("top_k", 5)),
        flip_average=bool(metadata.get("flip_average", False)),
        verbose=config.verbose,
    )
    start = config.run_dir / "start.keras"
    compile_model(network, train_config)
    network.save(start)
    result = train(dataclasses.replace(train_config, resume_from=start))
    return labels, result
