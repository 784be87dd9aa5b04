"""Command line: `python -m training {train,export,adapt,evaluate,synth} ...`.

Each subcommand is flag parsing over one library call; the work lives in the step modules.
TensorFlow is imported inside the handlers so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from training.annotations import FilterOptions
from training.labels import RING_PROFILE, LabelProfile
from training.model import ARCHITECTURES

if TYPE_CHECKING:  # training.train imports TensorFlow; the handlers import it when they run
    from training.train import TrainConfig

FLIP_AVERAGE_HELP = (
    "export a signature that averages each image's output with its mirror's "
    "(two network passes per image)"
)


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _float_list(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for which annotation rows are used (defaults: the seed's filter)."""
    group = parser.add_argument_group("row filter")
    group.add_argument("--clothes-types", type=_int_list, default=(1,), help="default: 1")
    group.add_argument(
        "--variation-types",
        type=_int_list,
        default=(1,),
        help="comma-separated; empty string keeps every pose (default: 1)",
    )
    group.add_argument(
        "--allow-hidden",
        action="store_true",
        help="keep rows with occluded or truncated landmarks",
    )


def filter_options(args: argparse.Namespace) -> FilterOptions:
    """The row filter the flags describe."""
    return FilterOptions(
        clothes_types=args.clothes_types,
        variation_types=args.variation_types or None,
        require_all_visible=not args.allow_hidden,
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m training train`."""
    from training.train import LR_SCHEDULES

    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder in In-shop layout, or of labelled photos (landmarks.csv / labels.csv)",
    )
    parser.add_argument(
        "--photos",
        type=Path,
        action="append",
        default=[],
        help="a labelled photo folder to mix into training (repeatable); needs --steps-per-epoch",
    )
    parser.add_argument(
        "--photo-weight",
        type=float,
        default=0.3,
        help="share of every batch drawn from --photos (default 0.3)",
    )
    parser.add_argument(
        "--validation-data",
        type=Path,
        help="a labelled folder (either form) to validate on; --data is then not split",
    )
    parser.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="pretrained encoders: train only the decoder (a first transfer stage)",
    )
    parser.add_argument(
        "--train-encoder-bn",
        action="store_true",
        help="pretrained encoders: let BatchNorm statistics adapt (default: keep ImageNet's; "
        "no effect with --freeze-encoder, which freezes them too)",
    )
    parser.add_argument("--out", type=Path, required=True, help="models/NAME; export -> NAME/V")
    parser.add_argument("--version", type=int, default=1, help="export version (default 1)")
    parser.add_argument("--run-dir", type=Path, help="logs and checkpoints (default runs/NAME)")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="unet")
    parser.add_argument("--width", type=float, default=1.0, help="filter-count multiplier")
    parser.add_argument(
        "--network-size",
        type=int,
        help="efficientnet_unet: the resolution the network runs at inside the 256x256 model "
        "(divisible by 32; default 256)",
    )
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--initial-epoch", type=int, default=0, help="resume at this epoch")
    parser.add_argument("--resume", type=Path, help="checkpoint (default RUN_DIR/.../last.keras)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label-profile", choices=("ring", "gaussian"), default="ring")
    parser.add_argument(
        "--ring",
        type=_float_list,
        default=RING_PROFILE,
        help="ring probabilities by Chebyshev distance (default: the seed's)",
    )
    parser.add_argument("--sigma", type=float, default=4.0, help="gaussian profile sigma (px)")
    parser.add_argument("--background-weight", type=float, default=1.0)
    parser.add_argument("--landmark-weight", type=float, default=65536.0)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--steps-per-epoch", type=int, help="default: one pass over the data")
    parser.add_argument(
        "--monitor",
        default="val_landmark_error",
        help="validation figure that picks the best checkpoint (default val_landmark_error)",
    )
    parser.add_argument("--time-limit-minutes", type=float, help="stop after this many minutes")
    parser.add_argument(
        "--devices",
        type=lambda text: tuple(text.split(",")),
        help="explicit devices for MirroredStrategy, e.g. /cpu:0,/cpu:1",
    )
    parser.add_argument(
        "--logical-cpus",
        type=int,
        default=0,
        help="split the CPU into N logical devices first (for testing distribution)",
    )
    parser.add_argument("--top-k", type=int, default=5, help="candidates per landmark in export")
    parser.add_argument("--flip-average", action="store_true", help=FLIP_AVERAGE_HELP)
    parser.add_argument(
        "--reduce-lr-patience",
        type=int,
        default=0,
        help="halve the learning rate after N epochs without improvement (0: never)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="constant",
        help="cosine: anneal from --learning-rate at --initial-epoch to 1%% of it at --epochs "
        "(a warm restart when resuming); overrides --reduce-lr-patience",
    )
    parser.add_argument(
        "--schedule-start-epoch",
        type=int,
        help="epoch the cosine began at (default --initial-epoch); give the interrupted run's "
        "--initial-epoch to continue its curve instead of restarting it",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="1: progress bar per step, 2: one line per epoch (for logs), 0: silent",
    )
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="train in mixed_bfloat16 (export stays float32)",
    )
    add_filter_arguments(parser)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The `TrainConfig` the train flags describe; ValueError when they contradict each other."""
    from training.train import TrainConfig

    return TrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        photo_dirs=tuple(args.photos),
        photo_weight=args.photo_weight,
        validation_dir=args.validation_data,
        freeze_encoder=args.freeze_encoder,
        train_encoder_bn=args.train_encoder_bn,
        version=args.version,
        run_dir=args.run_dir,
        architecture=args.arch,
        width_multiplier=args.width,
        network_size=args.network_size,
        dropout_rate=args.dropout,
        epochs=args.epochs,
        initial_epoch=args.initial_epoch,
        resume_from=args.resume,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        filters=filter_options(args),
        profile=LabelProfile(kind=args.label_profile, ring=args.ring, sigma=args.sigma),
        background_weight=args.background_weight,
        landmark_weight=args.landmark_weight,
        augment=not args.no_augment,
        steps_per_epoch=args.steps_per_epoch,
        monitor=args.monitor,
        time_limit_minutes=args.time_limit_minutes,
        devices=args.devices,
        top_k=args.top_k,
        flip_average=args.flip_average,
        mixed_precision=args.mixed_precision,
        verbose=args.verbose,
        reduce_lr_patience=args.reduce_lr_patience,
        lr_schedule=args.lr_schedule,
        schedule_start_epoch=args.schedule_start_epoch,
    )


def run_train(args: argparse.Namespace) -> int:
    """Handler of `python -m training train`."""
    from training.distribute import configure_logical_cpus

    configure_logical_cpus(args.logical_cpus)
    from training.train import train

    try:
        config = train_config(args)
    except ValueError as error:  # flags that contradict each other, before any data is read
        raise SystemExit(f"python -m training train: error: {error}") from None
    result = train(config)
    print(
        f"exported {result.export_dir} after {result.epochs_run} epoch(s), {result.seconds:.0f} s"
    )
    if result.validation:
        print(
            f"validation: NE {result.validation['normalized_error']:.4f}, "
            f"mean error {result.validation['mean_pixel_error']:.2f} px"
        )
    return 0


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m training export` (a checkpoint -> SavedModel)."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="a .keras checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="models/NAME")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--flip-average", action="store_true", help=FLIP_AVERAGE_HELP)
    parser.add_argument(
        "--network-size",
        type=int,
        help="run the checkpoint's network at this resolution inside the 256x256 model "
        "(divisible by 32; efficientnet_unet only; default: the checkpoint's own)",
    )
    parser.add_argument(
        "--metadata-from",
        type=Path,
        help="an export of the same training run (e.g. runs/NAME/models/NAME/V): copy its "
        "training_data and training records into this export's metadata.json",
    )


