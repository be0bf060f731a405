"""`tfstyle normalize`: a network's channel scales from the user's own
images, for example a sample of ImageNet, which gives the paper's
normalised VGG19 (each filter's mean activation over the images 1).

    tfstyle normalize imagenet_sample/*.jpg --weights imagenet -o scales.npz
    tfstyle transfer photo.jpg painting.jpg -o out.png --normalize scales.npz

Each image is read as a transfer reads it (at most --size px), every image
weighs the same, and the scales are bounded as the network's are
(core.normalization.bounded_scales).
"""

from __future__ import annotations

from pathlib import Path

from ..config import StyleConfig
from ..core.extractor import FeatureExtractor
from ..core.normalization import SCALE_BOUND, bounded_scales, channel_means, kernel_constants
from ..errors import ConfigError
from ..io.images import load_image
from ..io.scales import write_scales
from ..layers import CONV_LAYERS
from ..weights.sources import layer_digests


def normalize_images(paths, config: StyleConfig, output, size: int = 224, layers=CONV_LAYERS,
                     callback=None) -> dict:
    """Write the scales of `config`'s network over the images at `paths` to
    `output`; returns the file's metadata. Every image is read (and a bad
    one refused) before the network runs."""
    if not paths:
        raise ConfigError("images", "give at least one image")
    images = [load_image(p, max_size=size) for p in paths]
    extractor = FeatureExtractor(config.weights, config.pooling, config.seed, layers=layers)
    kernels = kernel_constants(extractor)  # once, not per image
    sums: dict = {}
    for k, image in enumerate(images):  # one at a time: their sizes differ
        for name, mean in channel_means(extractor, image[None], layers, kernels).items():
            sums[name] = sums.get(name, 0.0) + mean
        if callback is not None:
            callback(k + 1, len(images))
    means = {n: sums[n] / len(images) for n in layers}
    scales = bounded_scales(means)
    digests = layer_digests(extractor.kernels())
    meta = {"weights": extractor.weights_source, "pooling": config.pooling,
            "layer_digests": {n: digests[n] for n in layers}, "images": len(images),
            "size": size, "bound": SCALE_BOUND}
    write_scales(Path(output), scales, meta)
    return meta
