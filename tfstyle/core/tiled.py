"""The objective evaluated tile by tile, exactly (see tiling for the halos).

Every term of the objective is a function of sums over positions: the
content loss is one, and a Gram matrix G = sum_p F_p^T F_p is one. A term
gives its sums over a tile's core (`partial`) and its value from the sums
over all tiles (`finish`). So

    pass 1: each tile's forward pass gives its partial sums; they add up
            to the untiled ones, and the terms' values follow;
    pass 2: with the cotangents C = dL/d(sums) fixed, each tile's backward
            pass of <C, its own partial sums> gives its share of dL/dx.
            Halo pixels take gradient from every tile that reads them.

The last tile of pass 1 runs as the "pivot": its forward pass is kept for
the backward pass, which yields its gradient and the cotangents at once, so
n tiles cost (2n - 1) forward and n backward passes, not 2n and n.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from .. import faults
from ..events import TileDone, emit
from .losses import gram_matrix
from .tiling import Tile, TilePlan, pooling_grid


class Whole:
    """The window of an untiled evaluation: all of it is core."""

    def features(self, name, features):
        return features

    def target(self, name, full):
        return full

    def pixels(self, image):
        return image

    def extended(self, image):
        """(pixels with the next row and column, core height, core width)."""
        return image, None, None

    def pixel_target(self, full):
        return full


class TileWindow:
    """One tile's core inside its window, from its spec (see tile_spec)."""

    def __init__(self, spec: dict):
        self.spec = spec

    def features(self, name, features):  # (1, h, w, C) -> the core's
        top, bottom, left, right = tf.unstack(self.spec["layers"][name][:4])
        return features[:, top:bottom, left:right, :]

    def target(self, name, full):
        """The part of an image-wide map at layer `name` under this core:
        (1, H, W, C) targets or (H, W) guides."""
        top, bottom, left, right, row, col = tf.unstack(self.spec["layers"][name])
        if full.shape.rank == 4:
            return full[:, row:row + bottom - top, col:col + right - left, :]
        return full[row:row + bottom - top, col:col + right - left]

    def pixels(self, image):
        top, bottom, _, left, right, _, _, _ = tf.unstack(self.spec["pixels"])
        return image[top:bottom, left:right]

    def extended(self, image):
        top, bottom, below, left, right, beside, _, _ = tf.unstack(self.spec["pixels"])
        return image[top:below, left:beside], bottom - top, right - left

    def pixel_target(self, full):
        top, bottom, _, left, right, _, row, col = tf.unstack(self.spec["pixels"])
        return full[row:row + bottom - top, col:col + right - left]


