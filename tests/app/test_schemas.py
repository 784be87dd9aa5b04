"""Response bodies (`app.schemas`): built from the pipeline's answer, and their own examples."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from app.pipeline import Analysis, Candidate, LandmarkResult
from app.schemas import LandmarkPoint, LandmarkResponse
from tests.app.exports import LANDMARK_NAMES


def _analysis(overlay: bytes | None, candidates: bool) -> Analysis:
    landmarks = tuple(
        LandmarkResult(
            id=index + 1,
            name=name,
            x=10.25 * index,
            y=20.5,
            probability=0.75,
            detected=True,
            candidates=(Candidate(1.5, 2.5, 0.5),) if candidates else None,
        )
        for index, name in enumerate(LANDMARK_NAMES)
    )
    media_type = "image/png" if overlay is not None else None
    return Analysis(640, 480, landmarks, overlay, media_type)


def test_response_carries_every_landmark_in_order_and_the_overlay_in_base64(
    tiny_runtime: object,
) -> None:
    metadata = tiny_runtime.metadata  # type: ignore[attr-defined]
    body = LandmarkResponse.from_analysis(_analysis(b"\x89PNG fake", True), metadata)
    document = json.loads(body.model_dump_json())
    assert document["model"] == {"name": metadata.name, "version": metadata.version}
    assert document["image"] == {"width": 640, "height": 480}
    assert [point["name"] for point in document["landmarks"]] == list(LANDMARK_NAMES)
    assert document["landmarks"][2]["x"] == 20.5
    assert document["landmarks"][0]["candidates"] == [{"x": 1.5, "y": 2.5, "probability": 0.5}]
    assert base64.b64decode(document["overlay"]) == b"\x89PNG fake"
    assert document["overlay_media_type"] == "image/png"


def test_response_without_overlay_or_candidates_says_null(tiny_runtime: object) -> None:
    metadata = tiny_runtime.metadata  # type: ignore[attr-defined]
    document = json.loads(
        LandmarkResponse.from_analysis(_analysis(None, False), metadata).model_dump_json()
    )
    assert document["overlay"] is None and document["overlay_media_type"] is None
    assert all(point["candidates"] is None for point in document["landmarks"])


def test_the_documented_example_is_a_valid_response() -> None:
    (example,) = LandmarkResponse.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
    LandmarkResponse.model_validate(example)


@pytest.mark.parametrize(("field", "value"), [("id", 7), ("probability", 1.5), ("id", 0)])
def test_landmark_fields_outside_their_range_are_refused(field: str, value: float) -> None:
    point = {"id": 1, "name": "left_collar", "x": 1.0, "y": 2.0, "probability": 0.5}
    point[field] = value
    with pytest.raises(ValidationError):
        LandmarkPoint.model_validate({**point, "detected": True, "candidates": None})
