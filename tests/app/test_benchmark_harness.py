"""`benchmarks.harness`: the untrained model the benchmarks serve when none is named."""

from __future__ import annotations

from app.model_runtime import ModelRuntime, read_metadata
from benchmarks.harness import model_directory


def test_untrained_export_is_a_model_the_service_loads() -> None:
    with model_directory(None, "unet", 0.125) as root:
        assert (root / "1" / "saved_model.pb").is_file()
        metadata = read_metadata(root / "1")
        assert (metadata.architecture, metadata.width_multiplier) == ("unet", 0.125)
        runtime = ModelRuntime.load(root)
        assert runtime.warm_up() > 0
    assert not root.exists()  # the temporary export is gone with the block
