"""The GPU path, checked on the CPU: the same code, placement reported, and
mixed precision agreeing with float32."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import shared_extractor, smooth_image
from tfstyle.events import Iterate, only
from tfstyle.config import StyleConfig
from tfstyle.core.device import configure_gpus, describe
from tfstyle.core.extractor import FeatureExtractor
from tfstyle.core.objective import Objective


class FakeGPU:
    def __init__(self, index):
        self.name, self.device_type = f"/physical_device:GPU:{index}", "GPU"


@pytest.fixture
def gpus(monkeypatch):
    """gpus(n, initialised=()): TensorFlow reports n GPUs (named Tesla T4);
    memory growth is recorded, and refused (RuntimeError, as TF does) for
    the indices already initialised."""
    from tfstyle.core import device

    grown = {}
    real_list = tf.config.list_physical_devices

    def fake(count, initialised=()):
        listed = [FakeGPU(k) for k in range(count)]

        def list_devices(kind=None):
            return listed if kind == "GPU" else real_list(kind)

        def set_memory_growth(gpu, enable):
            if int(gpu.name.rsplit(":", 1)[1]) in initialised:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            grown[gpu.name] = enable
        monkeypatch.setattr(tf.config, "list_physical_devices", list_devices)
        monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
        monkeypatch.setattr(tf.config.experimental, "get_device_details",
                            lambda gpu: {"device_name": "Tesla T4"})
        device.device_name.cache_clear()
        return grown
    yield fake
    device.device_name.cache_clear()  # the real device again


def test_without_a_gpu_everything_runs_on_the_cpu(gpus):
    from tfstyle.core.device import device_name
    from tfstyle.io.system import cpu_model

    grown = gpus(0)
    assert configure_gpus() == [] and grown == {}
    assert describe() == "no GPU found: running on the CPU"
    assert device_name() == f"CPU {cpu_model()}"
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), None)
    if model:
        assert cpu_model() == model


def test_each_gpu_gets_memory_growth_before_the_network_is_built(gpus):
    grown = gpus(2, initialised=(1,))
    # GPU 1 was initialised already: its setting stays, and no error is raised.
    assert configure_gpus() == ["/physical_device:GPU:0", "/physical_device:GPU:1"]
    assert grown == {"/physical_device:GPU:0": True}
    assert describe() == "running on GPU Tesla T4"
    grown.clear()
    FeatureExtractor("random", layers=("conv1_1",))  # builds on the CPU, configures first
    assert grown == {"/physical_device:GPU:0": True}


def test_a_real_machine_without_a_gpu_says_so():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    assert configure_gpus() == [] and describe() == "no GPU found: running on the CPU"


# Half precision's error, from its significand: u = 2^-p is the relative
# error of one rounding, p = 11 bits for float16 and 8 for bfloat16.
UNIT_ROUNDOFF = {"mixed_float16": 2.0 ** -11, "mixed_bfloat16": 2.0 ** -8}


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_agrees_with_float32(precision):
    """Bounds from the precision, not from one CPU. Each conv layer rounds
    its input, its kernel, its accumulated products and its output to the
    half type, so to first order it adds at most 4u of relative error
    (ReLU and average pooling add none); the forward and the backward pass
    through n conv layers give the gradient at most 8 n u. The losses sum
    thousands of squared features whose rounding errors are unbiased, so
    they keep the error of a few roundings: 8u."""
    content, style, x = smooth_image(64, 64, 1), smooth_image(64, 64, 2), smooth_image(64, 64, 3)
    config = StyleConfig(weights="random", jit="off")
    reference = Objective(content, style, config, shared_extractor("random", layers=config.layers))
    mixed_config = config.replace(precision=precision)
    extractor = shared_extractor("random", layers=config.layers, precision=precision)
    mixed = Objective(content, style, mixed_config, extractor)
    assert extractor.model.layers[1].compute_dtype in ("float16", "bfloat16")
    u = UNIT_ROUNDOFF[precision]
    expected, got = reference.values(x), mixed.values(x)
    for term in ("total", "content", "style"):
        assert got[term] == pytest.approx(expected[term], rel=8 * u), term
    # Grams and losses stay float32 whatever the conv stack runs in.
    value, grad = mixed.value_and_grad(x)
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    _, ref_grad = reference.value_and_grad(x)
    convs = sum(type(layer).__name__ == "Conv2D" for layer in extractor.model.layers)
    assert convs == 13  # VGG19 to conv5_1
    error = np.linalg.norm(grad - ref_grad) / np.linalg.norm(ref_grad)
    assert error <= 8 * convs * u, (error, error / u)  # bfloat16: cosine >= 0.91


def test_lbfgs_device_keeps_the_image_on_the_networks_device(tiny):
    """What lbfgs-device promises a GPU, checked on the CPU: every iterate
    the callback hears is a tensor on the device the network runs on, not a
    NumPy copy; it is copied only when looked at (Iterate.x)."""
    from tfstyle.core.synthesis import stylize

    seen = []
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         weights="random", iterations=4, beta=1e2, optimizer="lbfgs-device",
                         jit="off", precision="float32")
    stylize(smooth_image(32, 32, 1), smooth_image(32, 32, 2), config, extractor=tiny,
            callback=only(Iterate, lambda it: seen.append(it.point)))
    device = tiny(smooth_image(32, 32, 1)[None])["conv1_1"].device
    assert len(seen) == 4
    assert all(isinstance(p, tf.Tensor) and p.device == device for p in seen)
