"""The GPU path, checked on the CPU: the same code, placement reported, and
mixed precision agreeing with float32."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import smooth_image
from tfstyle.config import StyleConfig
from tfstyle.device import configure_gpus, describe
from tfstyle.extractor import FeatureExtractor
from tfstyle.objective import Objective


def test_without_a_gpu_everything_runs_on_the_cpu(vgg_random):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    assert configure_gpus() == []
    assert describe() == "no GPU found: running on the CPU"
    features = vgg_random(smooth_image(32, 32, 1)[None], ("conv1_1",))
    assert "CPU:0" in features["conv1_1"].device


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_agrees_with_float32(precision):
    content, style, x = smooth_image(64, 64, 1), smooth_image(64, 64, 2), smooth_image(64, 64, 3)
    config = StyleConfig(weights="random")
    reference = Objective(content, style, config, FeatureExtractor("random", layers=config.layers))
    mixed_config = config.replace(precision=precision)
    extractor = FeatureExtractor("random", layers=config.layers, precision=precision)
    mixed = Objective(content, style, mixed_config, extractor)
    assert extractor.model.layers[1].compute_dtype in ("float16", "bfloat16")
    expected, got = reference.values(x), mixed.values(x)
    for term in ("total", "content", "style"):
        assert got[term] == pytest.approx(expected[term], rel=0.01), term
    # Grams and losses stay float32 whatever the conv stack runs in.
    value, grad = mixed.value_and_grad(x)
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    _, ref_grad = reference.value_and_grad(x)
    cosine = np.sum(grad * ref_grad) / (np.linalg.norm(grad) * np.linalg.norm(ref_grad))
    assert cosine > 0.98  # bfloat16 keeps 8 bits of mantissa: measured 0.988 here


def test_lbfgs_device_keeps_the_image_on_the_networks_device(tiny):
    """What lbfgs-device promises a GPU, checked on the CPU: every iterate
    the callback hears is a tensor on the device the network runs on, not a
    NumPy copy; it is copied only when looked at (Iterate.x)."""
    from tfstyle.synthesis import stylize

    seen = []
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         weights="random", iterations=4, beta=1e2, optimizer="lbfgs-device")
    stylize(smooth_image(32, 32, 1), smooth_image(32, 32, 2), config, extractor=tiny,
            callback=lambda it: seen.append(it.point))
    device = tiny(smooth_image(32, 32, 1)[None])["conv1_1"].device
    assert len(seen) == 4
    assert all(isinstance(p, tf.Tensor) and p.device == device for p in seen)
