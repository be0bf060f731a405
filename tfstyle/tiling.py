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
import os
from dataclasses import dataclass

from .errors import ConfigError
from .layers import LAYERS, deepest, poolings_before
from .weights import conv_shapes

GB = 1e9

# Resident memory of a process with TensorFlow and one extractor loaded,
# before any evaluation (0.83 GB measured on AMD EPYC, TF 2.21).
BASELINE_BYTES = 1.0 * GB

# One forward and backward pass keeps every layer's activations for the
# backward pass, and the backward pass needs about as much again for its
# own gradients. Measured 1.4x the float32 activations untiled at 1024 and
# 2048 px, and 1.9-2.2x for a tiled evaluation with its encodings (AMD
# EPYC; `tfstyle bench --tile-size`); 2.5x leaves room for other CPUs'
# kernels. TensorFlow keeps that memory once taken (the process's RSS
# stays at its high-water mark), so every scale of a run uses the same tiles.
ACTIVATION_FACTOR = 2.5

# A forward pass alone (encoding a target) frees each activation once the
# next layer has read it.
FORWARD_FACTOR = 0.75

# The share of the free memory an evaluation may plan for, by default.
DEFAULT_SHARE = 0.75

# Tiles are planned into this share of the budget: a 3072 px print planned
# to 9.9 GB of a 10 GB budget peaked at 10.8 GB (AMD EPYC). Part of the gap
# is scipy's L-BFGS-B turning the pixel bounds into a Python list of one
# (lower, upper) tuple per value, and back, at each start.
PLAN_SHARE = 0.9


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


# Memory -------------------------------------------------------------------

def activation_floats(layers) -> float:
    """Float32 values per input pixel of every map up to the deepest layer."""
    shapes, total, stride, channels = conv_shapes(), 3.0, 1, 3
    for name in LAYERS[: LAYERS.index(deepest(layers)) + 1]:
        if name.startswith("pool"):
            stride *= 2
        else:
            channels = shapes[name][-1]
        total += channels / stride ** 2
    return total


def evaluation_bytes(pixels: int, layers, forward_only: bool = False) -> float:
    """Estimated memory of one pass over `pixels` input pixels."""
    factor = FORWARD_FACTOR if forward_only else ACTIVATION_FACTOR
    return factor * 4 * activation_floats(layers) * pixels


def image_bytes(pixels: int, content_layers=("conv4_2",)) -> float:
    """The image-sized buffers of an evaluation beside its tiles: eight
    float32 RGB images (the photo, the painting at that size, the image and
    its gradient, and their copies across the NumPy/TensorFlow hand-off),
    and the photo's whole feature maps at the content layers (the targets,
    32 bytes a pixel at conv4_2). At 4096 px this read 5.0 GB measured
    against 5.7 GB estimated (`tfstyle bench --tile-size 1024`)."""
    shapes = conv_shapes()
    maps = sum(shapes[n][-1] / pooling_grid(n) ** 2 for n in content_layers)
    return (8 * 3 + maps) * 4.0 * pixels


def lbfgs_bytes(pixels: int, history_size: int) -> float:
    """scipy's L-BFGS-B at an image of `pixels` pixels, in float64 vectors
    of its 3 x pixels values: the work array's 2 x history_size + 5 (scipy
    1.17, `_lbfgsb_py`), the point, gradient and two bounds, the integer
    arrays (two vectors' worth), and the driver's best point, float64
    gradient, scipy's copies of the point and gradient and the float32
    image and gradient: 2 x history_size + 16."""
    return (2 * history_size + 16) * 8.0 * 3 * pixels


def optimizer_bytes(pixels: int, config) -> float:
    """The optimiser's image-sized buffers: L-BFGS's (lbfgs_bytes), or
    Adam's point, gradient and two moments."""
    if config.optimizer == "adam":
        return 4 * 8.0 * 3 * pixels
    return lbfgs_bytes(pixels, config.history_size)


def free_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo, else the physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def gpu_memory_bytes() -> float | None:
    """The memory TensorFlow may use on the first GPU, or None without one.
    (Not measured here: this workplace has no GPU with TensorFlow.)"""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    try:
        from tensorflow.python.client import device_lib

        limits = [d.memory_limit for d in device_lib.list_local_devices()
                  if d.device_type == "GPU"]
        return float(limits[0]) if limits else None
    except Exception:  # an internal API; without it, plan by the host's memory
        return None


def memory_budget(limit_gb: float | None) -> tuple[float, str]:
    """(bytes, where the figure comes from) an evaluation may plan for."""
    if limit_gb is not None:
        return float(limit_gb) * GB, f"--memory-limit {limit_gb:g} GB"
    gpu = gpu_memory_bytes()
    if gpu is not None:
        return DEFAULT_SHARE * gpu, f"{DEFAULT_SHARE:.0%} of the GPU's {gpu / GB:.1f} GB"
    free = free_memory_bytes()
    return DEFAULT_SHARE * free, f"{DEFAULT_SHARE:.0%} of the {free / GB:.1f} GB free"


def auto_tile_size(shape, layers, budget: float, reserved: float = 0.0) -> int | None:
    """The largest tile side whose evaluation fits in `budget` bytes beside
    `reserved` ones (L-BFGS buffers, targets); None when the whole image fits."""
    room = PLAN_SHARE * budget - reserved - BASELINE_BYTES
    pixels = int(shape[0]) * int(shape[1])
    if evaluation_bytes(pixels, layers) <= room:
        return None
    grid = pooling_grid(deepest(layers))
    side = int(math.sqrt(max(room, 0) / evaluation_bytes(1, layers))) // grid * grid
    smallest = min_tile_size(layers)
    if side < smallest:
        need = (evaluation_bytes(smallest * smallest, layers) + reserved + BASELINE_BYTES) \
            / PLAN_SHARE
        raise ConfigError("memory_limit", f"{budget / GB:.2f} GB is too little for even the "
                                          f"smallest tile ({smallest} px); the least that "
                                          f"works here is {math.ceil(need / GB * 10) / 10:.1f} GB")
    return side


def tile_side(config, shape, layers) -> int | None:
    """The largest tile side for an image of `shape` under a StyleConfig's
    tile_size (0: None, no tiling; N: N px, checked; auto: from the memory
    budget, beside the L-BFGS buffers of an image of that shape)."""
    setting = config.tile_size
    if setting != "auto":
        if setting:
            check_tile_size(setting, layers)
        return setting or None
    budget, _ = memory_budget(config.memory_limit)
    pixels = int(shape[0]) * int(shape[1])
    reserved = optimizer_bytes(pixels, config) + image_bytes(pixels, config.content_layers)
    return auto_tile_size(shape, layers, budget, reserved)


def check_optimizer_memory(shape, config) -> float:
    """Refuse an output whose L-BFGS buffers alone exceed the budget, before
    any work; returns their bytes."""
    needed = optimizer_bytes(int(shape[0]) * int(shape[1]), config)
    budget, source = memory_budget(config.memory_limit)
    if needed + BASELINE_BYTES > budget:
        raise ConfigError("max_size", f"an output of {shape[1]}x{shape[0]} px needs "
                                      f"{needed / GB:.2f} GB for the optimiser's buffers "
                                      f"({config.optimizer}, history {config.history_size}) "
                                      f"beside {BASELINE_BYTES / GB:.1f} GB for TensorFlow, "
                                      f"more than {source} ({budget / GB:.1f} GB); lower "
                                      f"--max-size or --history-size")
    return needed


def rss_bytes() -> float:
    """This process's resident memory now (Linux), else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return float(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0.0
