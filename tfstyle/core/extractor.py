"""VGG19's convolutional part, rebuilt with average pooling, as a feature map
extractor: RGB images in, `{paper_layer_name: features}` out.

    extractor = FeatureExtractor(weights="random", seed=0)
    features = extractor(images)  # images: (N, H, W, 3) RGB in [0, 255]
    features["conv4_2"]           # (N, H/8, W/8, 512), after ReLU
"""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf
import keras

from .device import configure_gpus
from ..errors import ConfigError, ImageError
from ..layers import CONV_LAYERS, LAYERS, deepest, keras_name, min_input_size
from ..weights.sources import load_kernels

# Keras's VGG19 expects "caffe" preprocessing: BGR channels, ImageNet mean
# subtracted, no scaling.
BGR_MEAN = (103.939, 116.779, 123.68)


def vgg_preprocess(images: tf.Tensor) -> tf.Tensor:
    """(N, H, W, 3) RGB in [0, 255] -> BGR with the ImageNet mean removed."""
    return tf.reverse(images, axis=[-1]) - tf.constant(BGR_MEAN, images.dtype)


class FeatureExtractor:
    """VGG19 up to the deepest layer needed, max pooling replaced by average.

    weights: "imagenet" (Keras's download and cache), "procedural"
        (structured filters from the seed, the offline look), "random"
        (seeded He-normal, for offline runs and tests), or the path of a Keras VGG19
        weights file (`..._notop.h5` or `.weights.h5`) or of a SavedModel
        written by `tfstyle export`.
    pooling: "avg", as in the paper, or "max", as VGG19 was trained.
    layers: the paper-named layers to return; the network is built only up
        to the deepest of them. All 16 conv layers by default.
    precision: "float32", or "mixed_float16"/"mixed_bfloat16" to run the
        convolutions in half precision (features come out as float32).
    """

    _shared: dict = {}  # FeatureExtractor.shared's networks
    _shared_lock = threading.Lock()  # threads (batch, video, Ray workers) ask at once

    def __init__(self, weights: str = "imagenet", pooling: str = "avg", seed: int = 0,
                 layers=None, precision: str = "float32"):
        if pooling not in ("avg", "max"):
            raise ConfigError("pooling", f"expected avg or max, received {pooling!r}")
        self.layers = tuple(layers) if layers else CONV_LAYERS
        unknown = [n for n in self.layers if n not in LAYERS]
        if unknown:
            raise ConfigError("layers", f"unknown VGG19 layers {', '.join(map(str, unknown))}; "
                                        f"VGG19's are {LAYERS[0]} ... {LAYERS[-1]}")
        self.pooling = pooling
        self.seed = seed
        self.precision = precision
        self.weights = str(weights)
        configure_gpus()  # memory growth, before the first op touches a GPU
        last_conv = [n for n in LAYERS[: LAYERS.index(deepest(self.layers)) + 1]
                     if n.startswith("conv")][-1]
        kernels, self.weights_source = load_kernels(self.weights, seed, last_conv)
        self.model = _build_model(kernels, pooling, deepest(self.layers), self.layers, precision)
        # (paper name, Keras layer) in network order, for truncated calls.
        self._sequence = [(name, self.model.get_layer(keras_name(name)))
                          for name in LAYERS[: LAYERS.index(deepest(self.layers)) + 1]]

    @classmethod
    def for_config(cls, config, layers=None) -> "FeatureExtractor":
        """The extractor a StyleConfig asks for, built up to `layers`
        (by default every layer the config reads)."""
        return cls(config.weights, config.pooling, config.seed,
                   layers=layers or config.layers, precision=config.precision)

    @classmethod
    def shared(cls, config) -> "FeatureExtractor":
        """One network per weights, pooling, seed, precision and depth, kept
        for the process: a batch's jobs, a video's frames, a Ray worker's
        tasks and the page's visitors reuse it, and with it the traced
        objective (see steps.Steps)."""
        key = (config.weights, config.pooling, config.seed, config.precision, config.layers)
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls.for_config(config)
            return cls._shared[key]

    def __call__(self, images, layers=None) -> dict[str, tf.Tensor]:
        """Features of `images` (N, H, W, 3) RGB in [0, 255] at `layers`.

        Only the part of the network up to the deepest requested layer runs.
        """
        wanted = tuple(layers) if layers else self.layers
        missing = [n for n in wanted if n not in self.layers]
        if missing:
            raise ConfigError("layers", f"this extractor was built for {', '.join(self.layers)}; "
                                        f"it cannot return {', '.join(missing)}")
        images = tf.convert_to_tensor(images, tf.float32)
        self.check_size(images.shape[1], images.shape[2], wanted)
        x = vgg_preprocess(images)
        last = deepest(wanted)
        features = {}
        for name, layer in self._sequence:
            x = layer(x)
            if name in wanted:
                # Half-precision runs hand float32 to the Grams and losses.
                features[name] = tf.cast(x, tf.float32)
            if name == last:
                break
        return features

    def check_size(self, height, width, layers=None):
        """Reject images that would leave no positions at the deepest layer."""
        if height is None or width is None:
            return
        last = deepest(layers or self.layers)
        need = min_input_size(last)
        if height < need or width < need:
            raise ImageError(f"image of {width}x{height} px is too small for layer {last}, "
                             f"which needs at least {need}x{need} px")

    def kernels(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{paper_name: (kernel HWIO, bias)} of every conv layer built."""
        return {name: tuple(np.asarray(v) for v in layer.get_weights())
                for name, layer in self._sequence if name.startswith("conv")}


def _build_model(kernels, pooling: str, last: str, outputs, precision: str) -> keras.Model:
    """Keras VGG19(include_top=False)'s layers up to `last`, pools swapped.

    Conv layers keep Keras's names and configuration (3x3, same padding,
    ReLU); every MaxPooling2D becomes AveragePooling2D when pooling="avg",
    the paper's change for better gradient flow.
    """
    dtype = None if precision == "float32" else precision
    inputs = keras.Input((None, None, 3), name="bgr_images")
    x, named = inputs, {}
    for name in LAYERS[: LAYERS.index(last) + 1]:
        if name.startswith("conv"):
            kernel, bias = kernels[name]
            layer = keras.layers.Conv2D(kernel.shape[-1], 3, padding="same", activation="relu",
                                        name=keras_name(name), dtype=dtype)
            x = layer(x)
            layer.set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
        else:
            pool = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D
            x = pool((2, 2), strides=(2, 2), name=keras_name(name), dtype=dtype)(x)
        named[name] = x
    return keras.Model(inputs, {n: named[n] for n in outputs}, name=f"vgg19_{pooling}pool")
