"""The objective's terms: what each one compares, and with what.

    L_content  ContentTerm         feature maps against the photo's
    L_style    StyleTerm           Gram matrices against the paintings'
               GuidedStyleTerm     one style per region of the photo (Gatys et al. 2017)
    L_tv       TotalVariationTerm  a smoothness prior on the pixels
    L_temporal TemporalTerm        a video frame against the previous one (Ruder et al. 2016)

Each term holds its fixed targets and calls the pure loss functions of
`losses`, as sums over positions (`partial`) and a value from them
(`finish`), so a tiled evaluation (tfstyle.core.tiled) adds them up window
by window. Here too: the normalisation scales the feature maps are divided
by (`normalization_scales`, `normalized`), and the masks brought to a
layer's resolution (`guide_at`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..layers import poolings_before
from .losses import (content_loss, gram_sums, guided_style_loss_from_sums, guided_sums,
                     style_loss_from_sums, temporal_loss_from_sums, temporal_sums,
                     total_variation_loss, weighted_sum)
from .tiled import Whole

WHOLE = Whole()

# A channel's mean activation is floored at this fraction of the layer's
# average channel mean, so near-dead filters are not blown up by 1/mean.
NORMALIZE_FLOOR = 0.01


def normalization_scales(means: list[dict]) -> dict[str, tf.Tensor]:
    """{layer: 1 / mean activation per channel}, from each image's
    {layer: (C,) channel means}.

    The paper's VGG was rescaled so every filter's mean activation over
    images and positions is 1. With ReLU networks that leaves each layer's
    maps scaled per channel, so dividing raw maps by the channel means of the
    images at hand (each image weighted equally) reproduces it for any
    weights, ImageNet or random.
    """
    scales = {}
    for name in means[0]:
        mean = tf.add_n([m[name] for m in means]) / len(means)  # (C,)
        floor = tf.maximum(NORMALIZE_FLOOR * tf.reduce_mean(mean), 1e-12)
        scales[name] = 1.0 / tf.maximum(mean, floor)
    return scales


def normalized(scales: dict, name: str, features):
    """A layer's features times its scales (normalization_scales), or as
    they are when the layer has none."""
    scale = scales.get(name)
    return features if scale is None else features * scale


class LossTerm:
    """One named term: `weight * term(features, image, state)` enters the total.

    A term is a function of sums over positions (see tfstyle.core.tiled):
    `partial` gives its sums over a window's core, `finish` its value from
    the sums over the whole image. Untiled, the core is everything. Both
    call the pure functions of `losses` (its `*_sums` and `*_from_sums`),
    so the maths the tests check is the maths that runs.

    A term's tensors (its targets) are its `state()`, handed to the traced
    evaluation as arguments rather than captured in it, so one trace serves
    every Objective of the same structure: the next job of a batch, the next
    panel of a figure. Its Python constants (weights, layers) are its
    `signature()`, which the shared trace is keyed on.
    """

    name: str
    layers: tuple[str, ...] = ()  # the feature maps the term reads

    def __init__(self, weight: float):
        self.weight = float(weight)

    def state(self) -> dict:
        return {}

    def signature(self) -> tuple:
        return (type(self).__name__, self.weight)

    def partial(self, features: dict, image: tf.Tensor, state: dict, window) -> dict:
        raise NotImplementedError

    def finish(self, sums: dict, state: dict) -> tf.Tensor:
        raise NotImplementedError

    def __call__(self, features: dict, image: tf.Tensor, state: dict) -> tf.Tensor:
        return self.finish(self.partial(features, image, state, WHOLE), state)


class LayerTerm(LossTerm):
    """A term over feature maps: per-layer weights, fixed per-layer targets,
    and the normalisation scales the targets were computed with."""

    def __init__(self, weight, layer_weights: dict, targets: dict, scales: dict):
        super().__init__(weight)
        self.layer_weights, self.targets = layer_weights, targets
        self.layers = tuple(layer_weights)
        self.scales = {n: scales[n] for n in self.layers if n in scales}

    def state(self) -> dict:
        return {"targets": self.targets, "scales": self.scales}

    def signature(self) -> tuple:
        return (*super().signature(), tuple(self.layer_weights.items()), tuple(self.scales))


class ContentTerm(LayerTerm):
    """L_content = sum_l w_l 1/2 sum (F - P)^2 against the photo's features P."""

    name = "content"

    def partial(self, features, image, state, window):
        return {n: content_loss(normalized(state["scales"], n, window.features(n, features[n])),
                                window.target(n, state["targets"][n]))
                for n in self.layer_weights}

    def finish(self, sums, state):
        return weighted_sum(sums, self.layer_weights)


