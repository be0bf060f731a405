"""Where the work runs: the GPU when there is one, the CPU otherwise.

TensorFlow places every op on the first GPU by itself; the only thing to
arrange is memory growth, so TF takes GPU memory as it needs it instead of
grabbing the whole card (Colab's GPU is shared with the notebook's other
work). That must happen before the GPU is first used.
"""

from __future__ import annotations

import tensorflow as tf


def configure_gpus() -> list[str]:
    """Turn on memory growth for every GPU; returns their names (may be empty)."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # the GPU is already initialised; its setting stays as it was
    return [gpu.name for gpu in gpus]


def describe() -> str:
    """One line for users: which device the run will use."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "no GPU found: running on the CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"running on GPU {details.get('device_name', gpus[0].name)}"