def run_export(args: argparse.Namespace) -> int:
    """Handler of `python -m training export`."""
    import keras

    from training.export import base_metadata, class_map_divisors, export_saved_model

    # Importing the loss module also registers the custom loss and metric for loading.
    from training.loss import WeightedCategoricalCrossentropy as WeightedLoss
    from training.model import architecture_of, build_model, network_size_of

    model = keras.saving.load_model(args.checkpoint)
    architecture, width = architecture_of(model)
    # The class weights the checkpoint was trained with set the class map's divisors.
    loss = getattr(model, "loss", None)
    divisors = class_map_divisors(loss.weights) if isinstance(loss, WeightedLoss) else None
    if args.network_size is not None and args.network_size != network_size_of(model):
        # The weights do not depend on the resolution: the same ones in a network built for it.
        try:
            resized = build_model(
                architecture, width, pretrained=False, network_size=args.network_size
            )
        except ValueError as error:
            raise SystemExit(f"python -m training export: error: {error}") from None
        resized.set_weights(model.get_weights())
        model = resized
    metadata = base_metadata(args.out.name, args.version, architecture, width, args.top_k)
    metadata["training_data"] = {"checkpoint": str(args.checkpoint)}
    if args.metadata_from is not None:
        from app.model_runtime import read_metadata_document

        source = read_metadata_document(args.metadata_from)
        for key in ("training_data", "training"):
            if key in source:
                metadata[key] = source[key]
        metadata["training_data"] = {
            **metadata["training_data"],
            "checkpoint": str(args.checkpoint),
        }
    export_dir = export_saved_model(
        model, args.out / str(args.version), metadata, args.top_k, args.flip_average, divisors
    )
    print(f"exported {export_dir}")
    return 0


