"""Loads the exported SavedModel and runs it: the only module that touches TensorFlow.

The app never imports `training/`; what it relies on is the `serving_default` signature (or, for
a mirror-averaged export served single-pass, `serving_single_pass`) and the `metadata.json`
written beside it (docs/CONTRACT.md). Both are checked at load time and a warm-up
call confirms the output shapes, so a model that would fail on the first request fails startup
instead, with a message naming the path and the problem.

TensorFlow is imported inside the functions that need it: importing it costs seconds, and the
rest of the app (and its unit tests) should not pay that to decode an image.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.errors import ModelLoadError

logger = logging.getLogger(__name__)

SIGNATURE_NAME = "serving_default"
SINGLE_PASS_SIGNATURE_NAME = "serving_single_pass"
INPUT_NAME = "images"
METADATA_FILE = "metadata.json"
NUM_LANDMARKS = 6
OUTPUT_NAMES: tuple[str, ...] = (
    "landmarks",
    "scores",
    "class_map",
    "candidate_points",
    "candidate_scores",
)

RGB = tuple[int, int, int]


class LandmarkSpec(BaseModel):
    """One landmark as metadata.json describes it."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(ge=1)
    name: str = Field(min_length=1)
    color: RGB

    @field_validator("color")
    @classmethod
    def _check_color(cls, value: RGB) -> RGB:
        if not all(0 <= channel <= 255 for channel in value):
            raise ValueError("colour channels must be in 0..255")
        return value


class ScoreSpec(BaseModel):
    """What the signature's `scores` are (metadata.json `score`; training/export.py).

    `peak`: the landmark's probability at its peak. `peak_x_mirror_agreement` (mirror-averaged
    exports): that probability times exp(-d^2 / (2 agreement_sigma^2)), d the distance in model
    pixels between the peaks found in the image and in its mirror image.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str = "peak"
    agreement_sigma: float | None = None


class ModelMetadata(BaseModel):
    """The fields of metadata.json the service uses; the rest is kept in `extra` fields."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = Field(min_length=1)
    version: int = Field(ge=0)
    architecture: str = "unknown"
    input_size: tuple[int, int] = (256, 256)
    top_k: int = Field(ge=1)
    # Whether the signature averages each image with its mirror image (two network passes).
    flip_average: bool = False
    # Of the mirror-averaged signature; the single pass always reports the peak probability.
    score: ScoreSpec = ScoreSpec()
    landmarks: tuple[LandmarkSpec, ...]
    background_color: RGB = (255, 255, 255)

    @field_validator("landmarks")
    @classmethod
    def _check_landmarks(cls, value: tuple[LandmarkSpec, ...]) -> tuple[LandmarkSpec, ...]:
        ids = [landmark.id for landmark in value]
        if ids != list(range(1, NUM_LANDMARKS + 1)):
            raise ValueError(f"expected landmark ids 1..{NUM_LANDMARKS} in order, got {ids}")
        return value

    @field_validator("input_size")
    @classmethod
    def _check_square(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] != value[1] or value[0] < 1:
            raise ValueError(f"input_size must be square and positive, got {list(value)}")
        return value

    @property
    def size(self) -> int:
        """The model's square input side S."""
        return self.input_size[0]

    @property
    def palette(self) -> np.ndarray:
        """uint8 [7, 3] RGB colour per class, background first."""
        colours = [self.background_color, *(landmark.color for landmark in self.landmarks)]
        return np.array(colours, dtype=np.uint8)


def resolve_version_dir(model_dir: Path) -> Path:
    """Finds the SavedModel directory a MODEL_DIR setting names.

    Args:
        model_dir: `models/<name>/<version>` (holds saved_model.pb) or `models/<name>` (the
            highest integer-named subdirectory is used); relative to the working directory.

    Returns:
        The version directory.

    Raises:
        ModelLoadError: the path does not exist or holds no model.
    """
    if not model_dir.exists():
        raise ModelLoadError(
            f"model directory {model_dir} (absolute: {model_dir.absolute()}) does not exist; "
            "set LANDMARKS_MODEL_DIR to models/<name> or models/<name>/<version>"
        )
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} is not a directory")
    if (model_dir / "saved_model.pb").is_file():
        return model_dir
    versions = [child for child in model_dir.iterdir() if child.is_dir() and child.name.isdigit()]
    if not versions:
        raise ModelLoadError(
            f"model directory {model_dir} holds neither saved_model.pb nor an integer version "
            "subdirectory"
        )
    return max(versions, key=lambda child: int(child.name))


