"""Per-iteration cost against the bare network, measured in one process.

    tfstyle bench --sizes 256,512 [--json]

For each image size and with XLA on and off it times, as medians:
- floor: VGG19 forward and backward to the image through the layers in use,
  nothing else (the least an iteration can cost);
- objective: Objective.value_and_grad, with the Gram matrices, the loss
  sums and the numpy/TF hand-off;
- iteration: one accepted L-BFGS-B step, including scipy and the float64
  conversions (and any extra line-search evaluations);
- optimiser: the iteration less the evaluations inside it, for scipy's
  L-BFGS-B and for lbfgs-device (whose own iteration is also shown).
It reports GFLOP/s (from the conv layers' multiply-adds), the ratios to the
floor, peak resident memory, the number of tf.function traces, what
`--jit auto` picks at each size and, with `--compare-torch` where torch is
importable, the same bare pass in plain PyTorch.

`--masks` also times spatial control: one evaluation with two styles
blended against the same two styles guided by left/right masks.

`tfstyle video-bench`'s flicker measurements, and with `--footprint` a long
video's peak memory and set-up, are at the end of this module;
the races of whole runs are in tfstyle.bench.runs, the tiles' costs and
exactness in tfstyle.bench.tiles.
"""

from __future__ import annotations

import dataclasses
import math
import resource
import statistics
import sys
import time

import numpy as np
import tensorflow as tf

from ..config import StyleConfig
from ..events import Row, emit
from ..core.extractor import FeatureExtractor
from ..layers import LAYERS, conv_shapes, deepest
from ..core.objective import Objective
from ..optim.drivers import minimize_lbfgs
from ..workflows.demo import demo_content, demo_style
from ..preprocess import resize, to_uint8, white_noise


