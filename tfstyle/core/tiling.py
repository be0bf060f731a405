"""Tiles for the exact tiled objective: where they go, and what they cost.

A 3x3 "same" convolution reads one position beyond each side, at the
resolution of its layer; a 2x2 pooling reads no further than its own cell.
So a feature of layer l at stride S (2 ** poolings before l) depends on the
input pixels [j S - r, j S + S - 1 + r], with the receptive radius

    r = sum over the convolutions up to l of their stride.

    conv3_1: 1 + 1 + 2 + 2 + 4      = 10 px
    conv4_2: 10 + 4 + 4 + 4 + 8 + 8 = 38 px
    conv5_1: 38 + 8 + 8 + 16        = 70 px   (conv4_3, conv4_4, conv5_1)

A tile computes its window of the image with zero padding at the window's
edges, so its features are the untiled network's exactly where their
receptive field stays inside the window (or meets the image's own border,
where untiled pads too). Each tile therefore owns a core, and its window
adds a halo of r px on every side inside the image. Cores and windows start
on multiples of the deepest layer's stride S (the pooling grid), so the
tile's poolings cut the same cells as the untiled network's, and the halo is
r rounded up to a multiple of S: 16 px steps, 80 px for conv5_1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..layers import LAYERS, deepest, poolings_before

def receptive_radius(layer: str) -> int:
    """r: how far beyond its own stride cell a feature of `layer` reads, px."""
    radius, stride = 0, 1
    for name in LAYERS[: LAYERS.index(layer) + 1]:
        if name.startswith("conv"):
            radius += stride
        else:
            stride *= 2
    return radius


def pooling_grid(layer: str) -> int:
    """S: the stride of `layer`'s positions in input pixels."""
    return 2 ** poolings_before(layer)


def halo(layers) -> int:
    """The halo of a tile for these layers: the deepest one's receptive
    radius, rounded up to its pooling grid."""
    last = deepest(layers)
    grid = pooling_grid(last)
    return math.ceil(receptive_radius(last) / grid) * grid


def min_tile_size(layers) -> int:
    """The smallest tile side: a halo on each side of one grid cell."""
    return 2 * halo(layers) + pooling_grid(deepest(layers))


@dataclass(frozen=True)
class Tile:
    """One tile: the window it computes and the core it owns, each
    (top, bottom, left, right) in image pixels, ends excluded."""
    window: tuple[int, int, int, int]
    core: tuple[int, int, int, int]

    @property
    def shape(self) -> tuple[int, int]:
        top, bottom, left, right = self.window
        return bottom - top, right - left

    @property
    def pixels(self) -> int:
        height, width = self.shape
        return height * width


@dataclass(frozen=True)
class TilePlan:
    shape: tuple[int, int]  # (height, width) of the image
    tiles: tuple[Tile, ...]
    halo: int
    grid: tuple[int, int]  # tiles down, tiles across

    @property
    def tiled(self) -> bool:
        return len(self.tiles) > 1

    @property
    def overhead(self) -> float:
        """Pixels the tiles compute / the image's pixels (1.0 untiled)."""
        return sum(t.pixels for t in self.tiles) / (self.shape[0] * self.shape[1])

    @property
    def largest(self) -> Tile:
        return max(self.tiles, key=lambda t: t.pixels)

    def describe(self) -> str:
        if not self.tiled:
            return "untiled"
        height, width = self.largest.shape
        return (f"{len(self.tiles)} tiles ({self.grid[0]}x{self.grid[1]}, up to {width}x{height} "
                f"px, halo {self.halo} px, {self.overhead:.2f}x the pixels)")


def split(length: int, parts: int, margin: int, grid: int):
    """[(core, window)] of `parts` cores on the grid covering [0, length),
    each window its core plus `margin` inside [0, length)."""
    step = math.ceil(length / parts / grid) * grid
    spans = []
    for start in range(0, length, step):
        end = min(start + step, length)
        spans.append(((start, end), (max(0, start - margin), min(length, end + margin))))
    return spans


def check_tile_size(tile_size: int, layers):
    """Refuse tiles too small to hold one grid cell inside their halos."""
    smallest = min_tile_size(layers)
    if tile_size < smallest:
        raise ConfigError("tile_size", f"tiles of {tile_size} px are too small for "
                                       f"{deepest(layers)}: the least is {smallest} px (a "
                                       f"{halo(layers)} px halo on each side of "
                                       f"{pooling_grid(deepest(layers))} px)")


def plan_tiles(shape, layers, tile_size: int | None) -> TilePlan:
    """The cheapest grid of tiles of at most tile_size x tile_size pixels each.

    A tile's memory follows its area, so a tile may be a strip: 2048 x 1104
    fits where 1536 x 1536 does. Among the grids that fit, the one computing
    the fewest pixels (halos included) wins, counting the forward pass the
    tiles repeat (see tiled.TiledEvaluation: n tiles cost (3n - 1) / 2n of
    n untiled passes). None or 0: one tile, the whole image.
    """
    height, width = int(shape[0]), int(shape[1])
    margin, grid = halo(layers), pooling_grid(deepest(layers))
    whole = TilePlan((height, width), (Tile((0, height, 0, width), (0, height, 0, width)),),
                     0, (1, 1))
    if tile_size:
        check_tile_size(tile_size, layers)
    if not tile_size or height * width <= tile_size * tile_size:
        return whole
    best = None
    for down in range(1, math.ceil(height / grid) + 1):
        rows = split(height, down, margin, grid)
        tallest = max(w[1] - w[0] for _, w in rows)
        for across in range(1, math.ceil(width / grid) + 1):
            cols = split(width, across, margin, grid)
            widest = max(w[1] - w[0] for _, w in cols)
            if tallest * widest > tile_size * tile_size:
                continue
            n = len(rows) * len(cols)
            computed = (sum(w[1] - w[0] for _, w in rows) * sum(w[1] - w[0] for _, w in cols))
            cost = computed * (3 * n - 1) / (2 * n)
            if best is None or cost < best[0]:
                best = (cost, rows, cols)
            break  # more columns only add halos
    if best is None:
        raise ConfigError("tile_size", f"no grid of {tile_size} px tiles covers "
                                       f"{width}x{height} px")
    _, rows, cols = best
    tiles = tuple(Tile((r[1][0], r[1][1], c[1][0], c[1][1]), (r[0][0], r[0][1], c[0][0], c[0][1]))
                  for r in rows for c in cols)
    return TilePlan((height, width), tiles, margin, (len(rows), len(cols)))
