"""Where VGG19's weights come from: Keras's ImageNet download, a local file, or
seeded random numbers.

ImageNet weights go through Keras's own cache (`$KERAS_HOME/models`, by
default `~/.keras/models`) and are checked against Keras's published hash.
Without a cached copy and without a network, `imagenet_weights_path` fails
within seconds with a message that says how to go on offline.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .errors import WeightsError

# The no-top file that keras.applications.VGG19(weights="imagenet") uses.
IMAGENET_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                f"vgg19/{IMAGENET_FILE}")
IMAGENET_MD5 = "253f8cb515780f3b799900260a226db6"
# How long to wait for the download server to answer before giving up.
CONNECT_TIMEOUT = 8.0

OFFLINE_HINT = ("use --weights random for an offline run, or --weights PATH with a copy of "
                f"{IMAGENET_FILE} (or a SavedModel exported by `tfstyle export`)")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "models"


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def imagenet_weights_path() -> Path:
    """The cached ImageNet weights file, downloading it through Keras if needed."""
    cached = keras_cache_dir() / IMAGENET_FILE
    if cached.exists() and file_md5(cached) == IMAGENET_MD5:
        return cached
    problem = _unreachable(IMAGENET_URL, CONNECT_TIMEOUT)
    if problem:
        state = "are damaged" if cached.exists() else "are not cached"
        raise WeightsError(f"ImageNet VGG19 weights {state} at {cached} and cannot be "
                           f"downloaded ({problem}); {OFFLINE_HINT}")
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)  # a stalled transfer fails instead of hanging
    try:
        path = keras.utils.get_file(IMAGENET_FILE, IMAGENET_URL, cache_subdir="models",
                                    file_hash=IMAGENET_MD5)
    except Exception as error:  # urllib, socket and hash errors alike
        raise WeightsError(f"downloading ImageNet VGG19 weights failed ({error}); "
                           f"{OFFLINE_HINT}") from None
    finally:
        socket.setdefaulttimeout(previous)
    return Path(path)


def _unreachable(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the URL's host opens within `timeout` s.

    Name resolution has no timeout of its own, so the probe runs in a daemon
    thread that is abandoned if it has not finished in time.
    """
    host = urlsplit(url).hostname
    outcome: list[str | None] = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(str(error) or type(error).__name__)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        return f"no answer from {host} within {timeout:g} s"
    return outcome[0] and f"{host}: {outcome[0]}"


def random_kernels(shapes: dict[str, tuple], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Seeded He-normal kernels and zero biases, {layer: (kernel HWIO, bias)}.

    He scaling keeps the activations' size roughly constant through the
    ReLU stack, so deep layers of a random VGG19 still carry signal. NumPy's
    generator makes the numbers the same on every platform and TF version.
    """
    rng = np.random.default_rng(seed)
    kernels = {}
    for name, shape in shapes.items():
        fan_in = shape[0] * shape[1] * shape[2]
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        kernels[name] = (kernel, np.zeros(shape[-1], np.float32))
    return kernels