class StyleTerm(LayerTerm):
    """L_style = sum_l w_l E_l against the (blended) paintings' Grams A / M_a."""

    name = "style"

    def partial(self, features, image, state, window):
        return {n: gram_sums(window.features(n, features[n])) for n in self.layer_weights}

    def finish(self, sums, state):
        # The normalisation goes into the Grams (N^2 work), not the maps (M N).
        return style_loss_from_sums(sums, state["targets"], self.layer_weights, state["scales"])


class GuidedStyleTerm(LayerTerm):
    """Spatial control (Gatys et al. 2017): each region r, given by a mask
    over the photo, matches its own style's Gram matrices,
    L_style = sum_l w_l sum_r b_r E_l,r (see losses.guided_style_loss)."""

    name = "style"

    def __init__(self, weight, layer_weights, targets, scales, guides: dict, region_weights):
        super().__init__(weight, layer_weights, targets, scales)
        self.guides, self.region_weights = guides, tuple(region_weights)

    def state(self) -> dict:
        return {**super().state(), "guides": self.guides}

    def signature(self) -> tuple:
        return (*super().signature(), self.region_weights)

    def partial(self, features, image, state, window):
        # The guides' masses are sums over positions too: each core's share.
        return {n: [guided_sums(window.features(n, features[n]), window.target(n, guide))
                    for guide in state["guides"][n]]
                for n in self.layer_weights}

    def finish(self, sums, state):
        return guided_style_loss_from_sums(sums, state["targets"], self.layer_weights,
                                           self.region_weights, state["scales"])


def guide_at(mask, layer: str) -> tf.Tensor:
    """A mask brought to a layer's resolution by the network's own 2x2
    average pooling: the paper's simple downsampling, not its "inside"
    masks. (H, W) in [0, 1] -> (h, w)."""
    x = tf.convert_to_tensor(np.asarray(mask, np.float32))[None, :, :, None]  # (1, H, W, 1)
    for _ in range(poolings_before(layer)):
        x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
    return x[0, :, :, 0]


class TotalVariationTerm(LossTerm):
    """Smoothness prior on the pixels; not in the paper."""

    name = "tv"

    def partial(self, features, image, state, window):
        return {"tv": total_variation_loss(*window.extended(image))}

    def finish(self, sums, state):
        return sums["tv"]


class TemporalTerm(LossTerm):
    """Video (Ruder et al. 2016): hold the frame to the previous stylised
    frame warped onto it, where the flow is reliable. Not in the 2015 paper.

    The weight is the video's gamma rescaled: Ruder et al. weigh a content
    loss averaged over the D_l values of conv4_2's maps, ours sums them
    with a factor 1/2 (Gatys et al.), so gamma enters as gamma * D_l / 2 and
    keeps its balance against the content at every frame size.
    """

    name = "temporal"

    def __init__(self, weight: float, target, reliability):
        super().__init__(weight)
        self.target = tf.convert_to_tensor(np.asarray(target, np.float32))  # (H, W, 3)
        self.reliability = tf.convert_to_tensor(np.asarray(reliability, np.float32))  # (H, W)

    def state(self) -> dict:
        return {"target": self.target, "reliability": self.reliability}

    def partial(self, features, image, state, window):
        return temporal_sums(window.pixels(image), window.pixel_target(state["target"]),
                             window.pixel_target(state["reliability"]))

    def finish(self, sums, state):
        return temporal_loss_from_sums(sums)
