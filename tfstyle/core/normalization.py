"""The network normalised once, as in the paper: one scale per filter.

The paper rescaled VGG19's weights and biases so that each filter's mean
activation over images and positions is 1. A ReLU network with average
(or max) pooling is positively homogeneous channel by channel, so that
network's feature maps are the raw maps times one scale per channel,
s_c = 1 / mean_c, at every layer; tfstyle multiplies the maps (and the
Grams) by s instead of rewriting the kernels. Where the scales come from is
`StyleConfig.normalize`:

    network  the mean over the reference set (weights.reference), computed
             once per weights and cached by the kernels' digest
    pair     the mean over the run's own photo and paintings (tfstyle < 0.9)
    off      no scales: the raw network
    PATH     a scales file written by `tfstyle normalize` (io.scales)

Departure from the paper: a channel nearly dead on the reference set would
get an unbounded scale, so each mean is floored at the layer's median mean
/ SCALE_BOUND: no channel's scale exceeds SCALE_BOUND times a typical
(median) channel's.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref

import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from ..io.cache import read_array, store_array
from ..io.scales import read_scales
from ..layers import LAYERS, deepest
from ..weights.reference import REFERENCE_VERSION, reference_images
from ..weights.sources import layer_digests

SCALE_BOUND = 10.0  # a channel's scale is at most this times the layer's median scale
BATCH = 8  # reference images per forward pass

MODES = ("network", "pair", "off")

_lock = threading.Lock()  # batch threads, Ray workers and the page ask at once
_by_network: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # extractor -> {layer: s}


def describe(setting: str) -> str:
    """What a run record says of its scales' source."""
    if setting == "network":
        return f"network ({REFERENCE_VERSION})"
    if setting in MODES:
        return setting
    return f"file ({setting})"


def fixed_scales(setting: str, extractor, layers) -> dict[str, tf.Tensor]:
    """{layer: (C,) scales} of the network or a scales file, for `layers`
    ({} for off); "pair" is the Objective's (terms.normalization_scales)."""
    if setting == "off":
        return {}
    if setting == "network":
        scales = network_scales(extractor, layers)
    else:
        scales = file_scales(setting, extractor, layers)
    return {n: tf.constant(scales[n], tf.float32) for n in layers}


