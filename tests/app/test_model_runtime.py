"""Loading the SavedModel: version selection, contract checks and clear startup errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from app.errors import ModelLoadError
from app.model_runtime import ModelRuntime, read_metadata, resolve_version_dir
from tests.app.exports import contract_metadata
from training.landmarks import FLIP_PERMUTATION


def test_resolve_version_dir_picks_highest_integer_version(tmp_path: Path) -> None:
    for name in ("1", "2", "10", "latest", "9.5"):
        (tmp_path / name).mkdir()
    assert resolve_version_dir(tmp_path) == tmp_path / "10"


def test_resolve_version_dir_accepts_a_version_directory(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert resolve_version_dir(tmp_path) == tmp_path


def test_resolve_version_dir_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "nope"
    with pytest.raises(ModelLoadError, match=f"{re.escape(str(missing))}.*does not exist"):
        resolve_version_dir(missing)


def test_resolve_version_dir_without_versions_says_so(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()
    with pytest.raises(ModelLoadError, match=r"neither saved_model\.pb nor an integer version"):
        resolve_version_dir(tmp_path)


def test_read_metadata_missing_file_names_it(tmp_path: Path) -> None:
    expected = f"{re.escape(str(tmp_path / 'metadata.json'))} is missing"
    with pytest.raises(ModelLoadError, match=expected):
        read_metadata(tmp_path)


def test_read_metadata_invalid_json_says_so(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="is not readable JSON"):
        read_metadata(tmp_path)


def test_read_metadata_wrong_landmarks_names_the_field(tmp_path: Path) -> None:
    document = contract_metadata("m", 1, "unet")
    document["landmarks"] = document["landmarks"][:5]
    (tmp_path / "metadata.json").write_text(json.dumps(document))
    with pytest.raises(ModelLoadError, match=r"landmarks: .*ids 1\.\.6"):
        read_metadata(tmp_path)


def test_read_metadata_keeps_contract_fields(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps(contract_metadata("m", 4, "unet")))
    metadata = read_metadata(tmp_path)
    assert (metadata.name, metadata.version, metadata.top_k, metadata.size) == ("m", 4, 5, 256)
    assert metadata.palette.shape == (7, 3) and metadata.palette.dtype == np.uint8
    assert metadata.palette[1].tolist() == [255, 0, 0]
    assert metadata.flip_average is False  # absent in older exports


def test_read_metadata_reads_flip_average(tmp_path: Path) -> None:
    document = {**contract_metadata("m", 4, "unet"), "flip_average": True}
    (tmp_path / "metadata.json").write_text(json.dumps(document))
    assert read_metadata(tmp_path).flip_average is True


def test_load_tiny_model_predicts_contract_shapes(tiny_runtime: ModelRuntime) -> None:
    assert tiny_runtime.device == "CPU"
    assert tiny_runtime.version_dir.name == "1"
    images = np.random.default_rng(0).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    outputs = tiny_runtime.predict(images)
    assert outputs["landmarks"].shape == (3, 6, 2) and outputs["landmarks"].dtype == np.float32
    assert outputs["scores"].shape == (3, 6)
    assert outputs["class_map"].shape == (3, 256, 256) and outputs["class_map"].dtype == np.uint8
    assert outputs["candidate_points"].shape == (3, 6, 5, 2)
    assert outputs["candidate_scores"].shape == (3, 6, 5)
    assert tiny_runtime.warm_up() > 0


def test_flip_average_model_serves_either_signature(
    tiny_flip_model_dir: Path, tiny_runtime: ModelRuntime
) -> None:
    images = np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    averaged = ModelRuntime.load(tiny_flip_model_dir)
    single_pass = ModelRuntime.load(tiny_flip_model_dir, flip_average=False)
    assert averaged.flip_average is True and single_pass.flip_average is False
    assert tiny_runtime.flip_average is False  # a plain export, whatever the setting

    averaged_outputs = averaged.predict(images)
    single_pass_outputs = single_pass.predict(images)
    # The single pass is the plain export's computation (same weights) ...
    for name, value in tiny_runtime.predict(images).items():
        np.testing.assert_allclose(single_pass_outputs[name], value, atol=1e-5, err_msg=name)
    # ... and the average is not: mirroring the input mirrors its answer.
    assert not np.allclose(averaged_outputs["scores"], single_pass_outputs["scores"])
    mirrored = averaged.predict(images[:, :, ::-1].copy())["landmarks"][:, list(FLIP_PERMUTATION)]
    mirrored[..., 0] = 255.0 - mirrored[..., 0]
    np.testing.assert_allclose(mirrored, averaged_outputs["landmarks"], atol=0.05)


def test_single_pass_missing_from_a_flip_average_model_names_it(tiny_model_copy: Path) -> None:
    document = json.loads((tiny_model_copy / "metadata.json").read_text())
    document["flip_average"] = True  # claimed, but this export has one signature
    (tiny_model_copy / "metadata.json").write_text(json.dumps(document))
    with pytest.raises(ModelLoadError, match="no 'serving_single_pass' signature"):
        ModelRuntime.load(tiny_model_copy, flip_average=False)


def test_predict_rejects_wrong_input(tiny_runtime: ModelRuntime) -> None:
    with pytest.raises(ValueError, match=r"expected uint8 \[N, 256, 256, 3\]"):
        tiny_runtime.predict(np.zeros((1, 128, 128, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        tiny_runtime.predict(np.zeros((1, 256, 256, 3), dtype=np.float32))


def test_load_damaged_savedmodel_names_the_path(tiny_model_copy: Path) -> None:
    (tiny_model_copy / "saved_model.pb").write_bytes(b"\x00garbage")
    expected = f"could not load the SavedModel in {re.escape(str(tiny_model_copy))}"
    with pytest.raises(ModelLoadError, match=expected):
        ModelRuntime.load(tiny_model_copy)


def test_warm_up_with_off_contract_metadata_fails(tiny_model_copy: Path) -> None:
    document = json.loads((tiny_model_copy / "metadata.json").read_text())
    document["top_k"] = 3  # the signature returns 5 candidates
    (tiny_model_copy / "metadata.json").write_text(json.dumps(document))
    runtime = ModelRuntime.load(tiny_model_copy)
    with pytest.raises(ModelLoadError, match=r"candidate_points .*\[1, 6, 3, 2\]"):
        runtime.warm_up()


def test_tensorflows_start_up_lines_are_printed_once() -> None:
    """TensorFlow's two native libraries each print the same start-up lines; we print them once."""
    import subprocess
    import sys

    code = "from app.model_runtime import import_tensorflow; import_tensorflow().constant(1)"
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    keys = [
        re.sub(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ", "", line)
        for line in result.stderr.splitlines()
        if line.strip()
    ]
    repeated = {key for key in keys if keys.count(key) > 1}
    assert not repeated, f"printed more than once: {repeated}"
