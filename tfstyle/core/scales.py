"""A run's scales as planned before any work: the memory checked once for
the largest scale and its tile size kept at every scale (`fit_memory`), and
each scale's size, iterations, tiles and optimiser memory (`plan_scales`,
the `ScalePlan`s of the `Planned` event stylize emits).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import StyleConfig
from ..optim.drivers import driver_bytes
from ..plan import RunPlan
from .memory import GB, plan_memory, tile_side
from .tiling import plan_tiles


@dataclass
class ScalePlan:
    """One scale of a run as planned before it starts (see plan_scales)."""
    size: tuple[int, int]  # (height, width)
    iterations: int
    tiles: str  # TilePlan.describe(): "untiled" or the grid, tile size and overhead
    optimizer_gb: float  # the optimiser's image-sized buffers at this size
    driver: str = ""  # the optimiser every scale of the run uses (memory.plan_memory)

    def describe(self) -> str:
        return (f"{self.size[1]}x{self.size[0]} px, {self.iterations} iterations, {self.tiles}, "
                f"optimiser {self.optimizer_gb:.2f} GB")


def fit_memory(plan: RunPlan, config: StyleConfig, layers):
    """(the config to run with, its MemoryPlan): the memory checked and the
    tile size chosen for the largest scale of the plan, and that tile size
    used at every scale: the memory TensorFlow takes for an evaluation stays
    with the process (a high-water mark), so a smaller scale must not use
    larger tiles than the largest scale's budget allows beside its larger
    optimiser buffers."""
    memory, side = plan_memory([s.size for s in plan.scales], config, layers,
                               device_limit_gb=config.device_memory_limit, driver=plan.driver)
    return config.replace(tile_size=side or 0), memory


def plan_scales(plan: RunPlan, config: StyleConfig, layers, driver: str) -> list[ScalePlan]:
    """Each scale's size, iterations, tiles (of config.tile_size; auto is
    decided per scale) and the memory of `driver`, which every scale runs."""
    plans = []
    for scale in plan.scales:
        tiles = plan_tiles(scale.size, layers, tile_side(config, scale.size, layers))
        pixels = scale.size[0] * scale.size[1]
        optimizer = sum(driver_bytes(driver, 3 * pixels, config.history_size).values())
        plans.append(ScalePlan(tuple(scale.size), scale.iterations, tiles.describe(),
                               optimizer / GB, driver))
    return plans
