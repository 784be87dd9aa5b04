"""Chooses the `tf.distribute` strategy training runs under.

- `TF_CONFIG` set: multi-worker data parallelism (`MultiWorkerMirroredStrategy`).
- explicit devices (e.g. two logical CPUs in a test): `MirroredStrategy` over them.
- otherwise: `MirroredStrategy` over every local GPU, or the CPU when there is none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import tensorflow as tf


def configure_logical_cpus(count: int) -> None:
    """Splits the CPU into `count` logical devices; call before TensorFlow starts its runtime."""
    if count < 2:
        return
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    )


def enable_gpu_memory_growth() -> None:
    """Lets TensorFlow grow GPU memory as needed instead of taking the whole card."""
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def make_strategy(devices: Sequence[str] | None = None) -> tf.distribute.Strategy:
    """Builds the strategy described in the module docstring."""
    if os.environ.get("TF_CONFIG"):
        json.loads(os.environ["TF_CONFIG"])  # Fail early and clearly on malformed JSON.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy(devices=["/cpu:0"])
