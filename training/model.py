"""The per-pixel classification networks.

Both take raw RGB pixels float32 [N, 256, 256, 3] in 0..255 (a BatchNormalization layer comes
first, as in the seed) and return per-pixel class probabilities float32 [N, 256, 256, 7].

- `seed`: the seed's encoder-decoder exactly (1,557,971 parameters at width 1).
- `unet`: the same encoder with skip connections: each decoder stage concatenates the encoder
  features of its resolution, which gives the decoder back the spatial detail that pooling
  threw away, the thing a landmark's exact pixel depends on.

`width_multiplier` scales every layer's filter count, so tests can build tiny networks.
"""

from __future__ import annotations

from typing import Literal

import keras

from training.landmarks import IMAGE_SIZE, NUM_CLASSES

Architecture = Literal["seed", "unet"]
ARCHITECTURES: tuple[str, ...] = ("seed", "unet")

# (filters, convolutions) per encoder stage; a 2x2 max-pool follows every stage but the last.
ENCODER_STAGES: tuple[tuple[int, int], ...] = ((16, 2), (32, 3), (64, 3), (128, 3), (256, 1))
# (filters, transposed convolutions) per decoder stage; a 2x upsampling precedes each.
DECODER_STAGES: tuple[tuple[int, int], ...] = ((128, 3), (64, 3), (32, 2), (16, 2))


def _scaled(filters: int, width_multiplier: float) -> int:
    return max(1, round(filters * width_multiplier))


def build_model(
    architecture: str = "unet",
    width_multiplier: float = 1.0,
    dropout_rate: float = 0.3,
    image_size: int = IMAGE_SIZE,
) -> keras.Model:
    """Builds an untrained landmark network.

    Args:
        architecture: `seed` or `unet`.
        width_multiplier: scales every convolution's filter count (1.0 = the seed's widths).
        dropout_rate: the rate of every Dropout layer (the seed's 0.3).
        image_size: input height and width; must be divisible by 16.

    Returns:
        A Functional `keras.Model`: float32 [N, S, S, 3] raw pixels -> float32 [N, S, S, 7]
        softmax probabilities.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
    if image_size % 16:
        raise ValueError(f"image_size must be divisible by 16, got {image_size}")

    def conv(filters: int, name: str) -> keras.layers.Layer:
        return keras.layers.Conv2D(
            _scaled(filters, width_multiplier), 3, padding="same", activation="relu", name=name
        )

    def conv_transpose(filters: int, name: str) -> keras.layers.Layer:
        return keras.layers.Conv2DTranspose(
            _scaled(filters, width_multiplier), 3, padding="same", activation="relu", name=name
        )

    def normalise_and_drop(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        return keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.BatchNormalization(name="input_bn")(inputs)

    # === Encoder ===
    skips: list[keras.KerasTensor] = []
    for stage, (filters, repeats) in enumerate(ENCODER_STAGES):
        if stage > 0:
            x = normalise_and_drop(x, f"encoder{stage}")
        for index in range(repeats):
            x = conv(filters, f"encoder{stage}_conv{index}")(x)
        if stage < len(ENCODER_STAGES) - 1:
            skips.append(x)
            x = keras.layers.MaxPooling2D(2, name=f"encoder{stage}_pool")(x)
    x = normalise_and_drop(x, "bottleneck")

    # === Decoder ===
    for stage, (filters, repeats) in enumerate(DECODER_STAGES):
        x = keras.layers.UpSampling2D(2, name=f"decoder{stage}_upsample")(x)
        if architecture == "unet":
            x = keras.layers.Concatenate(name=f"decoder{stage}_skip")([x, skips.pop()])
        for index in range(repeats):
            x = conv_transpose(filters, f"decoder{stage}_conv{index}")(x)
        if stage < len(DECODER_STAGES) - 1:
            x = normalise_and_drop(x, f"decoder{stage}")
        else:
            x = keras.layers.Dropout(dropout_rate, name=f"decoder{stage}_dropout")(x)

    # === Head: a per-pixel Dense layer is a 1x1 convolution over the channels ===
    # float32 even under a mixed-precision policy: the peak search and its sub-pixel centroid
    # need more than bfloat16's three significant digits.
    outputs = keras.layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="class_probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=f"{architecture}_landmarks")
