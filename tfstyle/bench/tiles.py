"""`tfstyle bench --tile-size`: what tiles cost and that they change nothing.

- tiled_rows: seconds and peak RSS of one evaluation untiled and in tiles,
  each in a fresh process, beside the memory estimate tiles are planned by;
- tiled_exactness (`--exactness`): the tiled loss and gradient against the
  untiled ones.
"""

from __future__ import annotations

import time

import numpy as np

from .speed import median_seconds, peak_rss_mb
from ..config import StyleConfig
from ..events import Row, emit
from ..workflows.demo import demo_content, demo_style
from ..core.extractor import FeatureExtractor
from ..core.objective import Objective
from ..preprocess import resize, white_noise


def tiled_rows(sizes, tile_size, config: StyleConfig, repeats: int = 2, callback=None) -> list[dict]:
    """Per size: one evaluation untiled and one in tiles of `tile_size` px
    ("auto": from the memory budget), each in a fresh process so its peak
    RSS is its own, beside the estimate tiles are planned by (its largest
    tile, TensorFlow, the image-sized buffers). An untiled evaluation whose
    estimate exceeds the budget is marked as not fitting and not run. The
    callback hears a `Row` (tfstyle.events) as each is measured."""
    from ..core.memory import (BASELINE_BYTES, GB, evaluation_bytes, image_bytes, memory_budget,
                               tile_side)
    from ..core.tiling import plan_tiles

    budget, source = memory_budget(config.memory_limit, config.device_memory_limit)
    rows = []
    for size in sorted(sizes):
        for tiles in (0, tile_size):
            side = tile_side(config.replace(tile_size=tiles), (size, size), config.layers)
            largest = plan_tiles((size, size), config.layers, side).largest.pixels
            need = (evaluation_bytes(largest, config.layers) + BASELINE_BYTES
                    + image_bytes(size * size, config.content_layers))
            row = {"size": size, "tile_size": tiles or "untiled", "budget_gb": budget / GB,
                   "budget": source, "estimate_gb": need / GB}
            if not tiles and need > budget:
                row["fits"] = False
            else:
                row.update(_in_child(_tiled_evaluation, size, tiles, config.to_dict(), repeats),
                           fits=True)
            rows.append(row)
            emit(callback, Row(row))
    return rows


def _in_child(function, *args):
    """function(*args) in a fresh spawned process, for its own peak RSS."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _tiled_evaluation(size: int, tile_size, settings: dict, repeats: int) -> dict:
    """Seconds (median of `repeats` after one untimed evaluation) and peak
    RSS of one evaluation of a size x size image; runs in a child process."""
    config = StyleConfig.from_dict(settings).replace(tile_size=tile_size, max_size=size,
                                                     scales=())
    extractor = FeatureExtractor.for_config(config)
    content = resize(demo_content(size), (size, size))
    style = resize(demo_style(size), (size, size))
    x = white_noise((size, size), 3)
    objective = Objective(content, style, config, extractor)
    first = time.perf_counter()
    objective.evaluate(x)
    first = time.perf_counter() - first
    seconds = median_seconds(lambda: objective.evaluate(x), repeats)
    plan = objective.plan
    return {"seconds": seconds, "first_s": first, "peak_rss_gb": peak_rss_mb() / 1e3,
            "tiles": len(plan.tiles), "grid": "x".join(map(str, plan.grid)),
            "overhead": plan.overhead, "halo": plan.halo,
            "largest": "x".join(map(str, plan.largest.shape[::-1])),
            "jit": objective.jit_choice.description}


def tiled_exactness(width: int, height: int, tile_sizes, config: StyleConfig) -> list[dict]:
    """Loss relative error and gradient max-abs error / gradient max of the
    tiled objective against the untiled one, for a width x height image
    (odd sizes on purpose), the paper's layers, one evaluation each."""
    config = config.replace(max_size=max(width, height), scales=())
    extractor = FeatureExtractor.for_config(config)
    content = resize(demo_content(width), (height, width))
    style = resize(demo_style(width), (height + 37, width - 29))  # a size of its own
    x = white_noise((height, width), 3)
    total0, grad0, _ = Objective(content, style, config.replace(tile_size=0),
                                 extractor).evaluate(x)
    rows = []
    for tile in tile_sizes:
        objective = Objective(content, style, config.replace(tile_size=tile), extractor)
        total, grad, _ = objective.evaluate(x)
        rows.append({"size": f"{width}x{height}", "tile_size": tile,
                     "plan": objective.plan.describe(),
                     "loss_error": abs(total - total0) / abs(total0),
                     "gradient_error": float(np.abs(grad - grad0).max() / np.abs(grad0).max())})
    return rows
