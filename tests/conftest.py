"""Shared fixtures: a tiny stand-in extractor, small images, a random VGG19."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# --jit auto remembers its choices; the tests keep theirs apart from the
# user's cache, shared by this session (and the CLI processes it starts).
os.environ["TFSTYLE_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfstyle-test-cache-")

import numpy as np
import pytest
import tensorflow as tf


class TinyExtractor:
    """Two small conv layers under paper names, so loss and objective tests
    need no VGG: conv1_1 (3x3, 4 filters, ReLU) and conv2_1 (after a 2x2
    average pool, 3x3, 6 filters, ReLU). Same call protocol as
    FeatureExtractor: (images, layers) -> {name: (N, H, W, C)}.
    """

    weights_source = "tiny"

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.k1 = tf.constant(rng.normal(0, 0.1, (3, 3, 3, 4)), tf.float32)
        self.k2 = tf.constant(rng.normal(0, 0.3, (3, 3, 4, 6)), tf.float32)
        self.layers = ("conv1_1", "conv2_1")

    def __call__(self, images, layers=None):
        x = tf.convert_to_tensor(images, tf.float32) / 255.0 - 0.5
        f1 = tf.nn.relu(tf.nn.conv2d(x, self.k1, 1, "SAME") + 0.05)
        f2 = tf.nn.relu(tf.nn.conv2d(tf.nn.avg_pool2d(f1, 2, 2, "VALID"), self.k2, 1, "SAME") + 0.05)
        out = {"conv1_1": f1, "conv2_1": f2}
        return {n: out[n] for n in (layers or self.layers)}

    def check_size(self, height, width, layers=None):
        pass


@pytest.fixture
def tiny():
    return TinyExtractor()


def smooth_image(height, width, seed=0):
    """A smooth random RGB image in [0, 255] (sums of low-frequency waves)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for _ in range(3):
        a, b, c, d = rng.uniform(1, 6, 4)
        channels.append(np.sin(a * x + b) * np.cos(c * y + d))
    return ((np.stack(channels, -1) + 1) * 127.5).astype(np.float32)


def write_image(path, height, width, seed):
    """Save smooth_image(height, width, seed) as an 8-bit file; returns path."""
    from PIL import Image

    Image.fromarray(smooth_image(height, width, seed).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def vgg_random():
    from tfstyle.extractor import FeatureExtractor

    return FeatureExtractor("random", seed=0)