def read_metadata_document(version_dir: Path) -> dict[str, Any]:
    """`metadata.json` as written, every field kept (training reads back what it recorded).

    Raises:
        ModelLoadError: the file is missing, not JSON, or not a JSON object.
    """
    path = version_dir / METADATA_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{path} is missing; the export writes it beside the model") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelLoadError(f"{path} is invalid: <root>: not a JSON object")
    return document


def read_metadata(version_dir: Path) -> ModelMetadata:
    """Reads and validates `metadata.json` (the fields the service uses).

    Raises:
        ModelLoadError: the file is missing, not JSON, or lacks required fields.
    """
    path = version_dir / METADATA_FILE
    document = read_metadata_document(version_dir)
    try:
        return ModelMetadata.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ModelLoadError(f"{path} is invalid: {problems}") from exc


# A native log line's prefix: severity, date, time, thread id (`I0000 00:00:1796.5   20240 `).
_NATIVE_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")


def import_tensorflow() -> ModuleType:
    """Imports TensorFlow, printing its native start-up lines once instead of twice.

    TensorFlow 2.21 loads two native libraries that each write the same lines to stderr before
    logging is set up (the oneDNN notice, "All log messages before absl::InitializeLog()..."),
    where no environment variable reaches them. The import's stderr is caught in a file and
    each distinct line (ignoring its timestamp and thread id) written once, in order: only
    repeats are dropped, so a real error on import still shows.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            seen: set[str] = set()
            for line in captured.read().decode("utf-8", "replace").splitlines():
                key = _NATIVE_LOG_PREFIX.sub("", line)
                if key not in seen:
                    seen.add(key)
                    sys.stderr.write(line + "\n")
            sys.stderr.flush()
    return tensorflow


def configure_device() -> str:
    """Lets TensorFlow grow GPU memory on demand and names the device inference will use.

    Must run before the first TensorFlow op touches a GPU; afterwards memory growth can no
    longer be changed (then a warning is logged and TensorFlow's default applies).

    Returns:
        `GPU (<name>)` or `CPU`.
    """
    tf = import_tensorflow()

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            # Without this TensorFlow maps almost the whole card at start, starving any other
            # process on it.
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:
            logger.warning("could not enable memory growth on %s: %s", gpu.name, exc)
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


class ModelRuntime:
    """A loaded, checked SavedModel; `predict` is safe to call from one worker thread."""

    def __init__(
        self,
        version_dir: Path,
        metadata: ModelMetadata,
        signature: Any,
        device: str,
        loaded: Any = None,
        flip_average: bool = False,
    ) -> None:
        self.version_dir = version_dir
        self.metadata = metadata
        self.device = device
        # Whether the signature in use averages each image with its mirror image.
        self.flip_average = flip_average
        self._signature = signature
        # The signature's variables live on the loaded object: keep it alive as long as we are.
        self._loaded = loaded

    @property
    def score_kind(self) -> str:
        """What the served signature's `scores` mean (`ScoreSpec.kind`)."""
        return self.metadata.score.kind if self.flip_average else "peak"

    @classmethod
    def load(cls, model_dir: Path, flip_average: bool = True) -> ModelRuntime:
        """Loads the model a MODEL_DIR setting names and checks it against the contract.

        Blocking (seconds); run it off the event loop.

        Args:
            model_dir: `models/<name>` or `models/<name>/<version>`.
            flip_average: serve the mirror-averaged `serving_default` of a model exported
                with it (metadata `flip_average`); False serves its `serving_single_pass`
                instead. No effect on a single-pass export.

        Raises:
            ModelLoadError: missing directory, metadata or signature, or a signature that does
                not match docs/CONTRACT.md.
        """
        version_dir = resolve_version_dir(model_dir)
        metadata = read_metadata(version_dir)
        # Quieten TensorFlow's C++ start-up chatter unless the operator asked for it.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        device = configure_device()
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(version_dir))
        except Exception as exc:
            # TensorFlow reports a damaged SavedModel through many exception types (OSError,
            # ValueError, its own errors); any of them means this directory cannot be served.
            raise ModelLoadError(f"could not load the SavedModel in {version_dir}: {exc}") from exc
        signatures = getattr(loaded, "signatures", {})
        serves_average = metadata.flip_average and flip_average
        single_pass = metadata.flip_average and not flip_average
        name = SINGLE_PASS_SIGNATURE_NAME if single_pass else SIGNATURE_NAME
        if name not in signatures:
            raise ModelLoadError(
                f"the SavedModel in {version_dir} has no {name!r} signature "
                f"(has: {sorted(signatures)})"
            )
        signature = signatures[name]
        _check_signature(signature, name, version_dir, metadata.size)
        return cls(version_dir, metadata, signature, device, loaded, serves_average)

    def predict(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Runs the serving signature on a batch.

        Args:
            images: uint8 [N, S, S, 3] RGB, S = metadata.input_size.

        Returns:
            `landmarks` float32 [N, 6, 2], `scores` float32 [N, 6], `class_map` uint8
            [N, S, S], `candidate_points` float32 [N, 6, K, 2], `candidate_scores` float32
            [N, 6, K]; model-space (x, y), pixel centres at integers.
        """
        size = self.metadata.size
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3):
            raise ValueError(
                f"expected uint8 [N, {size}, {size}, 3], got {images.dtype} {images.shape}"
            )
        import tensorflow as tf

        outputs = self._signature(**{INPUT_NAME: tf.constant(images)})
        return {name: outputs[name].numpy() for name in OUTPUT_NAMES}

    def warm_up(self) -> float:
        """Runs one batch so the first request does not pay for graph set-up.

        Returns:
            The warm-up call's duration in seconds.

        Raises:
            ModelLoadError: the call fails or its outputs do not have the contract's shapes.
        """
        size = self.metadata.size
        started = time.perf_counter()
        try:
            outputs = self.predict(np.zeros((1, size, size, 3), dtype=np.uint8))
        except Exception as exc:
            raise ModelLoadError(
                f"warm-up of the model in {self.version_dir} failed: {exc}"
            ) from exc
        elapsed = time.perf_counter() - started
        top_k = self.metadata.top_k
        expected = {
            "landmarks": ((1, NUM_LANDMARKS, 2), np.float32),
            "scores": ((1, NUM_LANDMARKS), np.float32),
            "class_map": ((1, size, size), np.uint8),
            "candidate_points": ((1, NUM_LANDMARKS, top_k, 2), np.float32),
            "candidate_scores": ((1, NUM_LANDMARKS, top_k), np.float32),
        }
        for name, (shape, dtype) in expected.items():
            value = outputs[name]
            if value.shape != shape or value.dtype != dtype:
                raise ModelLoadError(
                    f"the model in {self.version_dir} returned {name} {value.dtype} "
                    f"{list(value.shape)}; expected {np.dtype(dtype).name} {list(shape)} "
                    f"(metadata top_k={top_k})"
                )
        return elapsed


def _check_signature(signature: Any, name: str, version_dir: Path, size: int) -> None:
    """Checks the signature's input and output names and the input's dtype and shape."""
    import tensorflow as tf

    _, input_specs = signature.structured_input_signature
    spec = input_specs.get(INPUT_NAME)
    if spec is None:
        raise ModelLoadError(
            f"the {name} signature in {version_dir} has no {INPUT_NAME!r} input "
            f"(has: {sorted(input_specs)})"
        )
    expected_shape = [None, size, size, 3]
    if spec.dtype != tf.uint8 or spec.shape.as_list() != expected_shape:
        raise ModelLoadError(
            f"the {INPUT_NAME!r} input in {version_dir} is {spec.dtype.name} "
            f"{spec.shape.as_list()}; expected uint8 {expected_shape}"
        )
    missing = sorted(set(OUTPUT_NAMES) - set(signature.structured_outputs))
    if missing:
        raise ModelLoadError(f"the {name} signature in {version_dir} lacks outputs {missing}")
