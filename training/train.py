"""Training: labelled data -> a trained, evaluated, exported model.

    sources -> split -> datasets (mixed) -> model (under a tf.distribute strategy) -> fit
        -> best checkpoint -> SavedModel in models/<name>/<version> -> validation figures

A source is a folder in In-shop layout (`training.annotations`) or a folder of labelled real
photos in the CSV form (`training.photo_labels`). `data_dir` is split into training and
validation rows unless `validation_dir` names the validation set; `photo_dirs` add labelled
photos to training, drawn for `photo_weight` of every batch however few they are.

Run artefacts go to the run directory (default `runs/<name>`): `training_log.csv`,
`tensorboard/`, `checkpoints/best.keras` (best on the monitored validation figure),
`checkpoints/last.keras` (for `--initial-epoch` resumes) and `curves.png`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal, get_args

import keras
import numpy as np
import tensorflow as tf

from app.model_runtime import SIGNATURE_NAME, read_metadata_document
from training import photo_labels
from training.annotations import FilterOptions, load_all, load_split
from training.augment import AugmentOptions
from training.callbacks import make_callbacks
from training.dataset import (
    Samples,
    array_samples,
    batched,
    file_samples,
    labelled_stream,
    mix_streams,
)
from training.distribute import make_strategy
from training.export import (
    base_metadata,
    class_map_divisors,
    export_saved_model,
    write_metadata,
)
from training.labels import LabelProfile
from training.loss import LandmarkError, WeightedCategoricalCrossentropy, class_weights
from training.model import PRETRAINED_ARCHITECTURES, build_model, network_size_of
from training.plots import plot_history

logger = logging.getLogger(__name__)


LearningRateSchedule = Literal["constant", "cosine"]
LR_SCHEDULES: tuple[str, ...] = get_args(LearningRateSchedule)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; the CLI fills it from flags."""

    data_dir: Path  # In-shop layout or a labelled photo folder
    out_dir: Path  # models/<name>; the export lands in out_dir/<version>
    # Labelled photo folders (CSV form) mixed into training at photo_weight of each batch.
    photo_dirs: tuple[Path, ...] = ()
    photo_weight: float = 0.3
    # A labelled folder (either form) that validates; data_dir is then not split.
    validation_dir: Path | None = None
    # Pretrained encoders: keep the whole encoder fixed (a first transfer stage), and whether
    # its BatchNorm layers keep their ImageNet statistics (the default) or adapt.
    freeze_encoder: bool = False
    train_encoder_bn: bool = False
    version: int = 1
    run_dir: Path | None = None  # default runs/<name>
    architecture: str = "unet"
    width_multiplier: float = 1.0
    # efficientnet_unet: the resolution the network runs at inside the 256x256 model (None:
    # 256). A resumed checkpoint keeps its own.
    network_size: int | None = None
    dropout_rate: float = 0.3
    epochs: int = 400
    initial_epoch: int = 0
    resume_from: Path | None = None
    batch_size: int = 10
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    seed: int = 0
    filters: FilterOptions = FilterOptions()
    profile: LabelProfile = LabelProfile()
    background_weight: float = 1.0
    landmark_weight: float = 65536.0
    augment: bool = True
    steps_per_epoch: int | None = None
    monitor: str = "val_landmark_error"
    time_limit_minutes: float | None = None
    devices: tuple[str, ...] | None = None
    top_k: int = 5
    # Export with the mirror-averaged signature (training/export.py): two passes per image.
    flip_average: bool = False
    mixed_precision: bool = False
    reduce_lr_patience: int = 0  # 0: constant learning rate
    # "constant" keeps learning_rate (ReduceLROnPlateau may still halve it); "cosine" anneals
    # from learning_rate at initial_epoch to near zero at the last epoch, also on a resume.
    lr_schedule: LearningRateSchedule = "constant"
    # Epoch at which the cosine began (default: initial_epoch). Resuming a cosine run that was
    # cut short with its original start continues the same curve instead of restarting it.
    schedule_start_epoch: int | None = None
    verbose: int = 1

    @property
    def name(self) -> str:
        return self.out_dir.name

    @property
    def resolved_run_dir(self) -> Path:
        return self.run_dir or Path("runs") / self.name

    def __post_init__(self) -> None:
        if self.photo_dirs and not 0.0 < self.photo_weight < 1.0:
            raise ValueError(f"photo_weight must be between 0 and 1, got {self.photo_weight}")
        if self.photo_dirs and not self.steps_per_epoch:
            raise ValueError(
                "mixing in photo folders makes the training stream endless: set steps_per_epoch"
            )
        start = self.schedule_start_epoch
        if start is None:
            return
        if self.lr_schedule != "cosine":
            raise ValueError(
                "schedule_start_epoch applies to the cosine schedule only, "
                f"not {self.lr_schedule!r}"
            )
        if not 0 <= start <= self.initial_epoch:
            raise ValueError(
                f"schedule_start_epoch ({start}) must lie between 0 and initial_epoch "
                f"({self.initial_epoch}): a schedule cannot start after the epochs it covers"
            )


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    export_dir: Path
    run_dir: Path
    best_checkpoint: Path
    epochs_run: int
    seconds: float
    validation: dict[str, Any]