def bounded_scales(means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{layer: 1 / mean per channel}, each mean floored at the layer's median
    mean / SCALE_BOUND, float32.

    The median is over the channels alive on the set: a layer whose
    channels are mostly dead would otherwise floor nothing. A layer with
    no live channel at all keeps the scale 1 (it is zero on any image).
    """
    scales = {}
    for name, mean in means.items():
        mean = np.asarray(mean, np.float64)
        alive = mean[mean > 1e-6 * max(float(mean.max()), 0.0)]
        if alive.size == 0 or float(alive.max()) <= 1e-30:
            scales[name] = np.ones_like(mean, np.float32)
            continue
        floor = float(np.median(alive)) / SCALE_BOUND
        scales[name] = (1.0 / np.maximum(mean, floor)).astype(np.float32)
    return scales


def channel_means(extractor, images: np.ndarray, layers, kernels=None) -> dict[str, np.ndarray]:
    """{layer: (C,) mean activation over the images and their positions},
    each image weighted equally; float64.

    A FeatureExtractor runs as a plain float32 network from its kernels,
    whatever its precision, and gives every layer up to the deepest asked
    for; any other extractor is called for `layers`. `kernels`: the
    extractor's kernel_constants, when the caller keeps them.
    """
    kernels = kernel_constants(extractor) if kernels is None else kernels
    sums: dict[str, np.ndarray] = {}
    for start in range(0, len(images), BATCH):
        batch = tf.constant(images[start:start + BATCH], tf.float32)  # (B, H, W, 3)
        if kernels is None:
            features = extractor(batch, tuple(layers)).items()
        else:
            features = _plain_forward(kernels, extractor.pooling, batch, deepest(layers))
        for name, f in features:
            total = tf.reduce_sum(tf.reduce_mean(f, axis=(1, 2)), axis=0).numpy()  # (C,)
            sums[name] = sums.get(name, 0.0) + total.astype(np.float64)
    return {name: total / len(images) for name, total in sums.items()}


def network_scales(extractor, layers) -> dict[str, np.ndarray]:
    """The reference set's scales of `layers`: kept per extractor, and for a
    FeatureExtractor on disk too, per layer by the digest of every kernel up
    to it (and the pooling), so the set is run once per weights file."""
    with _lock:
        kept = _by_network.setdefault(extractor, {}) if _weakable(extractor) else {}
        missing = [n for n in layers if n not in kept]
        if not missing:
            return kept
        keys = _cache_keys(extractor)
        if keys is not None:
            for name in missing:
                found = read_array(keys[name])
                if found is not None and found.ndim == 1:
                    kept[name] = found
            missing = [n for n in layers if n not in kept]
        if missing:
            computed = bounded_scales(channel_means(extractor, reference_images(), missing))
            for name, scales in computed.items():
                kept[name] = scales
                if keys is not None and name in keys:
                    store_array(keys[name], scales)
        return kept


def file_scales(path: str, extractor, layers) -> dict[str, np.ndarray]:
    """A scales file's scales of `layers`, refused (ConfigError) when it was
    made for other weights, another pooling, or lacks a layer."""
    scales, meta = _read_once(path)
    missing = [n for n in layers if n not in scales]
    if missing:
        raise ConfigError("normalize", f"{path}: has no scales for {', '.join(missing)}; "
                                       f"make it again with tfstyle normalize for this network")
    digests = _layer_digests(extractor)
    if digests is not None:
        made_for = meta.get("layer_digests", {})
        if any(made_for.get(n) != digests[n] for n in layers):
            raise ConfigError("normalize", f"{path}: made for other weights "
                                           f"({meta.get('weights', 'unknown')}); make it again with "
                                           f"tfstyle normalize --weights for this run's weights")
        if meta.get("pooling") != extractor.pooling:
            raise ConfigError("normalize", f"{path}: made with {meta.get('pooling')} pooling, "
                                           f"this run uses {extractor.pooling}")
    return scales


def _read_once(path: str):
    """read_scales, kept per file version (its size and time): every frame
    and tile of a run asks, and a file rewritten meanwhile is read anew."""
    try:
        stat = os.stat(path)
    except OSError:
        return read_scales(path)  # says what is wrong
    return _read_version(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_version(path: str, size: int, mtime: int):
    return read_scales(path)


def _plain_forward(kernels: dict, pooling: str, images: tf.Tensor, last: str):
    """(layer, (B, h, w, C) maps) of every layer up to `last`, float32: the
    FeatureExtractor's network run from its kernels, one layer held at a time."""
    from .extractor import vgg_preprocess

    x = vgg_preprocess(images)
    pool = tf.nn.avg_pool2d if pooling == "avg" else tf.nn.max_pool2d
    for name in LAYERS[: LAYERS.index(last) + 1]:
        if name.startswith("conv"):
            kernel, bias = kernels[name]
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + bias)
        else:
            x = pool(x, 2, 2, "VALID")
        yield name, x


def kernel_constants(extractor) -> dict | None:
    """A FeatureExtractor's kernels as float32 constants; None for a stand-in."""
    if not (hasattr(extractor, "kernels") and hasattr(extractor, "pooling")):
        return None
    return {n: (tf.constant(k, tf.float32), tf.constant(b, tf.float32))
            for n, (k, b) in extractor.kernels().items()}


def _layer_digests(extractor) -> dict | None:
    """{conv layer: digest of the kernels up to it}, kept on the extractor;
    None for an extractor without kernels (a stand-in)."""
    if not (hasattr(extractor, "kernels") and hasattr(extractor, "pooling")):
        return None
    digests = getattr(extractor, "_layer_digests", None)
    if digests is None:
        digests = layer_digests(extractor.kernels())
        try:
            extractor._layer_digests = digests
        except AttributeError:
            pass
    return digests


def _cache_keys(extractor) -> dict | None:
    digests = _layer_digests(extractor)
    if digests is None:
        return None
    keys, digest = {}, None
    for name in LAYERS:  # a pooling layer reads the kernels up to the conv before it
        if name.startswith("conv"):
            if name not in digests:
                break
            digest = digests[name]
        keys[name] = (f"scales/{REFERENCE_VERSION.replace(' ', '-')}-{extractor.pooling}-"
                      f"{name}-{digest[:32]}")
    return keys


def _weakable(extractor) -> bool:
    try:
        weakref.ref(extractor)
    except TypeError:
        return False
    return True
