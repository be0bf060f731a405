"""The memory plan: a host pool and a device pool, sized for the largest
scale a run runs. GPUs are faked (memory.device_memory_bytes), and so is the
host's free memory (tfstyle.io.system.free_memory_bytes); nothing here allocates."""

import re

import pytest

from tfstyle.core import memory, tiling
from tfstyle.io import system
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.optim.drivers import bounds_bytes, projected_lbfgs_bytes
from tfstyle.core.memory import PLAN_SHARE, plan_memory

LAYERS = StyleConfig().layers
PRINT = [(4096, 4096)]
VALUES = 3 * 4096 * 4096


@pytest.fixture
def machine(monkeypatch):
    """machine(gpu_gb or None, free host GB): fakes both memories."""
    def fake(gpu_gb, free_gb):
        monkeypatch.setattr(memory, "device_memory_bytes",
                            lambda: None if gpu_gb is None else gpu_gb * 1e9)
        monkeypatch.setattr(system, "free_memory_bytes", lambda: free_gb * 1e9)
    return fake


def test_a_gpu_plans_tiles_against_its_memory_and_the_optimiser_against_the_host(machine):
    machine(16, 12)
    plan, side = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert not plan.unified
    assert plan.host.budget_bytes == 0.75 * 12e9 and plan.device.budget_bytes == 0.75 * 16e9
    assert plan.host.items["optimizer"] > 0 and plan.device.items["optimizer"] == 0
    assert "evaluation" not in plan.host.items and plan.device.items["evaluation"] > 0
    assert plan.host.used <= plan.host.budget_bytes
    assert plan.device.used <= PLAN_SHARE * plan.device.budget_bytes
    # The tiles are what the device alone allows beside its own charges.
    fixed = plan.device.used - plan.device.items["evaluation"]
    assert side is not None
    assert side == memory.auto_tile_size(PRINT[0], LAYERS, 12e9, fixed, baseline=0.0)
    # More host memory, even enough for scipy's float64 buffers and bounds,
    # changes the host pool only.
    machine(16, 48)
    assert plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)[1] == side
    scipy, same = plan_memory(PRINT, StyleConfig(max_size=4096, memory_limit=200), LAYERS)
    assert scipy.driver == "lbfgs" and same == side
    assert scipy.host.items["optimizer"] == memory.lbfgs_bytes(4096 * 4096, 10)
    assert scipy.host.items["bounds"] == bounds_bytes(VALUES)
    assert scipy.device.items == plan.device.items
    machine(24, 12)  # a larger GPU: larger tiles
    assert plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)[1] > side


def test_one_memory_without_a_gpu_holds_both_pools(machine):
    machine(None, 12)  # the same print on the CPU: the evaluation competes with the optimiser
    with pytest.raises(ConfigError, match=r"^max_size: .*4096x4096 px needs \d+\.\d\d GB for the "
                                          r"optimiser's buffers.*75% of the 12\.0 GB free "
                                          r"\(9\.0 GB\)"):
        plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    machine(None, 40)
    plan, side = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert plan.unified and plan.device.budget_bytes == plan.host.budget_bytes == 30e9
    assert plan.host.used + plan.device.used <= PLAN_SHARE * 30e9
    fixed = plan.host.used + plan.device.used - plan.device.items["evaluation"]
    assert side == memory.auto_tile_size(PRINT[0], LAYERS, 30e9, fixed, baseline=0.0)


def test_the_host_pool_refuses_on_its_own_beside_a_roomy_gpu(machine):
    machine(80, 4)
    with pytest.raises(ConfigError, match=r"max_size: .* more than 75% of the 4\.0 GB free"):
        plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)


def test_a_gpu_too_small_for_the_smallest_tile_names_the_device_limit(machine):
    machine(16, 12)
    images, baseline = memory.image_bytes(4096 * 4096, split=True)[1], memory.DEVICE_BASELINE_BYTES
    just_fixed = (images + baseline) / PLAN_SHARE / 1e9 + 0.01  # no room left for a tile
    with pytest.raises(ConfigError, match=r"^device_memory_limit: .*the least that works here"):
        plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS, device_limit_gb=just_fixed)


