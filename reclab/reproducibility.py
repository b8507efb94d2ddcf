"""Quiet, deterministic TensorFlow/Keras for notebooks and tests.

TensorFlow prints C++ log lines (oneDNN, CUDA stubs) to the process's stderr when it is
imported, before any Python-level setting can silence them. ``quiet_tensorflow`` imports it
once with file descriptor 2 pointed at /dev/null; ``seed_everything`` then seeds Python,
NumPy and Keras and turns on op determinism so reruns give the same numbers.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

__all__ = ["quiet_tensorflow", "seed_everything"]


def quiet_tensorflow() -> ModuleType:
    """Import TensorFlow without its C++ start-up log lines and return the module.

    Example:
        >>> tf = quiet_tensorflow()  # doctest: +SKIP
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN's fused kernels round differently from run to run; off for reproducibility.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import keras  # noqa: F401  (imported here so its start-up is silent too)
        import tensorflow as tf
    finally:
        os.dup2(saved_stderr, 2)
        os.close(devnull)
        os.close(saved_stderr)
    tf.get_logger().setLevel("ERROR")
    return tf


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and Keras and make TensorFlow ops deterministic.

    Call it at the top of a notebook (and again before each model you want to be
    reproducible on its own).

    Example:
        >>> seed_everything(42)  # doctest: +SKIP
    """
    tf = quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
