"""Settings: defaults, LANDMARKS_* environment variables and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LANDMARKS_"):
            monkeypatch.delenv(key)


def test_settings_defaults_match_the_documented_table() -> None:
    settings = Settings()
    assert settings.MODEL_DIR.as_posix() == "models/garment_landmarks"
    assert settings.MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert settings.MAX_PIXELS == 40_000_000
    assert settings.MAX_IMAGES_PER_REQUEST == 16
    assert settings.MAX_BATCH_SIZE == 8
    assert settings.BATCH_WAIT_MS == 20
    assert settings.QUEUE_LENGTH == 64
    assert settings.QUEUE_TIMEOUT_S == 30
    assert settings.OVERLAY_DEFAULT is True
    assert settings.DETECTION_THRESHOLD == 0.5
    assert settings.API_KEY is None
    assert (settings.HOST, settings.PORT) == ("0.0.0.0", 8000)
    assert settings.WORKERS_THREADS == 2
    assert settings.LOG_LEVEL == "INFO"


def test_settings_read_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDMARKS_MODEL_DIR", "/srv/models/x/3")
    monkeypatch.setenv("LANDMARKS_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("LANDMARKS_OVERLAY_DEFAULT", "false")
    monkeypatch.setenv("LANDMARKS_API_KEY", "secret")
    monkeypatch.setenv("LANDMARKS_LOG_LEVEL", "debug")
    monkeypatch.setenv("MAX_BATCH_SIZE", "99")  # unprefixed: ignored
    settings = Settings()
    assert settings.MODEL_DIR.as_posix() == "/srv/models/x/3"
    assert settings.MAX_BATCH_SIZE == 16
    assert settings.OVERLAY_DEFAULT is False
    assert settings.API_KEY is not None and settings.API_KEY.get_secret_value() == "secret"
    assert "secret" not in repr(settings)
    assert settings.LOG_LEVEL == "DEBUG"


def test_settings_empty_api_key_disables_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDMARKS_API_KEY", "")
    assert Settings().API_KEY is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BATCH_SIZE", "0"),
        ("MAX_UPLOAD_BYTES", "-1"),
        ("DETECTION_THRESHOLD", "1.5"),
        ("QUEUE_TIMEOUT_S", "0"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "chatty"),
        ("OVERLAY_DEFAULT", "perhaps"),
    ],
)
def test_settings_invalid_values_raise(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"LANDMARKS_{name}", value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_settings_queue_shorter_than_a_batch_request_raises() -> None:
    with pytest.raises(ValidationError, match="QUEUE_LENGTH"):
        Settings(QUEUE_LENGTH=4, MAX_IMAGES_PER_REQUEST=8)


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        first = get_settings()
        monkeypatch.setenv("LANDMARKS_MAX_BATCH_SIZE", "3")
        assert get_settings() is first
        get_settings.cache_clear()
        assert get_settings().MAX_BATCH_SIZE == 3
    finally:
        get_settings.cache_clear()


def test_settings_table_documents_every_setting() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`LANDMARKS_{name}`" in table
