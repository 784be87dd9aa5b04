"""The ImageNet encoder: the weights file is read safely and converts into the real network.

The classifier checks run the converted EfficientNet-Lite0 on real photos of known classes: a
wrong transpose, a missed BatchNorm statistic or the wrong input scaling gives a network that
still runs but no longer names them.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from training import efficientnet_lite
from training.torch_weights import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    UnsafeWeightsError,
    read_state_dict,
)

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE_PHOTO = REPOSITORY / "examples" / "photos" / "longsleeve_013.jpg"
# Debian's darknet package: test photos and the ImageNet class list (wnids in darknet's order;
# the first 1000 lines are ImageNet-1k, whose standard index is the sorted wnid order).
DARKNET_DATA = Path("/usr/share/darknet/data")
JERSEY_T_SHIRT = 610  # ImageNet-1k "jersey, T-shirt, tee shirt"
SWEATSHIRT = 841
BALD_EAGLE = "n01614925"
# ImageNet-1k indices 151..268 are the dog breeds.
DOG_CLASSES = range(151, 269)


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return read_state_dict(efficientnet_lite.default_weights_path())


@pytest.fixture(scope="module")
def classifier() -> keras.Model:
    model = efficientnet_lite.build_classifier()
    loaded = efficientnet_lite.load_imagenet_weights(model)
    # Every weighted layer: stem conv and BN, 16 blocks x (depthwise, BN, project, BN),
    # 15 expansions x (conv, BN), head conv, head BN, classifier.
    assert loaded == 2 + 16 * 4 + 15 * 2 + 3
    return model


def _square_224(path: Path) -> np.ndarray:
    """float32 [1, 224, 224, 3]: the photo's centre square, resized as ImageNet evaluation does."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
    return np.asarray(image, dtype=np.float32)[np.newaxis]


def test_state_dict_holds_every_tensor_of_lite0(state: dict[str, np.ndarray]) -> None:
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.running_var"].dtype == np.float32
    variances = state["_bn0.running_var"]  # a few stem channels are dead (variance 0)
    assert np.all(variances >= 0) and (variances > 0).mean() > 0.5
    assert len([name for name in state if name.endswith(".weight")]) == 2 + 16 * 4 + 15 * 2 + 3


def _write_legacy_file(path: Path, payload: object, header: object = None) -> None:
    with path.open("wb") as handle:
        pickle.dump(LEGACY_MAGIC_NUMBER, handle, protocol=2)
        pickle.dump(LEGACY_PROTOCOL_VERSION if header is None else header, handle, protocol=2)
        pickle.dump({"little_endian": True}, handle, protocol=2)
        pickle.dump(payload, handle, protocol=2)
        pickle.dump([], handle, protocol=2)


def test_a_pickle_naming_anything_else_is_refused_before_it_runs(tmp_path: Path) -> None:
    # A classic malicious "weights" file: unpickling it would run a shell command.
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    _write_legacy_file(path, _Call(os.system, (f"touch {marker}",)))
    with pytest.raises(UnsafeWeightsError, match="system"):
        read_state_dict(path)
    assert not marker.exists()
    # ... and in a header pickle, which may name nothing at all.
    _write_legacy_file(tmp_path / "evil2.pth", {}, header=Path("x"))
    with pytest.raises(UnsafeWeightsError, match="header"):
        read_state_dict(tmp_path / "evil2.pth")


class _Call:
    """Pickles as a call of `function(*arguments)`."""

    def __init__(self, function: object, arguments: tuple[object, ...]) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.function, self.arguments


class _Storage:
    """Stands for a storage; the pickler writes it as PyTorch's persistent id."""


def _write_tensor_file(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    values: np.ndarray,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int = 0,
) -> None:
    """A legacy file as PyTorch writes it: one float storage and one tensor viewing it."""
    torch_module, utils_module = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*arguments: object) -> None: ...

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    storage_type = type("FloatStorage", (), {"__module__": "torch"})
    torch_module.FloatStorage = storage_type  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch_module)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_module)

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if isinstance(obj, _Storage):
                return ("storage", storage_type, "0", "cpu", values.size)
            return None

    tensor = _Call(_rebuild_tensor_v2, (_Storage(), offset, shape, stride, False, {}))
    with path.open("wb") as handle:
        for header in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        _Pickler(handle, protocol=2).dump(collections.OrderedDict(weight=tensor))
        pickle.dump(["0"], handle, protocol=2)
        handle.write(struct.pack("<q", values.size))
        handle.write(values.astype("<f4").tobytes())