def float32_copy(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The same network and weights computing in float32, for export.

    A model trained under `mixed_bfloat16` would otherwise serve in bfloat16, which is slow on
    CPUs without native bfloat16 and coarser than the service needs.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build_model(
            config.architecture,
            config.width_multiplier,
            config.dropout_rate,
            pretrained=False,
            network_size=network_size_of(model),
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """Attaches optimiser, weighted loss and metrics (per-pixel accuracy, landmark error)."""
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=WeightedCategoricalCrossentropy(
            class_weights(config.background_weight, config.landmark_weight)
        ),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"), LandmarkError()],
    )


def _resume_path(config: TrainConfig, run_dir: Path) -> Path | None:
    if config.resume_from is not None:
        return config.resume_from
    if config.initial_epoch > 0:
        return run_dir / "checkpoints" / "last.keras"
    return None


@dataclasses.dataclass(frozen=True)
class LabelledData:
    """One source read: its samples in memory, how many, and where they came from."""

    samples: Samples
    count: int
    description: str


def read_source(
    path: Path, filters: FilterOptions, validation_fraction: float | None, seed: int
) -> tuple[LabelledData, LabelledData | None]:
    """Reads a labelled folder of either form and splits it.

    Args:
        path: a folder in In-shop layout (split by its partition file when it has one) or a
            labelled photo folder.
        filters: the In-shop row filter.
        validation_fraction: the seeded random share that validates; None: no split at all.
        seed: seeds the split.
    """
    if photo_labels.is_photo_folder(path):
        photos = photo_labels.load_photo_set(path)
        order = np.random.default_rng(seed).permutation(len(photos.photos))
        count = round(len(order) * (validation_fraction or 0.0))
        if count >= len(order):
            raise ValueError(
                f"{path}: a validation fraction of {validation_fraction} leaves none of its "
                f"{len(order)} photos to train on"
            )
        where = f"photos {path}" + (
            f" (random split, seed {seed}, fraction {validation_fraction})" if count else ""
        )
        train_photos = photo_labels.subset(photos, sorted(order[count:]))
        train_part = LabelledData(
            array_samples(train_photos.images, train_photos.points), len(train_photos.photos), where
        )
        if not count:
            return train_part, None
        held_out = photo_labels.subset(photos, sorted(order[:count]))
        return train_part, LabelledData(
            array_samples(held_out.images, held_out.points), len(held_out.photos), where
        )
    if validation_fraction is None:
        annotations = load_all(path, filters)
        return LabelledData(file_samples(annotations, path), len(annotations), str(path)), None
    split = load_split(path, filters, validation_fraction, seed)
    where = f"{path} ({split.source})"
    train_part = LabelledData(file_samples(split.train, path), len(split.train), where)
    validation_part = (
        LabelledData(file_samples(split.validation, path), len(split.validation), where)
        if split.validation
        else None
    )
    return train_part, validation_part


def validation_figures(export_dir: Path, samples: Samples, batch_size: int = 16) -> dict[str, Any]:
    """Scores an exported model on samples, through its serving signature.

    Points are compared in the 256-pixel model space: NE divides dx by the width and dy by the
    height, so it is the same there as in each image's own pixel space.
    """
    from training.metrics import compute_metrics

    signature = tf.saved_model.load(str(export_dir)).signatures[SIGNATURE_NAME]
    predicted = [
        signature(images=tf.constant(samples.images[start : start + batch_size]))[
            "landmarks"
        ].numpy()
        for start in range(0, len(samples), batch_size)
    ]
    predicted_points, true_points = np.concatenate(predicted), samples.points
    sizes = np.full((len(true_points), 2), 256.0, dtype=np.float32)
    visible = np.ones(true_points.shape[:2], dtype=bool)
    return dict(compute_metrics(predicted_points, true_points, visible, sizes))


def set_encoder_trainable(model: keras.Model, config: TrainConfig) -> bool:
    """Applies the config's encoder freezing to a pretrained-encoder model.

    Returns:
        Whether any layer's trainability changed (a loaded model must then be recompiled).
    """
    if config.architecture not in PRETRAINED_ARCHITECTURES:
        return False
    from training.efficientnet_lite import ENCODER_PREFIX

    changed = False
    for layer in model.layers:
        if not layer.name.startswith(ENCODER_PREFIX):
            continue
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        # A frozen BatchNorm layer also runs in inference mode: it keeps ImageNet's statistics
        # instead of estimating new ones from small, mostly synthetic batches.
        trainable = not config.freeze_encoder and (config.train_encoder_bn or not is_bn)
        if layer.trainable != trainable:
            layer.trainable = trainable
            changed = True
    return changed


def train(config: TrainConfig) -> TrainResult:
    """Runs one training job end to end (see module docstring)."""
    started = time.monotonic()
    run_dir = config.resolved_run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    fraction = None if config.validation_dir is not None else config.validation_fraction
    main, validation = read_source(config.data_dir, config.filters, fraction, config.seed)
    if config.validation_dir is not None:
        validation, _ = read_source(config.validation_dir, config.filters, None, config.seed)
    photos = [read_source(path, config.filters, None, config.seed)[0] for path in config.photo_dirs]
    logger.info(
        "data: %d training samples (%s), %d photos from %d folder(s) at weight %.2f, "
        "%d validation samples (%s)",
        main.count,
        main.description,
        sum(p.count for p in photos),
        len(photos),
        config.photo_weight if photos else 0.0,
        validation.count if validation else 0,
        validation.description if validation else "none",
    )

    strategy = make_strategy(config.devices)
    logger.info(
        "strategy %s over %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync
    )
    augment_options = AugmentOptions() if config.augment else None
    streams = [
        labelled_stream(
            source.samples,
            training=True,
            profile=config.profile,
            augment_options=augment_options,
            seed=config.seed + index,
        )
        for index, source in enumerate([main, *photos])
    ]
    if photos:
        weights = [1.0 - config.photo_weight] + [config.photo_weight / len(photos)] * len(photos)
        train_data = batched(mix_streams(streams, weights, config.seed), config.batch_size)
    else:
        train_data = batched(streams[0], config.batch_size)
        if config.steps_per_epoch:
            train_data = train_data.repeat()
    validation_data = (
        batched(
            labelled_stream(validation.samples, training=False, profile=config.profile),
            config.batch_size,
        )
        if validation
        else None
    )

    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        # bfloat16 convolutions run ~2-3x faster on CPUs with AVX512-BF16 and on recent GPUs;
        # variables stay float32.
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    resume = _resume_path(config, run_dir)
    with strategy.scope():
        if resume is not None:
            if not resume.is_file():
                raise FileNotFoundError(f"checkpoint to resume from does not exist: {resume}")
            logger.info("resuming from %s at epoch %d", resume, config.initial_epoch)
            model = keras.saving.load_model(resume)
            if set_encoder_trainable(model, config):
                # A new transfer stage: the optimiser starts afresh for the new variable set.
                compile_model(model, config)
        else:
            model = build_model(
                config.architecture,
                config.width_multiplier,
                config.dropout_rate,
                network_size=config.network_size,
            )
            set_encoder_trainable(model, config)
            compile_model(model, config)

    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=config.epochs,
        initial_epoch=config.initial_epoch,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=make_callbacks(config, run_dir, validation_data is not None),
        verbose=config.verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    epochs_run = len(history.epoch)
    plot_history(run_dir / "training_log.csv", run_dir / "curves.png")

    best_checkpoint = run_dir / "checkpoints" / "best.keras"
    best_model = float32_copy(keras.saving.load_model(best_checkpoint), config)
    # The weights the network was trained with: on a resume, the checkpoint's compiled loss.
    loss = getattr(model, "loss", None)
    trained_weights = (
        loss.weights
        if isinstance(loss, WeightedCategoricalCrossentropy)
        else class_weights(config.background_weight, config.landmark_weight)
    )
    seconds = time.monotonic() - started
    metadata = base_metadata(
        config.name, config.version, config.architecture, config.width_multiplier, config.top_k
    )
    metadata["training_data"] = {
        "path": str(config.data_dir),
        "num_train": main.count,
        "num_validation": validation.count if validation else 0,
        "split": validation.description if validation else "none",
        "photos": [
            {"path": str(path), "count": source.count}
            for path, source in zip(config.photo_dirs, photos, strict=True)
        ],
        "photo_weight": config.photo_weight if photos else 0.0,
        "filters": dataclasses.asdict(config.filters),
    }
    metadata["training"] = {
        "epochs": config.initial_epoch + epochs_run,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "label_profile": dataclasses.asdict(config.profile),
        "class_weights": list(trained_weights),
        "augment": config.augment,
        "mixed_precision": config.mixed_precision,
        "reduce_lr_patience": config.reduce_lr_patience,
        "lr_schedule": config.lr_schedule,
        "schedule_start_epoch": config.schedule_start_epoch,
        "seed": config.seed,
        "freeze_encoder": config.freeze_encoder,
        "train_encoder_bn": config.train_encoder_bn,
        "seconds": round(seconds, 1),
    }
    export_dir = export_saved_model(
        best_model,
        config.out_dir / str(config.version),
        metadata,
        config.top_k,
        config.flip_average,
        class_map_divisors(trained_weights),
    )
    figures: dict[str, Any] = {}
    if validation:
        figures = validation_figures(export_dir, validation.samples)
        # Add the figures to the metadata the export wrote; the SavedModel itself is unchanged.
        written = read_metadata_document(export_dir)
        write_metadata(export_dir, {**written, "evaluation": {"split": "validation", **figures}})
    (run_dir / "validation.json").write_text(json.dumps(figures, indent=2) + "\n")
    return TrainResult(
        export_dir=export_dir,
        run_dir=run_dir,
        best_checkpoint=best_checkpoint,
        epochs_run=epochs_run,
        seconds=time.monotonic() - started,
        validation=figures,
    )
