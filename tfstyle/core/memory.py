"""The memory plan: what a run holds, charged to two pools, and the tile
size that keeps it within them.

The host's pool is the process's RSS: TensorFlow, the NumPy images, the
host optimisers (scipy's float64 vectors and its per-value bounds). The
device's is the network's evaluation and its tensors. Without a GPU they
are one memory, checked together against the host's budget. The plan is
sized for the largest scale a run actually runs (plan.RunPlan), and one tile
size serves every scale: TensorFlow keeps an evaluation's memory at its
high-water mark.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..io import system
from ..io.gpu import GpuMemory, gpu_memory, visible_device
from ..layers import LAYERS, conv_shapes, deepest
from ..optim.drivers import driver_bytes, driver_for, scipy_lbfgs_bytes
from .tiling import check_tile_size, min_tile_size, pooling_grid

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
# was scipy's per-value bounds objects (optim.bounds_bytes), now charged.
PLAN_SHARE = 0.9

# The GPU's own memory beside an evaluation: the weights (0.08 GB float32),
# cuDNN's workspace, the allocator's slack. A guess, not measured: this
# workplace has no GPU with TensorFlow.
DEVICE_BASELINE_BYTES = 0.5 * GB

# The GPU's size where TensorFlow sees one but neither NVML nor nvidia-smi
# answers: the smallest card TensorFlow's CUDA builds still run on well.
ASSUMED_GPU_BYTES = 4.0 * GB


# Memory -------------------------------------------------------------------
# One plan charges what a run holds to two pools: the host's (the process's
# RSS: TensorFlow, the NumPy images, the host optimisers) and the device's
# (the network's evaluation and tensors). Without a GPU they are one memory.

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


def image_bytes(pixels: int, content_layers=("conv4_2",), split: bool = False):
    """The image-sized buffers of an evaluation beside its tiles: eight
    float32 RGB images (the photo, the painting at that size, the image and
    its gradient, and their copies across the NumPy/TensorFlow hand-off),
    and the photo's whole feature maps at the content layers (the targets,
    32 bytes a pixel at conv4_2). At 4096 px this read 5.0 GB measured
    against 5.7 GB estimated (`tfstyle bench --tile-size 1024`). split:
    (host, device), the NumPy images on the host and the rest on the device."""
    shapes = conv_shapes()
    maps = sum(shapes[n][-1] / pooling_grid(n) ** 2 for n in content_layers)
    # One float32 RGB image more on the host: the last iterate a run keeps
    # for a stop that cannot wait (runs.TransferRun).
    host, device = 5 * 3 * 4.0 * pixels, (4 * 3 + maps) * 4.0 * pixels
    return (host, device) if split else host + device


def lbfgs_bytes(pixels: int, history_size: int) -> float:
    """scipy's L-BFGS-B at `pixels` pixels, bounds aside (optim.scipy_lbfgs_bytes)."""
    return scipy_lbfgs_bytes(3 * pixels, history_size)


def optimizer_bytes(pixels: int, config) -> float:
    """The optimiser's image-sized buffers, bounds included, at `pixels`."""
    driver = driver_for(config.optimizer, 3 * pixels, host_budget(config.memory_limit)[0])
    return sum(driver_bytes(driver, 3 * pixels, config.history_size).values())