def tile_spec(tile: Tile, shape, layers) -> dict:
    """Where the tile's core lies, as int32 tensors.

    layers[name]: (top, bottom, left, right) of the core in the tile's own
    feature map, then (row, col) of its first position in the image's.
    pixels: (top, bottom, bottom + 1 row, left, right, right + 1 col) of the
    core in the window (the extra row and column, inside the image, hold the
    neighbours total variation compares with), then (row, col) in the image.
    """
    height, width = shape
    top, bottom, left, right = tile.window
    core_top, core_bottom, core_left, core_right = tile.core
    spec = {}
    for name in layers:
        stride = pooling_grid(name)
        # The last core runs to the image's end, where pooling floors.
        rows = (core_top // stride, (core_bottom if core_bottom < height else height) // stride)
        cols = (core_left // stride, (core_right if core_right < width else width) // stride)
        spec[name] = [rows[0] - top // stride, rows[1] - top // stride,
                      cols[0] - left // stride, cols[1] - left // stride, rows[0], cols[0]]
    pixels = [core_top - top, core_bottom - top, min(core_bottom + 1, height) - top,
              core_left - left, core_right - left, min(core_right + 1, width) - left,
              core_top, core_left]
    return {"layers": {n: tf.constant(v, tf.int32) for n, v in spec.items()},
            "pixels": tf.constant(pixels, tf.int32)}


def _like(structure):
    """TensorSpecs of any size for a structure of tensors."""
    return tf.nest.map_structure(
        lambda t: tf.TensorSpec([None] * t.shape.rank, t.dtype), structure)


def crop(image, tile: Tile):
    top, bottom, left, right = tile.window
    return tf.convert_to_tensor(image[top:bottom, left:right])


def add(a, b):
    return tf.nest.map_structure(tf.add, a, b)


class TiledEvaluation:
    """Loss and gradient of an image over a TilePlan, equal to the untiled
    Objective's up to float rounding; see the module's docstring.

    terms: {name: LossTerm} with `partial` and `finish`; state: their state.
    callback: hears a `TileDone(tile, tiles, pass)` (tfstyle.events) after
    each tile: pass 1 for the forward passes (the last tile's with its
    gradient), pass 2 for the other tiles' gradients.
    """

    def __init__(self, extractor, layers, terms: dict, state: dict, plan: TilePlan,
                 xla: bool = False, callback: Callable | None = None):
        self.extractor, self.layers, self.terms, self.state = extractor, layers, terms, state
        self.plan, self.xla, self.callback = plan, xla, callback
        self.specs = [tile_spec(t, plan.shape, layers) for t in plan.tiles]
        image_spec = tf.TensorSpec([None, None, 3], tf.float32)
        fixed = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), self.specs[0])
        head = [image_spec, fixed, _like(state)]
        self._partials = tf.function(self._forward, input_signature=head,
                                     jit_compile=xla, autograph=False)
        self._head = head
        self._pivot = self._surrogate = None

    def _forward(self, tile, spec, state):
        features = self.extractor(tile[None], self.layers)
        window = TileWindow(spec)
        return {name: term.partial(features, tile, state[name], window)
                for name, term in self.terms.items()}

    def _finish(self, sums, state):
        values = {name: term.finish(sums[name], state[name]) for name, term in self.terms.items()}
        total = tf.add_n([self.terms[n].weight * v for n, v in values.items()])
        return tf.stack([total, *values.values()])

    def _pivot_step(self, tile, spec, state, others):
        with tf.GradientTape() as tape:
            tape.watch(tile)
            tape.watch(others)
            values = self._finish(add(others, self._forward(tile, spec, state)), state)
            total = values[0]
        grad, cotangents = tape.gradient(total, [tile, others],
                                         unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return values, grad, cotangents

    def _surrogate_step(self, tile, spec, state, cotangents):
        with tf.GradientTape() as tape:
            tape.watch(tile)
            partials = self._forward(tile, spec, state)
            inner = tf.add_n([tf.reduce_sum(c * p) for c, p in
                              zip(tf.nest.flatten(cotangents), tf.nest.flatten(partials))])
        return tape.gradient(inner, tile, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _compile(self, sums):
        """The pivot and surrogate steps, traced for the partial sums' structure."""
        signature = [*self._head, _like(sums)]
        self._pivot = tf.function(self._pivot_step, input_signature=signature,
                                  jit_compile=self.xla, autograph=False)
        self._surrogate = tf.function(self._surrogate_step, input_signature=signature,
                                      jit_compile=self.xla, autograph=False)

    def pivot_alone(self, image):
        """The pivot step on the largest tile against zero sums: one tile's
        forward and backward pass, for timing the XLA and plain paths."""
        index = self.plan.tiles.index(self.plan.largest)
        tile, spec = crop(image, self.plan.tiles[index]), self.specs[index]
        sums = self._partials(tile, spec, self.state)
        if self._pivot is None:
            self._compile(sums)
        zeros = tf.nest.map_structure(tf.zeros_like, sums)
        return self._pivot(tile, spec, self.state, zeros)

    def __call__(self, image):
        """(values [total, *terms], gradient (H, W, 3)) for an (H, W, 3) image."""
        image = np.asarray(image, np.float32)
        tiles, n = self.plan.tiles, len(self.plan.tiles)
        sums = None
        for k, (tile, spec) in enumerate(zip(tiles[:-1], self.specs[:-1])):
            partial = self._partials(crop(image, tile), spec, self.state)
            sums = partial if sums is None else add(sums, partial)
            self._report(k + 1, n, 1)
        if self._pivot is None:
            self._compile(sums)
        values, grad_last, cotangents = self._pivot(crop(image, tiles[-1]), self.specs[-1],
                                                    self.state, sums)
        grad = np.zeros_like(image)  # (H, W, 3)
        _scatter(grad, tiles[-1], grad_last)
        self._report(n, n, 1)
        for k, (tile, spec) in enumerate(zip(tiles[:-1], self.specs[:-1])):
            _scatter(grad, tile, self._surrogate(crop(image, tile), spec, self.state, cotangents))
            self._report(k + 1, n, 2)
        return values, tf.convert_to_tensor(grad)

    def _report(self, tile, tiles, step):
        emit(self.callback, TileDone(tile, tiles, step))
        faults.reached("tile")


def _scatter(grad: np.ndarray, tile: Tile, part):
    top, bottom, left, right = tile.window
    grad[top:bottom, left:right] += part.numpy()


def encode(extractor, image, layers, plan: TilePlan, maps=(), grams=()) -> dict:
    """A target image's statistics, tile by tile, forward passes only:

    means: {layer: (C,) channel means} of every layer, for the normalisation;
    maps: {layer: (1, h, w, C)} the whole feature map of each layer in `maps`;
    grams: {layer: (G, M)} the raw Gram sum_p F_p^T F_p and the positions M,
        of each layer in `grams`.
    """
    sums, counts, stitched, gram_sums = {}, {}, {}, {}
    for tile, spec in zip(plan.tiles, (tile_spec(t, plan.shape, layers) for t in plan.tiles)):
        window = Whole() if not plan.tiled else TileWindow(spec)
        features = extractor(crop(image, tile)[None], layers)
        for name in layers:
            core = window.features(name, features[name])  # (1, h, w, C)
            part = tf.reduce_sum(core, axis=[0, 1, 2])
            sums[name] = part if name not in sums else sums[name] + part
            counts[name] = counts.get(name, 0) + int(np.prod(core.shape[1:3]))
            if name in grams:
                g = gram_matrix(core)
                gram_sums[name] = g if name not in gram_sums else gram_sums[name] + g
            if name in maps:
                if not plan.tiled:
                    stitched[name] = core
                    continue
                if name not in stitched:
                    stride = pooling_grid(name)
                    stitched[name] = np.zeros((1, plan.shape[0] // stride,
                                               plan.shape[1] // stride, core.shape[-1]),
                                              np.float32)
                row, col = (int(v) for v in spec["layers"][name][4:])
                stitched[name][:, row:row + core.shape[1], col:col + core.shape[2]] = core.numpy()
        del features
    return {"means": {n: sums[n] / counts[n] for n in layers},
            "maps": {n: tf.convert_to_tensor(m) for n, m in stitched.items()},
            "grams": {n: (g, float(counts[n])) for n, g in gram_sums.items()}}
