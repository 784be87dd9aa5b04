"""Exports the test models with `training` (the app never imports it; tests may)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.app.images import PALETTE
from training.landmarks import LANDMARK_NAMES

# Saturation of the oracle's logits: a matching pixel's probability is about 1 - 1e-4.
_ORACLE_SHARPNESS = 10.0


def contract_metadata(
    name: str, version: int, architecture: str, width_multiplier: float = 0.125
) -> dict[str, Any]:
    """metadata.json fields as docs/CONTRACT.md defines them."""
    return {
        "name": name,
        "version": version,
        "architecture": architecture,
        "width_multiplier": width_multiplier,
        "input_size": [256, 256],
        "top_k": 5,
        "landmarks": [
            {"id": index + 1, "name": landmark, "color": PALETTE[index + 1].tolist()}
            for index, landmark in enumerate(LANDMARK_NAMES)
        ],
        "background_color": PALETTE[0].tolist(),
    }


def export_tiny_unet(version_dir: Path, name: str, flip_average: bool = False) -> Path:
    """The real U-Net at width 1/8 with (seeded) random weights: noise answers, real graph.

    Every call builds the same weights, so a `flip_average` export's `serving_single_pass`
    answers exactly as a plain export does.
    """
    import keras

    from training.export import export_saved_model
    from training.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model("unet", width_multiplier=0.125)
    metadata = contract_metadata(name, int(version_dir.name), "unet")
    return export_saved_model(model, version_dir, metadata, top_k=5, flip_average=flip_average)


def export_full_seed(version_dir: Path, name: str) -> Path:
    """The seed network at full width with random weights: real cost (tens of ms an image)."""
    import keras

    from training.export import export_saved_model
    from training.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model("encoder_decoder", width_multiplier=1.0)
    metadata = contract_metadata(
        name, int(version_dir.name), "encoder_decoder", width_multiplier=1.0
    )
    return export_saved_model(model, version_dir, metadata, top_k=5)


def export_oracle(version_dir: Path, name: str) -> Path:
    """A one-layer model with known answers: landmark k wins exactly on pixels of its colour.

    The network sees raw 0..255 pixels. With s = 2 * pixel / 255 - 1 (in -1..1) and t_k the
    colour of landmark k mapped the same way, logit_k = a * (s . t_k - 2) is +a on an exact
    colour match and at most -a anywhere else; background's logit is 0. A per-pixel Dense
    layer (a 1x1 convolution) computes exactly that.
    """
    import keras

    from training.export import export_saved_model

    targets = PALETTE[1:].astype(np.float64) / 255.0 * 2.0 - 1.0  # [6, 3]
    kernel = np.zeros((3, 7), dtype=np.float32)
    bias = np.zeros((7,), dtype=np.float32)
    kernel[:, 1:] = (_ORACLE_SHARPNESS * 2.0 / 255.0 * targets).T
    bias[1:] = _ORACLE_SHARPNESS * (-targets.sum(axis=1) - 2.0)
    inputs = keras.Input((256, 256, 3), name="images")
    head = keras.layers.Dense(7, activation="softmax", name="class_probabilities")
    model = keras.Model(inputs, head(inputs), name="oracle")
    head.set_weights([kernel, bias])
    metadata = contract_metadata(name, int(version_dir.name), "oracle")
    return export_saved_model(model, version_dir, metadata, top_k=5)