@functools.cache
def gpu_reading() -> GpuMemory | None:
    """The driver's figures for TensorFlow's first GPU (io.gpu: NVML, else
    nvidia-smi), or None where TensorFlow sees no GPU or the driver cannot
    say. Asked once a process: every plan of a run (and of a batch, a
    video, the page's runs) then uses the same figure, and later readings
    by nvidia-smi (or NVML in a container) would count this process's own
    tensors as taken. Not measured here:
    this workplace has no GPU with TensorFlow."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    reading = gpu_memory(visible_device())
    if reading is None:  # a GPU, but no driver tool answered (no NVML, no nvidia-smi)
        # Planning it as the CPU would budget the card at the host's memory;
        # a small card's size errs to smaller tiles, slower but within memory.
        reading = GpuMemory("GPU 0", ASSUMED_GPU_BYTES, 0.0, "assumed: neither NVML nor "
                            "nvidia-smi answered; give --device-memory-limit")
    return reading


def device_memory_bytes() -> float | None:
    """The GPU memory a plan may share out: the card's total less what
    other processes hold (gpu_reading), or None without a GPU (then the
    device is the CPU, its memory the host's)."""
    reading = gpu_reading()
    return None if reading is None else reading.available


def host_budget(limit_gb: float | None) -> tuple[float, str]:
    """(bytes, where the figure comes from) of the host pool."""
    if limit_gb is not None:
        return float(limit_gb) * GB, f"--memory-limit {limit_gb:g} GB"
    free = system.free_memory_bytes()
    return DEFAULT_SHARE * free, f"{DEFAULT_SHARE:.0%} of the {free / GB:.1f} GB free"


def device_budget(limit_gb: float | None, gpu: float | None, host) -> tuple[float, str]:
    """(bytes, source) of the device pool: its limit, else a share of the
    GPU's memory `gpu`, else (no GPU) `host`, the host pool's budget."""
    if limit_gb is not None:
        return float(limit_gb) * GB, f"--device-memory-limit {limit_gb:g} GB"
    if gpu is not None:
        return DEFAULT_SHARE * gpu, (f"{DEFAULT_SHARE:.0%} of the GPU's {gpu / GB:.1f} GB "
                                     "not held by other processes")
    return host


def memory_budget(limit_gb: float | None, device_limit_gb: float | None = None):
    """(bytes, source) an evaluation may plan for: the device pool's."""
    return device_budget(device_limit_gb, device_memory_bytes(), host_budget(limit_gb))


@dataclass(frozen=True)
class Pool:
    budget_bytes: float
    source_text: str  # where the budget comes from, for messages
    items: dict  # {what is charged: bytes}

    @property
    def used(self) -> float:
        return sum(self.items.values())

    def describe(self, name: str) -> str:
        items = ", ".join(f"{k} {v / GB:.1f}" for k, v in self.items.items())
        return f"{name} {self.used / GB:.1f} of {self.budget_bytes / GB:.1f} GB ({items})"


@dataclass(frozen=True)
class MemoryPlan:
    """A run's memory at its largest scale, `shape` (height, width)."""
    host: Pool
    device: Pool
    unified: bool  # no GPU: the two pools are one memory, the host's
    driver: str  # the optimiser that runs (optim.driver_for)
    shape: tuple[int, int]

    def checks(self) -> list[tuple[str, tuple[Pool, ...], Pool]]:
        """(option, the pools charged, the pool whose budget holds them)."""
        if not self.unified:
            return [("memory_limit", (self.host,), self.host),
                    ("device_memory_limit", (self.device,), self.device)]
        limited = self.device.source_text.startswith("--")  # a device limit on the CPU
        return [("memory_limit", (self.host, self.device), self.host)] + (
            [("device_memory_limit", (self.device,), self.device)] if limited else [])

    def describe(self) -> str:
        text = f"{self.host.describe('host')}; {self.device.describe('device')}"
        if self.unified:  # the device's budget is the host's: say what the sum is held to
            total = (self.host.used + self.device.used) / GB
            text += f"; one memory: {total:.1f} of {self.host.budget_bytes / GB:.1f} GB"
        return text


def plan_memory(shapes, config, layers=None, device_limit_gb=None, driver=None):
    """(MemoryPlan, tile side or None) for a run over images of `shapes`
    (every scale it runs), sized for the largest: one tile side serves
    every scale, as TensorFlow keeps an evaluation's memory at its
    high-water mark. Raises ConfigError when nothing fits. layers None:
    the optimiser, images and baselines only, tile side None.
    device_limit_gb None: config.device_memory_limit."""
    if device_limit_gb is None:  # so that tile_side and check_optimizer_memory heed it too
        device_limit_gb = config.device_memory_limit
    shape = max(((int(h), int(w)) for h, w in shapes), key=lambda s: s[0] * s[1])
    pixels, gpu = shape[0] * shape[1], device_memory_bytes()
    host_bytes, host_text = host_budget(config.memory_limit)
    device_bytes = device_budget(device_limit_gb, gpu, (host_bytes, host_text))
    driver = driver or driver_for(config.optimizer, 3 * pixels, host_bytes)
    held = driver_bytes(driver, 3 * pixels, config.history_size)
    images = image_bytes(pixels, config.content_layers, split=True)
    host = Pool(host_bytes, host_text, {"optimizer": held["optimizer"], "bounds": held["bounds"],
                                        "images": images[0], "baseline": BASELINE_BYTES})
    device = {"optimizer": held["device"], "images": images[1], "evaluation": 0.0,
              "baseline": 0.0 if gpu is None else DEVICE_BASELINE_BYTES}
    device = Pool(*device_bytes, device)
    plan = MemoryPlan(host, device, gpu is None, driver, shape)
    check_fixed(plan, config)
    if layers is None:
        return plan, None
    side = config.tile_size
    if side == "auto":
        sides = [auto_tile_size(shape, layers, budget.budget_bytes, sum(p.used for p in pools),
                                0.0, option) for option, pools, budget in plan.checks()
                 if any(p is plan.device for p in pools)]  # the evaluation's budgets
        side = min((s for s in sides if s), default=None)
    elif side:
        check_tile_size(side, layers)
    evaluation = evaluation_bytes(min(side * side, pixels) if side else pixels, layers)
    device = dataclasses.replace(device, items={**device.items, "evaluation": evaluation})
    return dataclasses.replace(plan, device=device), side or None


def check_fixed(plan: MemoryPlan, config):
    """Refuse a plan whose image-sized buffers (the optimiser's, its bounds,
    the images) and baselines alone overflow a budget."""
    for _, pools, budget in plan.checks():
        baseline = sum(p.items["baseline"] for p in pools)
        needed = sum(p.used - p.items["baseline"] - p.items.get("evaluation", 0.0) for p in pools)
        if needed + baseline > budget.budget_bytes:
            raise ConfigError("max_size", f"an output of {plan.shape[1]}x{plan.shape[0]} px "
                                          f"needs {needed / GB:.2f} GB for the optimiser's "
                                          f"buffers and images ({plan.driver}, history "
                                          f"{config.history_size}) beside {baseline / GB:.1f} GB "
                                          f"for TensorFlow, more than {budget.source_text} "
                                          f"({budget.budget_bytes / GB:.1f} GB); lower "
                                          f"--max-size or --history-size")


def auto_tile_size(shape, layers, budget: float, reserved: float = 0.0,
                   baseline: float = BASELINE_BYTES, option: str = "memory_limit") -> int | None:
    """The largest tile side whose evaluation fits in `budget` bytes beside
    `reserved` ones (L-BFGS buffers, targets) and TensorFlow's `baseline`;
    None when the whole image fits."""
    room = PLAN_SHARE * budget - reserved - baseline
    pixels = int(shape[0]) * int(shape[1])
    if evaluation_bytes(pixels, layers) <= room:
        return None
    grid = pooling_grid(deepest(layers))
    side = int(math.sqrt(max(room, 0) / evaluation_bytes(1, layers))) // grid * grid
    smallest = min_tile_size(layers)
    if side < smallest:
        need = (evaluation_bytes(smallest * smallest, layers) + reserved + baseline) / PLAN_SHARE
        raise ConfigError(option, f"{budget / GB:.2f} GB is too little for even the smallest "
                                  f"tile ({smallest} px); the least that works here is "
                                  f"{math.ceil(need / GB * 10) / 10:.1f} GB")
    return side


def tile_side(config, shape, layers) -> int | None:
    """The largest tile side for an image of `shape` under a StyleConfig's
    tile_size (0: None, no tiling; N: N px, checked; auto: from the memory
    plan of an image of that shape)."""
    setting = config.tile_size
    if setting != "auto":
        if setting:
            check_tile_size(setting, layers)
        return setting or None
    return plan_memory([shape], config, layers)[1]


def check_optimizer_memory(shape, config) -> float:
    """Refuse an output whose optimiser buffers alone exceed the budget, before
    any work; returns their bytes (bounds included)."""
    plan, _ = plan_memory([shape], config)
    return plan.host.items["optimizer"] + plan.host.items["bounds"] \
        + plan.device.items["optimizer"]