def add_adapt_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m training adapt`."""
    parser.add_argument("--model", type=Path, required=True, help="models/NAME[/VERSION]")
    parser.add_argument(
        "--photos", type=Path, required=True, help="folder of your photos (unlabelled)"
    )
    parser.add_argument("--out", type=Path, required=True, help="models/NAME for the result")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--run-dir", type=Path, help="work folder (default runs/NAME-adapt)")
    parser.add_argument(
        "--labelled",
        type=Path,
        action="append",
        default=[],
        help="a labelled photo folder (CSV form) to train on too (repeatable)",
    )
    parser.add_argument(
        "--synthetic", type=Path, help="synthetic set in In-shop layout (default: generate one)"
    )
    parser.add_argument("--synthetic-count", type=int, default=2000)
    parser.add_argument("--validation-data", type=Path, help="a labelled folder to validate on")
    parser.add_argument(
        "--agreement-px",
        type=float,
        default=8.0,
        help="a photo is pseudo-labelled when all six points agree with its mirror image's "
        "within this many pixels of the 256x256 input (default 8: on the bundled model's real "
        "photos 3 kept 1 photo in 195, 8 kept 83)",
    )
    parser.add_argument("--photo-weight", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2)


def run_adapt(args: argparse.Namespace) -> int:
    """Handler of `python -m training adapt`."""
    from training.adapt import AdaptConfig, adapt

    config = AdaptConfig(
        model_dir=args.model,
        photos_dir=args.photos,
        out_dir=args.out,
        version=args.version,
        run_dir=args.run_dir or Path("runs") / f"{args.out.name}-adapt",
        labelled_dirs=tuple(args.labelled),
        synthetic_dir=args.synthetic,
        synthetic_count=args.synthetic_count,
        validation_dir=args.validation_data,
        agreement_px=args.agreement_px,
        photo_weight=args.photo_weight,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        verbose=args.verbose,
    )
    try:
        labels, result = adapt(config)
    except ValueError as error:
        raise SystemExit(f"python -m training adapt: error: {error}") from None
    for path, reason in labels.unreadable:
        print(f"skipped {path}: {reason}")
    print(
        f"pseudo-labelled {labels.kept} photo(s) ({labels.disagreeing} disagreed with their "
        f"mirror image); exported {result.export_dir}"
    )
    if result.validation:
        print(f"validation: NE {result.validation['normalized_error']:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train, evaluate and export a model")
    add_train_arguments(train_parser)
    train_parser.set_defaults(handler=run_train)

    export_parser = commands.add_parser("export", help="export a checkpoint as a SavedModel")
    add_export_arguments(export_parser)
    export_parser.set_defaults(handler=run_export)

    adapt_parser = commands.add_parser(
        "adapt", help="fine-tune a model to your own unlabelled photos (pseudo-labels)"
    )
    add_adapt_arguments(adapt_parser)
    adapt_parser.set_defaults(handler=run_adapt)

    from training.evaluate import add_evaluate_arguments, run_evaluate

    evaluate_parser = commands.add_parser("evaluate", help="score a model on an annotated set")
    add_evaluate_arguments(evaluate_parser)
    evaluate_parser.set_defaults(handler=run_evaluate)

    from training.synth.cli import add_synth_arguments, run_synth

    synth_parser = commands.add_parser("synth", help="generate a synthetic data set")
    add_synth_arguments(synth_parser)
    synth_parser.set_defaults(handler=run_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parses arguments and runs the chosen subcommand."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    return int(args.handler(args))
