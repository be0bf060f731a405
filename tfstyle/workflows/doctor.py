"""`tfstyle doctor`: a self-check of this machine for a bug report.

    tfstyle doctor            # text; --json for JSON, --offline for no network

It reports the versions, the device, both memory pools of the plan
(core.memory), the XLA race at 512 px (core.jit's own race), whether
ImageNet weights can be had, and the largest print that fits. No GPU with
TensorFlow was reachable where tfstyle was built, so this is how the first
real GPU figures come back. Each section is a plain dict; a section that
fails reports its error instead of ending the check.
"""

from __future__ import annotations

import platform
import time

from ..config import StyleConfig
from ..io import system

GB = 1e9
# Sizes of the largest print are searched in steps of this many pixels, up
# to LARGEST_SIDE (a 65536 px square is 4.3 billion pixels: past any
# machine's host memory, at 60 bytes a pixel for the images alone).
STEP = 16
LARGEST_SIDE = 65536
# Long enough for a TCP handshake across the world, short enough that an
# offline machine hears "not available" within seconds.
PROBE_SECONDS = 3.0
PRECISION = "float32 (precision race not built yet)"
# CPU flags that decide TensorFlow's kernels on the CPU (oneDNN's AVX-512
# and bfloat16 paths, AMX tiles on Sapphire Rapids and later).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx")


def doctor(config: StyleConfig = StyleConfig(), race_size: int = 512,
           offline: bool = False) -> dict:
    """Every section of the self-check, in order. race_size 0 skips the race."""
    sections = {"versions": versions, "device": device,
                "memory": lambda: memory_pools(config),
                "race": lambda: xla_race(race_size, config) if race_size else {"skipped": True},
                "weights": lambda: imagenet_weights(offline),
                "largest_print": lambda: largest_print(config)}
    report = {}
    for name, check in sections.items():
        try:
            report[name] = check()
        except Exception as error:  # a self-check reports what failed and goes on
            report[name] = {"error": f"{type(error).__name__}: {error}"}
    return report


