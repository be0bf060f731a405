"""The objective: a weighted sum of named loss terms, and its gradient.

    total = alpha * L_content + beta * L_style (+ tv_weight * L_tv)

Each term (`ContentTerm`, `StyleTerm`, `TotalVariationTerm`) holds its fixed
targets, encoded once when the Objective is built, and calls a pure loss
function from `losses`. Everything downstream (the Iterate the callback
hears, the progress line, the loss plot, the run record) iterates over the
terms' names, so a new term is a loss function plus a term class in
`terms`.

Each evaluation is one `tf.function` call: a forward and backward pass of
the extractor that returns every term and the gradient with respect to the
pixels. An image too large for the memory budget is evaluated tile by tile
instead (tfstyle.core.tiled), with the same value and gradient.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import jit
from ..config import StyleConfig, check_mask_counts
from ..errors import ConfigError, ImageError
from .jit import JitChoice
from ..layers import LAYERS
from .losses import guided_gram, scale_gram
from .terms import (ContentTerm, GuidedStyleTerm, LossTerm, StyleTerm, TemporalTerm,
                    TotalVariationTerm, guide_at, normalization_scales, normalized)
from .steps import Steps
from .tiled import TiledEvaluation, encode
from .memory import tile_side
from .normalization import describe, fixed_scales
from .tiling import TilePlan, plan_tiles


class Objective:
    """Loss and gradient of a generated image against fixed targets.

    content: (H, W, 3) RGB in [0, 255], or None for texture synthesis.
    style: one (H, W, 3) array, a list of them (blended by
        `config.style_blend`), or None for content reconstruction.
    extractor: a callable `(images, layers) -> {layer: features}`, normally a
        FeatureExtractor; built from `config` when None.
    masks: one (H, W) mask in [0, 1] over the content image per style, for
        spatial control; each style then shapes only its region.
    style_masks: one (h, w) mask per style image, or None for the whole
        painting: where its statistics are taken from.
    temporal: a video frame's (gamma, warped previous result (H, W, 3),
        reliability (H, W)), or None (see TemporalTerm).
    size: (height, width) of the image to optimise when there is no content
        image; it sizes the tiles (config.tile_size "auto").
    callback: hears a `TileDone` event (tfstyle.events) as a tiled evaluation goes.
    paintings: an EncodedPaintings (tfstyle.core.paintings) that keeps the
        paintings' encodings for the next Objective, a video's next frame:
        each is then encoded once, and only the photo's anew.

    Images too large for the memory budget are evaluated in tiles, exactly
    (tfstyle.core.tiled); so are the target images' encodings.
    """

    def __init__(self, content, style, config: StyleConfig = StyleConfig(), extractor=None,
                 masks=None, style_masks=None, temporal=None, size=None, callback=None,
                 paintings=None):
        self.config = config
        styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
        masks, style_masks = _check_masks(masks, style_masks, styles, content)
        # A style with blend weight 0, or whose mask is all zero, plays no
        # part, not even in the normalisation.
        kept = [(b, s, m, sm) for b, s, m, sm in zip(config.blend_weights(len(styles)), styles,
                                                   masks or [None] * len(styles),
                                                   style_masks or [None] * len(styles))
                if b > 0 and (m is None or np.max(m) > 0)] if styles else []
        total = sum(k[0] for k in kept) or 1.0
        self.blend = [b / total for b, *_ in kept]
        styles = [s for _, s, _, _ in kept]
        self.masks = [m for *_, m, _ in kept] if masks is not None else None
        self.style_masks = [sm for *_, sm in kept]
        content_weights = (config.content_layer_weights
                           if content is not None and config.alpha > 0 else {})
        style_weights = config.style_layer_weights if styles and config.resolved_beta > 0 else {}
        used = set(content_weights) | set(style_weights)
        if not used:
            raise ConfigError(None, "nothing to optimise: give a content image with alpha > 0 "
                                    "or a style image with beta > 0")
        self.layers = tuple(n for n in LAYERS if n in used)
        if extractor is None:
            from .extractor import FeatureExtractor
            extractor = FeatureExtractor.for_config(config, self.layers)
        self.extractor = extractor
        self.content_shape = None if content is None else tuple(np.shape(content)[:2])
        shape = self.content_shape or (tuple(size) if size is not None else None) \
            or tuple(np.shape(styles[0])[:2])
        self.tile_side = tile_side(config, shape, self.layers)
        self.plan: TilePlan | None = None  # of the optimised image, at its first evaluation
        self.callback = callback
        self.terms = self._build_terms(content, styles, content_weights, style_weights,
                                       temporal, paintings)
        self.state = {name: term.state() for name, term in self.terms.items()}
        self._steps = Steps.shared(self.extractor, self.layers, self.terms, self.state)
        self._traces = {False: 0, True: 0}  # made by this Objective's own calls, per path
        self.jit_choice: JitChoice | None = None  # made at the first evaluation
        self._evaluate = None  # the step of the chosen path, from then on

    @property
    def traces(self) -> int:
        """tf.function traces this Objective's evaluations caused, of the path
        in use (of both before a choice): 0 when an earlier one's served."""
        if self.jit_choice is None:
            return sum(self._traces.values())
        return self._traces[self.jit_choice.xla]

    def _step(self, xla: bool):
        """One path's evaluation, counting the traces it causes."""
        function = self._steps.function(xla)

        def step(image):
            before = function.experimental_get_tracing_count()
            out = function(image, self.state)
            self._traces[xla] += function.experimental_get_tracing_count() - before
            return out
        return step

    def _choose_jit(self, image: tf.Tensor) -> JitChoice:
        """config.jit on/off as set; auto from the cache, else by a race on
        this very image (its evaluations count in the run's time)."""
        if self.config.jit != "auto":
            return JitChoice(self.config.jit == "on", "set")

        def timed(xla):
            return lambda: [t.numpy() for t in self._step(xla)(image)]
        return self._raced("", *image.shape[:2], timed)

    def _tiled(self, plan: TilePlan, image: tf.Tensor):
        """(evaluation, JitChoice) of a tiled plan; auto races the two paths
        on its largest tile."""
        evaluations = {}

        def build(xla):
            if xla not in evaluations:
                evaluations[xla] = TiledEvaluation(self.extractor, self.layers, self.terms,
                                                   self.state, plan, xla, self.callback)
            return evaluations[xla]
        if self.config.jit != "auto":
            return build(self.config.jit == "on"), JitChoice(self.config.jit == "on", "set")
        image = np.asarray(image, np.float32)

        def timed(xla):
            return lambda: [t.numpy() for t in tf.nest.flatten(build(xla).pivot_alone(image))]
        choice = self._raced(", tiled", *plan.largest.shape, timed)
        return build(choice.xla), choice

    def _raced(self, kind: str, height: int, width: int, timed) -> JitChoice:
        """The cached choice for this network and size, else a race of
        timed(False) against timed(True), cached when it was a fair one."""
        network = (f"{type(self.extractor).__name__} {self.config.pooling} "
                   f"to {self.layers[-1]}{kind}")
        key = jit.cache_key(network, self.config.precision, height, width)
        choice = jit.cached(key)
        if choice is None:
            choice = jit.race(timed(False), timed(True))
            if choice.reason == "raced":
                jit.store(key, choice)
        return choice

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(self.terms)

    def _encode(self, image, layers, maps=(), grams=(), paintings=None) -> dict:
        """An image's channel means, maps and Grams (tiled.encode), in tiles
        of this Objective's side when it is larger than one; kept in (or
        found again in) `paintings` when one is given."""
        image = np.asarray(image, np.float32)

        def encoded():
            plan = plan_tiles(image.shape, layers, self.tile_side)
            return encode(self.extractor, image, layers, plan, maps, grams)
        if paintings is None:
            return encoded()
        return paintings.encoding(self.extractor, image, (layers, maps, grams, self.tile_side),
                                  encoded)

    def _build_terms(self, content, styles, content_weights, style_weights,
                     temporal=None, paintings=None) -> dict[str, LossTerm]:
        """Encode the targets once and wrap them in the active terms, in order.
        The scaled targets are made here from the encodings, kept paintings'
        too; under normalize pair the photo's means enter the scales."""
        config = self.config
        guided = bool(style_weights) and self.masks is not None
        content_raw = self._encode(content, self.layers, maps=tuple(content_weights)) \
            if content_weights else None
        styles_raw = [self._encode(s, tuple(style_weights),
                                   maps=tuple(style_weights) if guided else (),
                                   grams=() if guided else tuple(style_weights),
                                   paintings=paintings)
                      for s in styles] if style_weights else []
        self.normalization = describe(config.normalize)
        if config.normalize == "pair":
            # Each layer's scales come from every image that reaches it.
            self.scales = {}
            for name in self.layers:
                means = [{name: e["means"][name]} for e in [content_raw, *styles_raw]
                         if e is not None and name in e["means"]]
                self.scales.update(normalization_scales(means))
        else:  # the same for every photo, frame, tile and job of this network
            self.scales = fixed_scales(config.normalize, self.extractor, self.layers)
        terms: list[LossTerm] = []
        if content_weights:
            targets = {n: normalized(self.scales, n, content_raw["maps"][n])
                       for n in content_weights}
            terms.append(ContentTerm(config.alpha, content_weights, targets, self.scales))
        if style_weights and self.masks is not None:
            targets = {n: [guided_gram(normalized(self.scales, n, e["maps"][n]),
                                       tf.ones(e["maps"][n].shape[1:3]) if sm is None
                                       else guide_at(sm, n))
                           for e, sm in zip(styles_raw, self.style_masks)]
                       for n in style_weights}
            guides = {n: [guide_at(m, n) for m in self.masks] for n in style_weights}
            terms.append(GuidedStyleTerm(config.resolved_beta, style_weights, targets, self.scales,
                                         guides, self.blend))
        elif style_weights:
            targets = {n: tf.add_n([b * _scaled_gram(self.scales, n, *e["grams"][n])
                                    for b, e in zip(self.blend, styles_raw)])
                       for n in style_weights}
            terms.append(StyleTerm(config.resolved_beta, style_weights, targets, self.scales))
        if config.tv_weight > 0:
            terms.append(TotalVariationTerm(config.tv_weight))
        if temporal is not None and temporal[0] > 0:
            gamma, target, reliability = temporal
            if np.shape(target)[:2] != self.content_shape:
                raise ConfigError(None, f"the warped frame {np.shape(target)[:2]} does not "
                                        f"match the frame {self.content_shape}")
            # D_l of the (first) content layer: its positions times its filters.
            values = np.shape(terms[0].targets[next(iter(content_weights))]) \
                if content_weights else np.shape(target)
            terms.append(TemporalTerm(gamma * int(np.prod(values)) / 2, target, reliability))
        return {t.name: t for t in terms}

    def check_image(self, shape):
        if self.content_shape is not None and tuple(shape[:2]) != self.content_shape:
            raise ImageError(f"image size {tuple(shape[:2])} differs from the content "
                             f"image's {self.content_shape}")
        if hasattr(self.extractor, "check_size"):
            self.extractor.check_size(shape[0], shape[1], self.layers)

    def evaluate(self, image: np.ndarray):
        """(total, gradient like `image` as float32, {term: unweighted value}) in one pass."""
        values, grad = self.evaluate_tensor(tf.convert_to_tensor(image, tf.float32))
        total, terms = self.named(values)
        return total, grad.numpy(), terms

    def evaluate_tensor(self, image: tf.Tensor):
        """(values, gradient) as tensors on the network's device: values
        stacks the weighted total and each term (see `named`)."""
        if self._evaluate is None or self.plan.shape != tuple(image.shape[:2]):
            self.plan = plan_tiles(image.shape, self.layers, self.tile_side)
            if self.plan.tiled:
                self._evaluate, self.jit_choice = self._tiled(self.plan, image)
            else:
                self.jit_choice = self._choose_jit(image)
                self._evaluate = self._step(self.jit_choice.xla)
        return self._evaluate(image)

    def named(self, values: tf.Tensor) -> tuple[float, dict[str, float]]:
        """(total, {term: unweighted value}) from evaluate_tensor's values,
        in one host copy."""
        total, *terms = values.numpy().tolist()
        return total, dict(zip(self.terms, terms))

    def value_and_grad(self, image: np.ndarray):
        """(float, np.ndarray) of the total loss for an (H, W, 3) image."""
        self.check_image(np.shape(image))
        total, grad, _ = self.evaluate(image)
        return total, grad

    def values(self, image: np.ndarray) -> dict[str, float]:
        """{"total": ..., term: ...}: each term unweighted, plus the weighted total."""
        self.check_image(np.shape(image))
        total, _, terms = self.evaluate(image)
        return {"total": total, **terms}



