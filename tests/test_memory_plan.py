"""The memory plan: a host pool and a device pool, sized for the largest
scale a run runs. GPUs are faked (memory.device_memory_bytes), and so is the
host's free memory (tfstyle.io.system.free_memory_bytes); nothing here allocates."""

import os
import re
import sys
import types

import pytest

from tfstyle.core import memory, tiling
from tfstyle.io import gpu, system
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


def test_a_gpu_plans_tiles_against_its_memory_and_the_optimiser_against_the_host(machine,
                                                                                 monkeypatch):
    """The issue's case: a 4096 px print on a 16 GB GPU with 12 GB of host RAM."""
    machine(16, 12)
    asked = []
    monkeypatch.setattr(memory, "device_memory_bytes", lambda: asked.append(1) or 16e9)
    plan, side = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert asked == [1]  # the device's figure, taken once a plan (and once a process: below)
    assert not plan.unified
    # Nothing of the host's is charged to the GPU: no scipy vector, no bounds,
    # no NumPy image; only the tensors, the tile's evaluation and TF's own.
    assert plan.device.items == {
        "optimizer": 0.0, "images": memory.image_bytes(4096 * 4096, split=True)[1],
        "evaluation": memory.evaluation_bytes(side * side, LAYERS),
        "baseline": memory.DEVICE_BASELINE_BYTES}
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


def test_on_the_gpu_float32_state_is_costed_at_4_bytes_a_value(machine):
    """The same print with lbfgs-device (its state on the GPU) and Adam (on
    the host, float32 NumPy): 4 bytes a value, never scipy's 8."""
    machine(16, 12)
    def plan(optimizer, history=10):
        return plan_memory(PRINT, StyleConfig(max_size=4096, optimizer=optimizer,
                                              history_size=history), LAYERS)
    device, side = plan("lbfgs-device")
    assert device.driver == "lbfgs-device" and side is not None
    assert device.device.items["optimizer"] == (2 * 10 + 12) * 4 * VALUES
    assert device.host.items["optimizer"] == device.host.items["bounds"] == 0
    assert plan("lbfgs-device", 11)[0].device.items["optimizer"] \
        - device.device.items["optimizer"] == 2 * 4 * VALUES
    # The state shares the GPU with the tiles: they are smaller than lbfgs's.
    assert side < plan("lbfgs")[1]
    adam, adam_side = plan("adam")
    assert adam.host.items["optimizer"] == 10 * 4 * VALUES and adam.device.items["optimizer"] == 0
    assert adam_side == plan("lbfgs")[1]


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


# The GPU's size: read from the driver, once a process ------------------------

class FakeNvml:
    """pynvml as NVML answers on a machine with `cards` ({index: (name,
    total MiB, used MiB, {pid: MiB})}); counts the handles asked for."""
    MIB = 1024 ** 2

    def __init__(self, cards):
        self.cards, self.asked = cards, []
        self.uuids = {f"GPU-{i}": i for i in cards}

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        self.asked.append(index)
        return self.cards[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked.append(uuid)
        return self.cards[self.uuids[uuid]]

    def nvmlDeviceGetMemoryInfo(self, card):
        return types.SimpleNamespace(total=card[1] * self.MIB, used=card[2] * self.MIB)

    def nvmlDeviceGetName(self, card):
        return card[0]

    def nvmlDeviceGetComputeRunningProcesses(self, card):
        return [types.SimpleNamespace(pid=pid, usedGpuMemory=mib * self.MIB)
                for pid, mib in card[3].items()]


@pytest.fixture
def a_gpu_seen(monkeypatch):
    """TensorFlow sees one GPU, the process's reading starts afresh (and
    ends so, for the tests after), and pynvml and nvidia-smi are absent
    unless the test puts them back."""
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["/physical_device:GPU:0"] if kind == "GPU" else [])
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(system, "free_memory_bytes", lambda: 12e9)
    memory.gpu_reading.cache_clear()
    yield monkeypatch
    memory.gpu_reading.cache_clear()


