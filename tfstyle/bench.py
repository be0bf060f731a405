"""Per-iteration cost against the bare network, measured in one process.

    tfstyle bench --sizes 256,512 [--json]

For each image size and with XLA on and off it times, as medians:
- floor: VGG19 forward and backward to the image through the layers in use,
  nothing else (the least an iteration can cost);
- objective: Objective.value_and_grad, with the Gram matrices, the loss
  sums and the numpy/TF hand-off;
- iteration: one accepted L-BFGS-B step, including scipy and the float64
  conversions (and any extra line-search evaluations).
It reports GFLOP/s (from the conv layers' multiply-adds), the ratios to the
floor, peak resident memory and the number of tf.function traces.

`--masks` also times spatial control: one evaluation with two styles
blended against the same two styles guided by left/right masks.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import tensorflow as tf

from .config import StyleConfig
from .extractor import FeatureExtractor
from .layers import LAYERS, deepest
from .objective import Objective
from .optim import minimize_lbfgs
from .demo import demo_content, demo_style
from .preprocess import resize, white_noise


def conv_gflop(height: int, width: int, layers, backward: bool = True) -> float:
    """Multiply-adds x 2 of VGG19's 3x3 convs up to the deepest of `layers`.

    Backward to the image costs about as much again as forward (input
    gradients only; no weight gradients are needed).
    """
    flops, channels, h, w = 0.0, 3, height, width
    for name in LAYERS[: LAYERS.index(deepest(layers)) + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
            continue
        out = 64 * 2 ** min(int(name[4]) - 1, 3)
        flops += 2.0 * h * w * channels * out * 9
        channels = out
    return flops * (2.0 if backward else 1.0) / 1e9


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and bytes on macOS; it never decreases.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_size(size: int, jit: bool, repeats: int = 5, iterations: int = 6,
               config: StyleConfig | None = None, extractor=None) -> dict:
    """One row of the table: a square image of `size` px."""
    config = (config or StyleConfig(weights="random")).replace(jit=jit, max_size=size)
    extractor = extractor or FeatureExtractor.for_config(config)
    layers = config.layers
    # Structured images: between two white noises the style loss is almost
    # flat, and the line search stalls on float32 rounding.
    content = resize(demo_content(size), (size, size))
    style = resize(demo_style(size), (size, size))
    x = white_noise((size, size), 3)

    @tf.function(jit_compile=jit, autograph=False)
    def floor(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            features = extractor(image[None], layers)
            total = tf.add_n([tf.reduce_sum(f) for f in features.values()])
        return tape.gradient(total, image)

    image = tf.constant(x)
    floor(image).numpy()  # trace and compile
    floor_s = _median_seconds(lambda: floor(image).numpy(), repeats)

    objective = Objective(content, style, config, extractor)
    objective.value_and_grad(x)
    objective_s = _median_seconds(lambda: objective.value_and_grad(x), repeats)

    # L-BFGS-B from the content, as in a default run; the first steps, whose
    # line searches try several points, are left out of the median.
    stamps, evaluations = [], []

    def fun(image):
        value, grad = objective.value_and_grad(image)
        evaluations.append(1)
        return value, grad

    def on_iterate(step, image, value):
        stamps.append((time.perf_counter(), len(evaluations)))

    stamps.append((time.perf_counter(), 0))
    minimize_lbfgs(fun, content, (0.0, 255.0), iterations + 2, on_iterate)
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[2:], stamps[3:])]
    iteration_s = statistics.median(s for s, _ in steps) if steps else float("nan")
    evals_per_iteration = sum(e for _, e in steps) / len(steps) if steps else float("nan")

    gflop = conv_gflop(size, size, layers)
    return {
        "size": size, "jit": jit, "gflop": round(gflop, 1),
        "floor_s": floor_s, "objective_s": objective_s, "iteration_s": iteration_s,
        "floor_gflops": gflop / floor_s, "objective_gflops": gflop / objective_s,
        "objective_ratio": objective_s / floor_s, "iteration_ratio": iteration_s / floor_s,
        "evaluations_per_iteration": evals_per_iteration,
        "traces": objective.traces, "peak_rss_mb": peak_rss_mb(),
    }


def run_bench(sizes=(256, 512), jit_modes=(False, True), repeats: int = 5, iterations: int = 6,
              config: StyleConfig | None = None, report=None) -> list[dict]:
    """Every (size, jit) row, smallest size first so peak RSS reads per size."""
    config = config or StyleConfig(weights="random")
    extractor = FeatureExtractor.for_config(config)
    rows = []
    for size in sorted(sizes):
        for jit in jit_modes:
            row = bench_size(size, jit, repeats, iterations, config, extractor)
            rows.append(row)
            if report is not None:
                report(row)
    return rows


def masks_overhead(size: int = 512, repeats: int = 5, config: StyleConfig | None = None,
                   extractor=None) -> dict:
    """Median seconds of one evaluation with two styles blended, and with the
    same two styles guided by complementary left/right masks."""
    import numpy as np

    config = (config or StyleConfig(weights="random")).replace(max_size=size)
    extractor = extractor or FeatureExtractor.for_config(config)
    content = resize(demo_content(size), (size, size))
    styles = [demo_style(size, seed=0), demo_style(size, seed=1)]
    left = np.zeros((size, size), np.float32)
    left[:, : size // 2] = 1.0
    row = {"size": size}
    for name, masks in (("blended_s", None), ("masked_s", [left, 1.0 - left])):
        objective = Objective(content, styles, config, extractor, masks=masks)
        objective.value_and_grad(content)  # trace
        row[name] = _median_seconds(lambda: objective.value_and_grad(content), repeats)
    row["masked_ratio"] = row["masked_s"] / row["blended_s"]
    return row


def coarse_to_fine_race(size: int = 512, iterations: int = 300, coarse: int = 256,
                        config: StyleConfig | None = None, content=None, style=None) -> dict:
    """Wall time for coarse-to-fine (`coarse` then `size`) to reach the final
    total loss of a single-scale run of `iterations` at `size`."""
    from .synthesis import stylize

    config = (config or StyleConfig(weights="random")).replace(max_size=size, iterations=iterations)
    content = demo_content(size) if content is None else content
    style = demo_style(size) if style is None else style
    extractor = FeatureExtractor.for_config(config)
    single = stylize(content, style, config, extractor=extractor)
    target = single.history[-1]["total"]
    reached = {}

    def until_target(it):
        if it.scale == 1 and it.total <= target:
            reached.update(seconds=it.seconds, iteration=it.iteration)
            return False
        return None

    staged = stylize(content, style, config.replace(scales=(coarse, size),
                                                    scale_iterations=(iterations, iterations)),
                     extractor=extractor, callback=until_target)
    coarse_iterations = sum(1 for h in staged.history if max(h["size"]) == coarse)
    return {"size": size, "coarse": coarse, "iterations": iterations,
            "single_seconds": single.seconds, "single_final_loss": target,
            "coarse_to_fine_seconds": reached.get("seconds"),
            "coarse_to_fine_iterations": reached.get("iteration"),
            "coarse_iterations": coarse_iterations,
            "coarse_to_fine_final_loss": staged.history[-1]["total"],
            "reached": bool(reached)}