def _scaled_gram(scales: dict, name: str, gram, count):
    """A Gram per position of the normalised features F diag(s), from the raw
    Gram: diag(s) G diag(s) / M, (C, C)."""
    return scale_gram(gram, scales.get(name)) / count


def _check_masks(masks, style_masks, styles, content):
    """Masks as lists of (H, W) float arrays, checked against the images."""
    if masks is None and style_masks is None:
        return None, None
    n = len(styles)
    check_mask_counts(n, masks, style_masks)
    if masks is None:  # style masks alone: each style over the whole photo
        if content is None:
            raise ConfigError("style_masks", "style masks need a content image")
        masks = [np.ones(np.shape(content)[:2], np.float32)] * n
    masks = [np.asarray(m, np.float32) for m in masks]
    if content is not None:
        for m in masks:
            if m.shape != tuple(np.shape(content)[:2]):
                raise ConfigError("masks", f"a mask of {m.shape} does not match the content "
                                           f"image's {tuple(np.shape(content)[:2])}")
    if all(np.max(m) <= 0 for m in masks):
        raise ConfigError("masks", "every mask is black: nothing to stylise")
    style_masks = list(style_masks) if style_masks is not None else [None] * n
    for k, (sm, style) in enumerate(zip(style_masks, styles)):
        if sm is not None and np.shape(sm) != tuple(np.shape(style)[:2]):
            raise ConfigError("style_masks", f"style mask {k + 1} of {np.shape(sm)} does not "
                                             f"match its style image's {np.shape(style)[:2]}")
        if sm is not None and np.max(sm) <= 0:
            raise ConfigError("style_masks", f"style mask {k + 1} is black: no part of its "
                                             "painting to take the style from")
    return masks, style_masks