def test_a_tensor_is_rebuilt_from_its_storage_offset_shape_and_strides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small.pth"
    values = np.arange(12, dtype=np.float32)
    # A transposed [3, 2] view starting at element 2: rows step 1, columns step 3.
    _write_tensor_file(path, monkeypatch, values, (3, 2), (1, 3), offset=2)
    weight = read_state_dict(path)["weight"]
    np.testing.assert_array_equal(weight, [[2, 5], [3, 6], [4, 7]])


@pytest.mark.parametrize(
    ("shape", "stride", "offset", "match"),
    [
        ((100_000,), (1,), 0, "reaches element"),  # far past the one-element storage
        ((4,), (-1,), 3, "negative"),  # backwards through memory
        ((2,), (1,), 5, "reaches element"),
    ],
)
def test_a_view_outside_its_storage_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int,
    match: str,
) -> None:
    path = tmp_path / "crafted.pth"
    _write_tensor_file(path, monkeypatch, np.zeros(4, np.float32), shape, stride, offset)
    with pytest.raises(UnsafeWeightsError, match=match):
        read_state_dict(path)


def test_a_file_that_is_not_pytorch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.pth"
    with path.open("wb") as handle:
        pickle.dump(12345, handle, protocol=2)
    with pytest.raises(ValueError, match="magic number"):
        read_state_dict(path)


def test_stem_convolution_equals_the_pytorch_layout_computed_by_hand(
    state: dict[str, np.ndarray],
) -> None:
    """The Keras stem on a random image equals the convolution written out from [O, I, kh, kw].

    TensorFlow's "same" padding of a stride-2 3x3 convolution on an even input pads one pixel
    at the bottom and right only; the weights were converted from TensorFlow, so this is the
    padding they were trained with.
    """
    images = keras.Input((32, 32, 3))
    features = efficientnet_lite.encoder_features(images)
    model = keras.Model(images, features[32])
    efficientnet_lite.load_imagenet_weights(model)
    stem = keras.Model(images, model.get_layer("encoder_stem").output)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    got = stem.predict(pixels, verbose=0)[0]  # [16, 16, 32]

    scaled = (pixels[0] - efficientnet_lite.INPUT_MEAN) / efficientnet_lite.INPUT_SCALE
    padded = np.pad(scaled, ((0, 1), (0, 1), (0, 0)))
    weight = state["_conv_stem.weight"]  # [32, 3, 3, 3] = [out, in, kh, kw]
    expected = np.zeros((16, 16, 32), dtype=np.float64)
    for y in range(16):
        for x in range(16):
            window = padded[2 * y : 2 * y + 3, 2 * x : 2 * x + 3, :]  # [kh, kw, in]
            expected[y, x] = np.einsum("hwi,oihw->o", window, weight)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_classifier_names_a_garment_photo(classifier: keras.Model) -> None:
    """A CC0 photo of a long-sleeved top, committed in examples/: a jersey or a sweatshirt."""
    logits = classifier.predict(_square_224(EXAMPLE_PHOTO), verbose=0)[0]
    assert int(np.argmax(logits)) in (JERSEY_T_SHIRT, SWEATSHIRT)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    assert probabilities[JERSEY_T_SHIRT] + probabilities[SWEATSHIRT] > 0.5


@pytest.mark.skipif(
    not (DARKNET_DATA / "eagle.jpg").is_file(),
    reason="Debian's darknet package (its ImageNet test photos) is not installed; "
    "`make test` installs it where apt-get can",
)
def test_classifier_names_darknets_imagenet_photos(classifier: keras.Model) -> None:
    wnids = (DARKNET_DATA / "imagenet.labels.list").read_text().split()[:1000]
    standard_index = {wnid: index for index, wnid in enumerate(sorted(wnids))}
    eagle = classifier.predict(_square_224(DARKNET_DATA / "eagle.jpg"), verbose=0)[0]
    assert int(np.argmax(eagle)) == standard_index[BALD_EAGLE]
    dog = classifier.predict(_square_224(DARKNET_DATA / "dog.jpg"), verbose=0)[0]
    assert int(np.argmax(dog)) in DOG_CLASSES
