"""Where VGG19's weights come from: Keras's ImageNet download, a local file,
a SavedModel written by `tfstyle export`, seeded random numbers, or
procedural filters built from a seed (those two in tfstyle.weights.procedural).

`load_kernels` is the one entry point: it returns `{paper_name: (kernel,
bias)}` and a one-line description of the source for the run record.

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

from ..errors import OutputError, WeightsError, one_line
from ..io.files import atomic_writer
from ..io.exports import read_export_metadata, saved_model_folder
from ..layers import CONV_LAYERS, conv_shapes
from .procedural import procedural_kernels, random_kernels


# The no-top file that keras.applications.VGG19(weights="imagenet") uses.
IMAGENET_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                f"vgg19/{IMAGENET_FILE}")
IMAGENET_MD5 = "253f8cb515780f3b799900260a226db6"
# How long to wait for the download server to answer before giving up.
CONNECT_TIMEOUT = 8.0
# How long a stalled transfer may wait for its next bytes.
DOWNLOAD_TIMEOUT = 60.0

OFFLINE_HINT = ("use --weights procedural for an offline run, or --weights PATH with a copy of "
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
    """The cached ImageNet weights file, downloading it into Keras's cache if
    needed (where keras.applications.VGG19 would put it)."""
    cached = keras_cache_dir() / IMAGENET_FILE
    if cached.exists() and file_md5(cached) == IMAGENET_MD5:
        return cached
    problem = unreachable(IMAGENET_URL, CONNECT_TIMEOUT)
    if problem:
        state = "are damaged" if cached.exists() else "are not cached"
        raise WeightsError(f"ImageNet VGG19 weights {state} at {cached} and cannot be "
                           f"downloaded ({problem}); {OFFLINE_HINT}")
    from http.client import HTTPException

    try:
        _download(IMAGENET_URL, cached, DOWNLOAD_TIMEOUT, IMAGENET_MD5)
    except (OSError, HTTPException, OutputError) as error:  # urllib's, a cut transfer, the disk's
        raise WeightsError(f"downloading ImageNet VGG19 weights failed ({one_line(error)}); "
                           f"{OFFLINE_HINT}") from None
    return cached


def _download(url: str, path: Path, timeout: float, md5: str) -> None:
    """Fetch `url` into `path`, checked against `md5` before it takes the
    name (written atomically: a cut transfer or a wrong body, such as a
    captive portal's page, leaves no file another process could load). The
    timeout is this connection's own, on the connect and each read, so a
    stalled transfer fails instead of hanging; the process's socket default,
    which the page's other threads share, is left alone."""
    import urllib.request

    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as response, \
            atomic_writer(path, "wb") as out:
        for block in iter(lambda: _received(response), b""):
            digest.update(block)
            out.write(block)
        if digest.hexdigest() != md5:  # raised inside: atomic_writer keeps nothing
            raise WeightsError("the downloaded ImageNet VGG19 weights do not match Keras's "
                               f"published hash; {OFFLINE_HINT}")


def _received(response) -> bytes:
    """The transfer's next block; a read that breaks is the network's
    fault, said as such (atomic_writer would take an OSError for the disk's)."""
    try:
        return response.read(1 << 20)
    except OSError as error:
        raise WeightsError(f"downloading ImageNet VGG19 weights failed: the transfer broke "
                           f"({one_line(error)}); {OFFLINE_HINT}") from None


def unreachable(url: str, timeout: float) -> str | None:
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


def load_kernels(weights: str, seed: int, needed: str):
    """({paper_name: (kernel, bias)} up to at least `needed`, description)."""
    if weights == "random":
        return random_kernels(conv_shapes(), seed), f"random (seed {seed})"
    if weights == "procedural":
        return procedural_kernels(conv_shapes(), seed), f"procedural (seed {seed})"
    if weights == "imagenet":
        path = imagenet_weights_path()
        return kernels_from_keras_file(path), f"imagenet ({path.name})"
    path = Path(weights)
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file; expected imagenet, procedural, random or a path")
    if path.is_dir():
        return load_exported_kernels(path, needed)
    return kernels_from_keras_file(path), f"file ({path})"


def kernels_from_keras_file(path: Path):
    """Load a Keras VGG19 weights file through Keras's own loader."""
    import warnings

    import keras

    from ..layers import keras_name

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    try:
        with warnings.catch_warnings():
            # Keras warns per layer before it raises on a mismatched file.
            warnings.simplefilter("ignore")
            vgg.load_weights(str(path))
    except Exception as error:  # h5py, Keras and shape errors all mean "not usable"
        raise WeightsError(f"{path}: not a Keras VGG19 (include_top=False) weights file "
                           f"({one_line(error, limit=200)})") from None
    return {name: tuple(vgg.get_layer(keras_name(name)).get_weights()) for name in CONV_LAYERS}


def kernels_digest(kernels: dict) -> str:
    """SHA-256 over every kernel and bias, in network order."""
    digest = hashlib.sha256()
    for name in CONV_LAYERS:
        if name in kernels:
            for array in kernels[name]:
                digest.update(np.ascontiguousarray(array, np.float32).tobytes())
    return digest.hexdigest()


def layer_digests(kernels: dict) -> dict[str, str]:
    """{conv layer: SHA-256 over every kernel and bias up to it}, in network
    order: what a layer's features depend on (kernels_digest's running hash)."""
    digest, digests = hashlib.sha256(), {}
    for name in CONV_LAYERS:
        if name not in kernels:
            break
        for array in kernels[name]:
            digest.update(np.ascontiguousarray(array, np.float32).tobytes())
        digests[name] = digest.hexdigest()
    return digests


def load_exported_kernels(path, needed=None):
    """({paper_name: (kernel, bias)}, description) from an export's variables.

    `needed` is the deepest layer the caller will build; an export that
    stops short of it is rejected.
    """
    path = saved_model_folder(path)
    metadata = read_export_metadata(path)
    available = metadata.get("kernels", [])
    if needed is not None and needed not in available:
        last = available[-1] if available else "none"
        raise WeightsError(f"{path}: the export has layers up to {last}, but this run needs "
                           f"{needed}; export again with --layers including {needed}")
    try:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        kernels = {name: (loaded.conv[name]["kernel"].numpy(), loaded.conv[name]["bias"].numpy())
                   for name in available}
    except Exception as error:  # a damaged or foreign SavedModel
        raise WeightsError(f"{path}: cannot read the export's kernels ({error})") from None
    if kernels_digest(kernels) != metadata.get("weights_sha256"):
        raise WeightsError(f"{path}: the kernels do not match the export's recorded hash")
    return kernels, f"savedmodel ({path}) of {metadata.get('weights', 'unknown weights')}"