def test_scales_are_sized_for_the_largest_one_run(machine):
    """--scales 512,1024,2048 with --max-size 512 runs 2048 px: its plan is
    2048's, and its one tile side serves every scale."""
    machine(None, 100)
    config = StyleConfig(scales=(512, 1024, 2048), memory_limit=6.0)
    scales = [(512, 512), (1024, 1024), (2048, 2048)]
    assert plan_memory(scales[:1], config, LAYERS)[1] is None  # 512 alone fits untiled
    plan, side = plan_memory(scales, config, LAYERS)
    assert plan.shape == (2048, 2048) and side is not None
    assert side == plan_memory(scales[-1:], config, LAYERS)[1]
    assert plan_memory(list(reversed(scales)), config, LAYERS)[1] == side
    assert plan.device.items["evaluation"] == memory.evaluation_bytes(side * side, LAYERS)
    assert tiling.plan_tiles((2048, 2048), LAYERS, side).tiled


def test_an_explicit_tile_size_is_charged_as_set(machine):
    machine(None, 100)
    config = StyleConfig(tile_size=512)
    plan, side = plan_memory([(2048, 2048)], config, LAYERS)
    assert side == 512
    assert plan.device.items["evaluation"] == memory.evaluation_bytes(512 * 512, LAYERS)
    plan, side = plan_memory([(256, 256)], config, LAYERS)  # smaller than a tile: untiled
    assert plan.device.items["evaluation"] == memory.evaluation_bytes(256 * 256, LAYERS)
    assert plan_memory([(256, 256)], config.replace(tile_size=0), LAYERS)[1] is None


def test_each_optimiser_is_costed_at_what_it_holds(machine):
    machine(None, 400)
    def items(optimizer, history=10):
        plan, _ = plan_memory(PRINT, StyleConfig(optimizer=optimizer, history_size=history),
                              LAYERS)
        return plan
    device = items("lbfgs-device")
    assert device.driver == "lbfgs-device" and device.host.items["optimizer"] == 0
    # float32 state: a curvature pair costs two vectors of 4 bytes a value...
    assert device.device.items["optimizer"] == projected_lbfgs_bytes(VALUES, 10)
    pair = items("lbfgs-device", 11).device.items["optimizer"] - device.device.items["optimizer"]
    assert pair == pytest.approx(2 * 4 * VALUES)
    # ...scipy's two of 8, beside its bounds objects.
    scipy = items("lbfgs")
    assert scipy.driver == "lbfgs" and scipy.host.items["bounds"] == bounds_bytes(VALUES)
    pair = items("lbfgs", 11).host.items["optimizer"] - scipy.host.items["optimizer"]
    assert pair == pytest.approx(2 * 8 * VALUES)
    adam = items("adam")  # float32 NumPy, ten vectors
    assert adam.host.items["optimizer"] == pytest.approx(10 * 4 * VALUES)
    assert adam.host.items["bounds"] == 0 and adam.device.items["optimizer"] == 0
    machine(16, 400)  # on a GPU, lbfgs-device's state moves to the device pool
    assert items("lbfgs-device").device.items["optimizer"] == projected_lbfgs_bytes(VALUES, 10)


def test_large_images_leave_scipy_for_the_projected_driver(machine):
    machine(None, 100)
    config = StyleConfig(memory_limit=10.0)
    small, _ = plan_memory([(1024, 1024)], config, LAYERS)
    large, _ = plan_memory([(2048, 2048)], config, LAYERS)
    assert small.driver == "lbfgs" and small.host.items["bounds"] == bounds_bytes(3 * 1024 ** 2)
    assert large.driver == "lbfgs-projected" and large.host.items["bounds"] == 0
    assert large.host.items["optimizer"] == projected_lbfgs_bytes(3 * 2048 ** 2, 10)
    assert plan_memory([(2048, 2048)], config.replace(memory_limit=40.0),
                       LAYERS)[0].driver == "lbfgs"


def test_describe_gives_one_line_per_pool(machine):
    number = r"\d+\.\d"
    host = (rf"host {number} of {number} GB \(optimizer {number}, bounds {number}, "
            rf"images {number}, baseline {number}\)")
    device = (rf"device {number} of {number} GB \(optimizer {number}, images {number}, "
              rf"evaluation {number}, baseline {number}\)")
    machine(16, 12)
    plan, _ = plan_memory(PRINT, StyleConfig(), LAYERS)
    assert re.fullmatch(f"{host}; {device}", plan.describe()), plan.describe()
    assert re.match(rf"host {number} of 9\.0 GB .*; device {number} of 12\.0 GB", plan.describe())
    machine(None, 40)
    plan, _ = plan_memory(PRINT, StyleConfig(), LAYERS)
    total = f"{(plan.host.used + plan.device.used) / 1e9:.1f} of 30.0 GB"
    assert re.fullmatch(f"{host}; {device}; one memory: {total}", plan.describe())