def fake_smi(tmp_path, monkeypatch, output: str, status: int = 0, delay: float = 0.0):
    """An `nvidia-smi` on PATH that prints `output` and exits `status`."""
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!{sys.executable}\nimport sys, time\ntime.sleep({delay})\n"
                      f"sys.stdout.write({output!r})\nsys.exit({status})\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    return script


def test_the_gpu_size_comes_from_nvml_less_other_processes_and_reaches_the_plan(a_gpu_seen):
    # A 16 GB card (15360 MiB, a T4) on which the notebook's kernel holds 2 GB.
    nvml = FakeNvml({0: ("Tesla T4", 15360, 2048 + 300, {os.getpid(): 300, 1: 2048})})
    a_gpu_seen.setitem(sys.modules, "pynvml", nvml)
    reading = memory.gpu_reading()
    assert reading.source == "NVML" and reading.name == "Tesla T4"
    # What this process holds is its own to plan for; the kernel's is not.
    assert reading.available == (15360 - 2048) * 2 ** 20
    plan, side = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert not plan.unified and side is not None
    assert plan.device.budget_bytes == 0.75 * reading.available
    assert "not held by other processes" in plan.device.source_text


def test_the_gpu_is_asked_once_a_process(a_gpu_seen):
    nvml = FakeNvml({0: ("Tesla T4", 15360, 0, {})})
    a_gpu_seen.setitem(sys.modules, "pynvml", nvml)
    config = StyleConfig(max_size=4096)
    sides = {plan_memory(PRINT, config, LAYERS)[1] for _ in range(3)}
    memory.tile_side(config, PRINT[0], LAYERS)
    memory.check_optimizer_memory(PRINT[0], config)
    memory.memory_budget(None)
    assert len(sides) == 1 and nvml.asked == [0]


def test_tensorflows_gpu_0_is_the_first_card_cuda_visible_devices_names(a_gpu_seen):
    nvml = FakeNvml({0: ("small", 8192, 0, {}), 1: ("T4", 15360, 0, {}),
                     2: ("A100", 40960, 0, {})})
    a_gpu_seen.setitem(sys.modules, "pynvml", nvml)
    a_gpu_seen.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert memory.gpu_reading().name == "A100" and nvml.asked == [2]
    memory.gpu_reading.cache_clear()
    a_gpu_seen.setenv("CUDA_VISIBLE_DEVICES", " GPU-1 ")
    assert memory.gpu_reading().name == "T4" and nvml.asked == [2, "GPU-1"]


def test_a_gpu_no_driver_tool_can_read_is_planned_as_a_small_card_not_as_the_host(a_gpu_seen):
    reading = memory.gpu_reading()  # no pynvml, no nvidia-smi on PATH
    assert reading.total == memory.ASSUMED_GPU_BYTES and "--device-memory-limit" in reading.source
    plan, _ = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert not plan.unified
    assert plan.device.budget_bytes == 0.75 * memory.ASSUMED_GPU_BYTES


def test_without_a_gpu_the_driver_is_not_asked(a_gpu_seen):
    import tensorflow as tf

    nvml = FakeNvml({0: ("Tesla T4", 15360, 0, {})})
    a_gpu_seen.setitem(sys.modules, "pynvml", nvml)
    a_gpu_seen.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert memory.gpu_reading() is None and memory.device_memory_bytes() is None
    plan, _ = plan_memory(PRINT[:1], StyleConfig(memory_limit=400), LAYERS)
    assert plan.unified and nvml.asked == []


SMI = ("0, GPU-aaa, Tesla T4, 15360, 1024\n"
       "1, GPU-bbb, NVIDIA A100-SXM4-40GB, 40960, 0\n")


