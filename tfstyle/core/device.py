"""Where the work runs: the GPU when there is one, the CPU otherwise.

TensorFlow places every op on the first GPU by itself; the only thing to
arrange is memory growth, so TF takes GPU memory as it needs it instead of
grabbing the whole card (Colab's GPU is shared with the notebook's other
work). That must happen before the GPU is first used.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from ..io.system import cpu_model


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
    name = device_name()
    return f"running on {name}" if name.startswith("GPU") else "no GPU found: running on the CPU"


@functools.cache
def device_name() -> str:
    """"GPU <its name>" where TensorFlow sees one, else "CPU <model>"."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU {details.get('device_name', gpus[0].name)}"
    return f"CPU {cpu_model()}"