def conv_gflop(height: int, width: int, layers, backward: bool = True) -> float:
    """Multiply-adds x 2 of VGG19's 3x3 convs up to the deepest of `layers`.

    Backward to the image costs about as much again as forward (input
    gradients only; no weight gradients are needed).
    """
    flops, h, w, shapes = 0.0, height, width, conv_shapes()
    for name in LAYERS[: LAYERS.index(deepest(layers)) + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
            continue
        _, _, channels, out = shapes[name]
        flops += 2.0 * h * w * channels * out * 9
    return flops * (2.0 if backward else 1.0) / 1e9


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and bytes on macOS; it never decreases.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_size(size: int, jit: bool, repeats: int = 5, iterations: int = 6,
               config: StyleConfig | None = None, extractor=None) -> dict:
    """One row of the table: a square image of `size` px."""
    config = (config or StyleConfig(weights="random")).replace(jit="on" if jit else "off",
                                                               max_size=size)
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
    floor_s = median_seconds(lambda: floor(image).numpy(), repeats)

    objective = Objective(content, style, config, extractor)
    objective.value_and_grad(x)
    objective_s = median_seconds(lambda: objective.value_and_grad(x), repeats)
    row = {"size": size, "jit": "on" if jit else "off",
           "gflop": round(conv_gflop(size, size, layers), 1), "floor_s": floor_s, "objective_s": objective_s}
    scipy_steps = _driver_steps("lbfgs", objective, content, iterations)
    device_steps = _driver_steps("lbfgs-device", objective, content, iterations)
    row.update(iteration_s=scipy_steps["iteration_s"],
               evaluations_per_iteration=scipy_steps["evaluations_per_iteration"],
               optimizer_s=scipy_steps["optimizer_s"],
               device_iteration_s=device_steps["iteration_s"],
               device_optimizer_s=device_steps["optimizer_s"])
    row.update(floor_gflops=row["gflop"] / floor_s, objective_gflops=row["gflop"] / objective_s,
               objective_ratio=objective_s / floor_s, iteration_ratio=row["iteration_s"] / floor_s,
               traces=objective.traces, peak_rss_mb=peak_rss_mb())
    return row


def _driver_steps(driver: str, objective: Objective, start, iterations: int) -> dict:
    """Median seconds of an accepted step from `start` (the content, as in a
    default run), and of the optimiser's own share: the step's time less the
    evaluations inside it. The first two steps, whose line searches try
    several points, are left out of the medians."""
    import numpy as np

    from ..optim.lbfgs_device import minimize_lbfgs_device

    spent = []  # seconds of each evaluation

    def timed(evaluate):
        def fun(image):
            begin = time.perf_counter()
            value, grad = evaluate(image)
            spent.append(time.perf_counter() - begin)
            return value, grad
        return fun

    stamps = [(time.perf_counter(), 0)]

    def on_iterate(step, image, value):
        stamps.append((time.perf_counter(), len(spent)))

    if driver == "lbfgs":
        minimize_lbfgs(timed(objective.value_and_grad), start, (0.0, 255.0), iterations + 2,
                       on_iterate)
    else:
        def on_device(image):
            values, grad = objective.evaluate_tensor(image)
            return float(values[0]), grad  # one scalar to the host, as in a run
        minimize_lbfgs_device(timed(on_device), np.asarray(start), (0.0, 255.0), iterations + 2,
                              on_iterate)
    steps = [(b[0] - a[0], sum(spent[a[1]:b[1]]), b[1] - a[1])
             for a, b in zip(stamps[2:], stamps[3:])]
    if not steps:
        return {"iteration_s": math.nan, "optimizer_s": math.nan,
                "evaluations_per_iteration": math.nan}
    return {"iteration_s": statistics.median(wall for wall, _, _ in steps),
            "optimizer_s": statistics.median(wall - inside for wall, inside, _ in steps),
            "evaluations_per_iteration": sum(n for *_, n in steps) / len(steps)}


def auto_choice(size: int, config: StyleConfig, extractor) -> str:
    """What `--jit auto` picks at this size on this machine: the cached
    choice, or a race run now (and cached, as a run would)."""
    content = resize(demo_content(size), (size, size))
    objective = Objective(content, resize(demo_style(size), (size, size)),
                          config.replace(jit="auto"), extractor)
    objective.value_and_grad(content)
    return objective.jit_choice.description


def torch_floor(size: int, layers, repeats: int = 5) -> float | None:
    """Median seconds of the same bare pass in plain PyTorch (VGG19's convs
    with average pooling up to the deepest layer in use, forward and
    backward to the image, random weights), or None without torch. A
    yardstick from the most used peer framework, never a dependency."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    taps, modules, shapes = [], [], conv_shapes()
    for name in LAYERS[: LAYERS.index(deepest(layers)) + 1]:
        if name.startswith("pool"):
            modules.append(torch.nn.AvgPool2d(2))
            continue
        _, _, channels, out = shapes[name]
        modules += [torch.nn.Conv2d(channels, out, 3, padding=1), torch.nn.ReLU()]
        if name in layers:
            taps.append(len(modules) - 1)
    network = torch.nn.Sequential(*modules).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    image = torch.rand(1, 3, size, size, requires_grad=True)

    def step():
        total, h = 0.0, image
        for index, module in enumerate(network):
            h = module(h)
            if index in taps:
                total = total + h.sum()
        image.grad = None
        total.backward()

    step()
    return median_seconds(step, repeats)


def run_bench(sizes=(256, 512), jit_modes=(False, True), repeats: int = 5, iterations: int = 6,
              config: StyleConfig | None = None, callback=None, compare_torch: bool = False,
              ) -> list[dict]:
    """Every (size, jit) row, smallest size first so peak RSS reads per size.
    Each row also says what `--jit auto` picks at its size and, with
    compare_torch, how long plain PyTorch takes for the bare pass. The
    callback hears a `Row` (tfstyle.events) as each row is measured."""
    config = config or StyleConfig(weights="random")
    extractor = FeatureExtractor.for_config(config)
    rows = []
    for size in sorted(sizes):
        auto = auto_choice(size, config, extractor)
        torch_s = torch_floor(size, config.layers, repeats) if compare_torch else None
        for jit in jit_modes:
            row = bench_size(size, jit, repeats, iterations, config, extractor)
            row["auto"] = auto
            if compare_torch:
                row["torch_s"] = torch_s
                row["torch_ratio"] = torch_s / row["objective_s"] if torch_s else None
            rows.append(row)
            emit(callback, Row(row))
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
        row[name] = median_seconds(lambda: objective.value_and_grad(content), repeats)
    row["masked_ratio"] = row["masked_s"] / row["blended_s"]
    return row


def pan_zoom_clip(image, frames: int = 24, size: int = 256):
    """A clip made by panning across `image` and zooming in by a quarter:
    frames (H, W, 3) float32 with the longest side `size`, one at a time (a
    long clip is written as it is made). For the video benchmark; never
    stored with the project."""
    from PIL import Image

    picture = Image.fromarray(to_uint8(image))
    width, height = picture.size
    for k in range(frames):
        t = k / max(1, frames - 1)
        zoom = 1.0 + 0.25 * t
        w, h = width * 0.6 / zoom, height * 0.6 / zoom
        cx, cy = width * (0.35 + 0.3 * t), height * 0.5
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        out = (size, round(size * h / w)) if w >= h else (round(size * w / h), size)
        yield np.asarray(picture.resize(out, Image.Resampling.LANCZOS, box=box), np.float32)


def video_footprint(source, style, folder, config: StyleConfig, iterations: int = 2,
                    extractor=None) -> dict:
    """One video with the default settings, every frame `iterations`: the
    process's peak RSS (run it alone in its process), and the seconds per
    frame split into the iterations (each frame's steady step, from its
    first iterate to its last, times its iterations) and the set-up (all the
    rest: reading, flow, each frame's objective, writing, encoding)."""
    from ..events import Frame, Iterate
    from ..workflows.video import stylize_video
    from ..workflows.video_settings import VideoSettings

    steps: dict[int, list] = {}

    def heard(event):
        if isinstance(event, Frame) and isinstance(event.event, Iterate):
            steps.setdefault(event.frame, []).append(event.event.seconds)
    started = time.perf_counter()
    record = stylize_video(source, [style], f"{folder}/footprint.mp4",
                           config.replace(iterations=iterations),
                           VideoSettings(first_frame_iterations=iterations,
                                         frame_iterations=iterations), overwrite=True,
                           extractor=extractor, callback=heard)
    seconds, count = time.perf_counter() - started, record["count"]
    iterating = sum((s[-1] - s[0]) * len(s) / (len(s) - 1) if len(s) > 1 else s[0]
                    for s in steps.values())
    return {"frames": count, "size": record["size"], "peak_rss_mb": peak_rss_mb(),
            "seconds_per_frame": seconds / count, "iterations_per_frame": iterating / count,
            "setup_per_frame": (seconds - iterating) / count}


def video_flicker(source, style, folder, config: StyleConfig, iterations: int = 40,
                  runs=None, callback=None, extractor=None) -> list[dict]:
    """Temporal error and style loss of stylised videos of one clip: the
    independent per-frame baselines (temporal weight 0, content or noise
    start) against Ruder et al.'s (warped start and temporal loss), every
    frame with the same iterations. A run whose frames are all cuts has no
    temporal error (None); `temporal_error_note` then says why. The
    callback hears a `Row` as each run ends."""
    from ..workflows.video import stylize_video
    from ..workflows.video_settings import VideoSettings

    runs = runs or {
        "independent, content start": VideoSettings(temporal_weight=0, frame_init="content"),
        "independent, noise start": VideoSettings(temporal_weight=0, frame_init="noise"),
        "warped start only": VideoSettings(temporal_weight=0),
        "warped + temporal loss (default)": VideoSettings()}
    rows = []
    for k, (name, settings) in enumerate(runs.items()):
        settings = dataclasses.replace(settings, first_frame_iterations=iterations,
                                       frame_iterations=iterations)
        started = time.perf_counter()
        record = stylize_video(source, [style], f"{folder}/run{k}.mp4",
                               config.replace(iterations=iterations), settings, overwrite=True,
                               extractor=extractor)
        rows.append({"run": name, "temporal_weight": settings.temporal_weight,
                     "frame_init": settings.frame_init, "frames": record["count"],
                     "size": record["size"], "temporal_error": record["temporal_error"],
                     "temporal_error_note": _temporal_note(record),
                     "style_loss": record["style_loss"],
                     "seconds_per_frame": (time.perf_counter() - started) / record["count"]})
        emit(callback, Row(rows[-1]))
    return rows


def _temporal_note(record: dict) -> str | None:
    """Why a video record has no temporal error: it is measured only between
    a frame and the one before it, within a shot."""
    if record.get("temporal_error") is not None:
        return None
    return "one frame, no pair" if record["count"] < 2 else "no frame pair without a cut"


VIDEO_HEADINGS = ("run", "gamma", "temporal error", "/ content start", "/ noise start",
                  "style loss", "/ content start", "/ noise start", "s per frame")


def _figure(value, fmt: str, note: str | None = None) -> str:
    if value is None:
        return f"n/a ({note})" if note else "n/a"
    return fmt.format(value)


def _ratio(value, against, fmt: str) -> str:
    """value / against, or n/a: a missing figure, or a zero one (a frozen
    video's temporal error), has no ratio."""
    if value is None or against is None:
        return "n/a"
    if against == 0:
        return "n/a (against 0)"
    return fmt.format(value / against)


def video_report_line(row: dict) -> str:
    """One video_flicker row as the progress line of `tfstyle video-bench`."""
    return (f"{row['run']}: temporal error "
            f"{_figure(row['temporal_error'], '{:.2f}', row.get('temporal_error_note'))}, "
            f"style loss {_figure(row['style_loss'], '{:.4f}')}")


def _baseline(rows: list[dict], init: str) -> dict:
    """The independent run (temporal weight 0) from `init`, or an empty row."""
    return next((r for r in rows if r["temporal_weight"] == 0 and r["frame_init"] == init), {})


def video_table_rows(rows: list[dict]) -> list[list[str]]:
    """The cells of `tfstyle video-bench`'s table (headings VIDEO_HEADINGS):
    each run's figures and their ratios to the independent baselines."""
    content, noise = _baseline(rows, "content"), _baseline(rows, "noise")
    table = []
    for row in rows:
        error, loss = row["temporal_error"], row["style_loss"]
        table.append([row["run"], f"{row['temporal_weight']:g}",
                      _figure(error, "{:.2f}", row.get("temporal_error_note")),
                      _ratio(error, content.get("temporal_error"), "{:.3f}"),
                      _ratio(error, noise.get("temporal_error"), "{:.3f}"),
                      _figure(loss, "{:.4f}"),
                      _ratio(loss, content.get("style_loss"), "{:.2f}"),
                      _ratio(loss, noise.get("style_loss"), "{:.2f}"),
                      f"{row['seconds_per_frame']:.1f}"])
    return table