def test_without_nvml_nvidia_smi_answers_for_the_visible_card(a_gpu_seen, tmp_path):
    fake_smi(tmp_path, a_gpu_seen, SMI)
    a_gpu_seen.setenv("CUDA_VISIBLE_DEVICES", "1")
    reading = memory.gpu_reading()
    assert (reading.source, reading.name) == ("nvidia-smi", "NVIDIA A100-SXM4-40GB")
    assert reading.total == 40960 * 2 ** 20 and reading.available == reading.total
    plan, _ = plan_memory(PRINT, StyleConfig(max_size=4096), LAYERS)
    assert plan.device.budget_bytes == 0.75 * 40960 * 2 ** 20
    memory.gpu_reading.cache_clear()
    a_gpu_seen.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaa")  # every process's use is taken
    assert memory.gpu_reading().available == (15360 - 1024) * 2 ** 20


@pytest.mark.parametrize("output, status, delay", [
    ("", 9, 0.0),  # NVIDIA-SMI has failed: no driver
    ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 0, 0.0),
    (SMI, 0, 5.0),  # a wedged driver: past the timeout
])
def test_a_failing_nvidia_smi_leaves_the_plan_on_an_assumed_small_card(a_gpu_seen, tmp_path,
                                                                       output, status, delay):
    fake_smi(tmp_path, a_gpu_seen, output, status, delay)
    a_gpu_seen.setattr(gpu, "SMI_TIMEOUT", 0.3)
    assert gpu.smi_memory("0") is None
    assert memory.gpu_reading().source.startswith("assumed")
    plan = plan_memory(PRINT[:1], StyleConfig(memory_limit=400), LAYERS)[0]
    assert not plan.unified and plan.device.budget_bytes == 0.75 * memory.ASSUMED_GPU_BYTES


def test_nvidia_smis_lines_are_read_card_by_card_and_garbage_skipped():
    text = ("WARNING: infoROM is corrupted at gpu 0000:00:04.0\n"
            + SMI +
            "2, GPU-ccc, Tesla V100, [N/A], [N/A]\n"  # a card that cannot say
            "3, GPU-ddd, Tesla P100, 16280, 17000\n"  # more used than there is
            "x, GPU-eee, Broken, 1, 0\n"
            "4, GPU-fff, L4, 23034\n"  # a field short
            "\n"
            "5, GPU-ggg, L4, 23034, 12\n")
    cards = gpu.parse_smi(text)
    assert [c["index"] for c in cards] == ["0", "1", "5"]
    assert cards[0] == {"index": "0", "uuid": "GPU-aaa", "name": "Tesla T4",
                        "total": 15360 * 2 ** 20, "used": 1024 * 2 ** 20}
    assert gpu.parse_smi("") == [] and gpu.parse_smi("No devices were found\n") == []


def test_visible_device_reads_cuda_visible_devices():
    assert gpu.visible_device({}) == "0"
    assert gpu.visible_device({"CUDA_VISIBLE_DEVICES": "3,1"}) == "3"
    assert gpu.visible_device({"CUDA_VISIBLE_DEVICES": "GPU-8e1f, GPU-2"}) == "GPU-8e1f"


def test_the_configs_device_limit_holds_wherever_the_plan_is_asked(machine):
    """tile_side and check_optimizer_memory (an Objective's own tiles, the
    library's callers) plan under config.device_memory_limit as a run does."""
    machine(16, 12)
    config = StyleConfig(max_size=4096, device_memory_limit=8.0)
    plan, side = plan_memory(PRINT, config, LAYERS)
    assert plan.device.budget_bytes == 8e9 and plan.device.source_text.startswith("--device")
    assert side == plan_memory(PRINT, config.replace(device_memory_limit=None), LAYERS,
                               device_limit_gb=8.0)[1]
    assert memory.tile_side(config, PRINT[0], LAYERS) == side
    assert side < plan_memory(PRINT, config.replace(device_memory_limit=None), LAYERS)[1]