def versions() -> dict:
    import keras
    import numpy
    import tensorflow as tf

    from ..version import installed_version

    return {"tfstyle": installed_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def device() -> dict:
    """The device runs go to, the CPU and its flags, and the GPU TensorFlow
    sees with the driver's figures (memory.gpu_reading)."""
    import tensorflow as tf

    from ..core import memory
    from ..core.device import device_name

    flags = system.cpu_flags()
    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    reading = memory.gpu_reading()  # None unless TensorFlow sees a GPU
    return {"runs_on": device_name(), "cpu": system.cpu_model(),
            "cpu_flags": {f: any(x == f or x.startswith(f + "_") for x in flags)
                          if f == "amx" else f in flags for f in CPU_FLAGS},
            "gpus_seen_by_tensorflow": gpus,
            "gpu": None if reading is None else reading.to_dict()}


def memory_pools(config: StyleConfig) -> dict:
    """The host's pool and the device's, each with its budget and where
    the figure comes from, as a run's plan takes them."""
    from ..core import memory

    host, host_source = memory.host_budget(config.memory_limit)
    reading = memory.gpu_reading()
    gpu = memory.device_memory_bytes()
    budget, source = memory.device_budget(config.device_memory_limit, gpu, (host, host_source))
    pools = {"host": {"free_gb": system.free_memory_bytes() / GB, "budget_gb": host / GB,
                      "source": host_source}}
    pools["device"] = {"kind": "GPU" if gpu is not None else "CPU: one memory with the host",
                       "budget_gb": budget / GB, "source": source}
    if reading is not None:
        pools["device"].update(total_gb=reading.total / GB, available_gb=reading.available / GB,
                               reading=reading.source)
    return pools


def xla_race(size: int, config: StyleConfig) -> dict:
    """core.jit's race of one evaluation with and without XLA on a
    size x size transfer. Random filters: the time does not depend on the
    filters' values, and no weights need be had."""
    from ..core import jit
    from ..core.device import device_name
    from ..core.extractor import FeatureExtractor
    from ..core.objective import Objective
    from ..preprocess import resize, white_noise
    from .demo import demo_content, demo_style

    setting = config.replace(weights="random", precision="float32", max_size=size, scales=())
    extractor = FeatureExtractor.for_config(setting)
    content = resize(demo_content(size), (size, size))
    style = resize(demo_style(size), (size, size))
    image = white_noise((size, size), 0)
    paths = {xla: Objective(content, style, setting.replace(jit="on" if xla else "off"),
                            extractor) for xla in (False, True)}
    started = time.perf_counter()
    choice = jit.race(lambda: paths[False].evaluate(image), lambda: paths[True].evaluate(image))
    return {"size": size, "on": device_name(), "xla": choice.xla, "reason": choice.reason,
            "seconds": choice.to_dict()["seconds"], "description": choice.description,
            "race_seconds": round(time.perf_counter() - started, 2),
            "tiled": paths[False].plan.tiled, "weights": "random", "precision": PRECISION}


def imagenet_weights(offline: bool) -> dict:
    """Whether ImageNet's VGG19 weights can be had: Keras's cached copy
    (checked against its hash), else a connection to the download host
    that gives up within PROBE_SECONDS; offline looks at the cache only."""
    from ..weights import sources

    cached = sources.keras_cache_dir() / sources.IMAGENET_FILE
    if cached.exists() and sources.file_md5(cached) == sources.IMAGENET_MD5:
        return {"available": True, "how": f"cached at {cached}"}
    state = f"{'a damaged copy' if cached.exists() else 'not cached'} at {cached}"
    if offline:
        return {"available": False, "how": f"not available: {state}; the network was not "
                                           f"tried (--offline); {sources.OFFLINE_HINT}"}
    # The weights' own probe: a thread of its own, no process-wide socket setting.
    problem = sources.unreachable(sources.IMAGENET_URL, PROBE_SECONDS)
    if problem:
        return {"available": False,
                "how": f"not available: {state}, and {problem}; {sources.OFFLINE_HINT}"}
    return {"available": True, "how": f"{state}; the first ImageNet run downloads it "
                                      f"(about 80 MB) from {sources.IMAGENET_URL}"}


def largest_print(config: StyleConfig) -> dict:
    """The largest square, and the largest 3:2 landscape, whose memory plan
    (core.memory.plan_memory, the run's own check) does not refuse it, with
    the tile side, the pixels its tiles compute per pixel (halos make small
    tiles slow: what fits may not be worth running) and the optimiser it
    would run; a multiple of STEP."""
    from ..core import memory
    from ..core.tiling import plan_tiles
    from ..errors import ConfigError

    def plan(shape):
        try:
            return memory.plan_memory([shape], config, config.layers)
        except ConfigError:
            return None
    found = {}
    for name, shape_of in {"square": lambda side: (side, side),
                           "3:2": lambda side: (side * 2 // 3, side)}.items():
        side = largest_side(lambda s: plan(shape_of(s)) is not None, STEP, LARGEST_SIDE)
        if side is None:
            found[name] = None
            continue
        fitted, tile = plan(shape_of(side))
        overhead = plan_tiles(shape_of(side), config.layers, tile).overhead if tile else 1.0
        found[name] = {"width": side, "height": shape_of(side)[0], "tile": tile,
                       "overhead": round(overhead, 2), "driver": fitted.driver,
                       "at_least": side >= LARGEST_SIDE}
    return {**found, "step": STEP, "optimizer": config.optimizer,
            "history_size": config.history_size}


def largest_side(fits, step: int, limit: int) -> int | None:
    """The largest multiple of `step` up to `limit` that `fits`, by
    bisection (the plan grows with the side, so what fits is the sides up to
    one), or None when not even `step` does."""
    if not fits(step):
        return None
    good, bad = 1, limit // step + 1  # in steps: fits(good * step), and bad is past the end
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle * step) else (good, middle)
    return good * step
