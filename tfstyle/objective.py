"""The objective alpha * L_content + beta * L_style + tv * L_tv and its gradient.

The fixed targets (the photo's features, the paintings' Grams and the
normalisation scales) are encoded once, when the Objective is built. Each
evaluation is one `tf.function` call: a forward and backward pass of the
extractor that returns the loss, its parts and the gradient with respect to
the pixels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .config import StyleConfig
from .layers import LAYERS
from .losses import content_loss, gram_per_position, style_loss, total_variation_loss

# A channel's mean activation is floored at this fraction of the layer's
# average channel mean, so near-dead filters are not blown up by 1/mean.
NORMALIZE_FLOOR = 0.01


def normalization_scales(encodings: list[dict]) -> dict[str, tf.Tensor]:
    """{layer: 1 / mean activation per channel}, over the given images.

    The paper's VGG was rescaled so every filter's mean activation over
    images and positions is 1. With ReLU networks that leaves each layer's
    maps scaled per channel, so dividing raw maps by the channel means of the
    images at hand (each image weighted equally) reproduces it for any
    weights, ImageNet or random.
    """
    scales = {}
    for name in encodings[0]:
        means = tf.add_n([tf.reduce_mean(e[name], axis=[0, 1, 2]) for e in encodings])
        means /= len(encodings)  # (C,)
        floor = tf.maximum(NORMALIZE_FLOOR * tf.reduce_mean(means), 1e-12)
        scales[name] = 1.0 / tf.maximum(means, floor)
    return scales


class Objective:
    """Loss and gradient of a generated image against fixed targets.

    content: (H, W, 3) RGB in [0, 255], or None for texture synthesis.
    style: one (H, W, 3) array, a list of them (blended by
        `config.style_blend`), or None for content reconstruction.
    extractor: a callable `(images, layers) -> {layer: features}`, normally a
        FeatureExtractor; built from `config` when None.
    """

    def __init__(self, content, style, config: StyleConfig = StyleConfig(), extractor=None):
        self.config = config
        styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
        # A style with blend weight 0 plays no part, not even in the normalisation.
        kept = [(b, s) for b, s in zip(config.blend_weights(len(styles)), styles) if b > 0] \
            if styles else []
        self.blend = [b for b, _ in kept]
        styles = [s for _, s in kept]
        self.content_weights = (config.content_layer_weights
                                if content is not None and config.alpha > 0 else {})
        self.style_weights = config.style_layer_weights if styles and config.beta > 0 else {}
        used = set(self.content_weights) | set(self.style_weights)
        if not used:
            raise ValueError("nothing to optimise: give a content image with alpha > 0 "
                             "or a style image with beta > 0")
        self.layers = tuple(n for n in LAYERS if n in used)
        if extractor is None:
            from .extractor import FeatureExtractor
            extractor = FeatureExtractor.for_config(config, self.layers)
        self.extractor = extractor
        self.content_shape = None if content is None else tuple(np.shape(content)[:2])
        self._encode_targets(content, styles, config)
        self.traces = 0
        self._step = tf.function(
            self._loss_and_grad,
            input_signature=[tf.TensorSpec([None, None, 3], tf.float32)],
            jit_compile=config.jit,
            autograph=False,  # no tensor-dependent Python control flow to convert
        )

    def _encode(self, image, layers):
        return self.extractor(tf.convert_to_tensor(np.asarray(image, np.float32)[None]), layers)

    def _encode_targets(self, content, styles, config):
        content_raw = self._encode(content, self.layers) if content is not None else None
        style_layers = tuple(self.style_weights)
        styles_raw = [self._encode(s, style_layers) for s in styles] if self.style_weights else []
        if config.normalize:
            # Each layer's scales come from every image that reaches it.
            self.scales = {}
            for name in self.layers:
                encodings = [e for e in [content_raw, *styles_raw] if e is not None and name in e]
                self.scales.update(normalization_scales([{name: e[name]} for e in encodings]))
        else:
            self.scales = {}
        self.content_targets = {name: self._normalized(name, content_raw[name])
                                for name in self.content_weights}
        self.style_targets = {
            name: tf.add_n([b * gram_per_position(self._normalized(name, e[name]))
                            for b, e in zip(self.blend, styles_raw)])
            for name in self.style_weights
        }

    def _normalized(self, name, features):
        scale = self.scales.get(name)
        return features if scale is None else features * scale

    def losses(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The weighted total and each unweighted term for one (H, W, 3) image."""
        features = self.extractor(image[None], self.layers)  # raw, not normalised
        zero = tf.constant(0.0)
        content = (tf.add_n([w * content_loss(self._normalized(n, features[n]), self.content_targets[n])
                             for n, w in self.content_weights.items()])
                   if self.content_weights else zero)
        # The normalisation goes into the Grams (N^2 work), not the maps (M N).
        style = (style_loss(features, self.style_targets, self.style_weights, self.scales)
                 if self.style_weights else zero)
        tv = total_variation_loss(image) if self.config.tv_weight > 0 else zero
        total = self.config.alpha * content + self.config.beta * style + self.config.tv_weight * tv
        return {"total": total, "content": content, "style": style, "tv": tv}

    def _loss_and_grad(self, image):
        self.traces += 1  # runs only while tracing
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self.losses(image)
        grad = tape.gradient(terms["total"], image)
        values = tf.stack([terms["total"], terms["content"], terms["style"], terms["tv"]])
        return values, grad

    def check_image(self, shape):
        if self.content_weights and tuple(shape[:2]) != self.content_shape:
            raise ValueError(f"image size {tuple(shape[:2])} differs from the content "
                             f"image's {self.content_shape}")
        if hasattr(self.extractor, "check_size"):
            self.extractor.check_size(shape[0], shape[1], self.layers)

    def evaluate(self, image: np.ndarray):
        """(total, gradient like `image` as float32, {term: value}) in one pass."""
        values, grad = self._step(tf.convert_to_tensor(image, tf.float32))
        total, content, style, tv = values.numpy().tolist()
        return total, grad.numpy(), {"content": content, "style": style, "tv": tv}

    def value_and_grad(self, image: np.ndarray):
        """(float, np.ndarray) of the total loss for an (H, W, 3) image."""
        self.check_image(np.shape(image))
        total, grad, _ = self.evaluate(image)
        return total, grad

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Each term, unweighted, plus the weighted total."""
        self.check_image(np.shape(image))
        total, _, terms = self.evaluate(image)
        return {"total": total, **terms}
