"""`--weights procedural`: structured filters from a seed, their documented
structure, their default style weight, export, and the offline fallback."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import smooth_image
from tfstyle.weights import sources as weights_module
from tfstyle.config import StyleConfig
from tfstyle.weights.procedural import procedural_kernels, random_kernels
from tfstyle.beta import DEFAULT_BETA, default_beta
from tfstyle.layers import conv_shapes
from tfstyle.weights.sources import kernels_digest, load_exported_kernels
from tfstyle_cli.main import main



def above_half_nyquist(kernel: np.ndarray) -> float:
    """Share of a bank's spectral energy at frequencies above half the
    Nyquist frequency on either axis, (3, 3, in, out) HWIO."""
    power = np.abs(np.fft.fft2(kernel, s=(32, 32), axes=(0, 1))) ** 2
    f = np.abs(np.fft.fftfreq(32))
    high = np.maximum(f[:, None], f[None, :]) > 0.25
    return float(power[high].sum() / power.sum())


def shapes_to(last):
    """conv_shapes() up to `last`: the network's own kernels up to there
    (drawn first, in network order), without the deep layers' seconds."""
    names = list(conv_shapes())
    return {n: conv_shapes()[n] for n in names[:names.index(last) + 1]}


@pytest.mark.slow  # a fresh process with another BLAS thread count
def test_the_filters_are_the_same_from_the_same_seed_in_any_process():
    a, b = procedural_kernels(conv_shapes(), 0), procedural_kernels(conv_shapes(), 0)
    for name in a:
        np.testing.assert_array_equal(a[name][0], b[name][0])
    a["conv1_1"][0][...] = 0  # callers get copies: the cache cannot be spoilt
    assert np.any(procedural_kernels(conv_shapes(), 0)["conv1_1"][0])
    assert kernels_digest(procedural_kernels(conv_shapes(), 1)) != kernels_digest(b)
    for name, (kernel, _) in procedural_kernels(shapes_to("conv2_2"), 0).items():
        np.testing.assert_array_equal(kernel, b[name][0])  # the fast lane's shortcut
    # Another process, another BLAS thread count (conftest gives this one a
    # single thread): the layer scales are rounded, so a different summation
    # order leaves every bit as it was.
    threads = "2" if os.environ.get("OPENBLAS_NUM_THREADS") == "1" else "1"
    code = ("from tfstyle.weights.procedural import procedural_kernels; "
            "from tfstyle.layers import conv_shapes; from tfstyle.weights.sources import kernels_digest; "
            "print(kernels_digest(procedural_kernels(conv_shapes(), 0)))")
    env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.stdout.strip() == kernels_digest(b), out.stderr


@pytest.mark.parametrize("seed", [0, 5])
def test_conv1_2_and_block_2_are_smooth_where_random_filters_are_flat(seed):
    shapes = shapes_to("conv2_2")
    procedural, random = procedural_kernels(shapes, seed), random_kernels(shapes, seed)
    for name in ("conv1_2", "conv2_1", "conv2_2"):
        # A flat spectrum puts 3/4 of the energy above half Nyquist.
        assert above_half_nyquist(random[name][0]) > 0.6
        assert above_half_nyquist(procedural[name][0]) < 0.35


@pytest.mark.parametrize("seed", [0, 5])
def test_conv1_1_is_one_colour_axis_per_filter_spanning_every_patch_evenly(seed):
    kernel = procedural_kernels(shapes_to("conv1_1"), seed)["conv1_1"][0]  # (3, 3, 3 BGR, 64)
    # Each filter is one spatial pattern times one colour: rank 1 as (9, 3).
    for k in range(64):
        values = np.linalg.svd(kernel[..., k].reshape(9, 3), compute_uv=False)
        assert values[1] < 1e-5 * values[0]
    colours = np.stack([np.linalg.svd(kernel[..., k].reshape(9, 3))[2][0] for k in range(32)])
    grey = np.ones(3) / np.sqrt(3)
    luminance = np.abs(colours @ grey) > 1 - 1e-5
    assert luminance.sum() == 14  # blob, 7 edges, 3 second derivatives, 3 finest
    assert np.allclose(colours[~luminance] @ grey, 0, atol=1e-5)  # the rest: opponent axes
    # Evenly: every 3x3 colour patch is seen, none much more weakly than another.
    values = np.linalg.svd(kernel.reshape(27, 64), compute_uv=False)
    assert values.max() / values.min() < 5
    # Filter k and k + 32 are opposites.
    np.testing.assert_array_equal(kernel[..., :32], -kernel[..., 32:])


def test_every_layers_activations_stay_in_range():
    from tfstyle.core.extractor import FeatureExtractor

    extractor = FeatureExtractor("procedural", seed=2)
    assert extractor.weights_source == "procedural (seed 2)"
    features = extractor(smooth_image(64, 64)[None])
    rms = {n: float(np.sqrt(np.mean(np.square(v)))) for n, v in features.items()}
    first = rms["conv1_1"]
    assert all(0.2 * first < value < 5 * first for value in rms.values()), rms


def test_the_default_beta_follows_the_weights(tmp_path):
    assert StyleConfig(weights="procedural").resolved_beta == DEFAULT_BETA["procedural"]
    assert StyleConfig(weights="imagenet").resolved_beta == 1e3  # the paper's Fig. 2 ratio
    config = StyleConfig(weights="random")
    assert config.resolved_beta == 7e5
    assert config.replace(weights="imagenet").resolved_beta == 1e3  # not fixed at creation
    assert config.replace(beta=5.0).resolved_beta == 5.0
    assert StyleConfig(beta="2e4").resolved_beta == 2e4  # CLI text
    assert default_beta(str(tmp_path / "vgg19.h5")) == 1e3  # a weights file: ImageNet's


def test_export_procedural_and_use_it_as_weights(tmp_path, capsys):
    base = tmp_path / "vgg"
    assert main(["export", "--weights", "procedural", "--seed", "3", "-o", str(base),
                 "--layers", "conv1_1,conv2_1", "-q"]) == 0
    kernels, source = load_exported_kernels(base / "1", needed="conv2_1")
    assert "procedural (seed 3)" in source
    made = procedural_kernels(conv_shapes(), 3)
    assert kernels_digest(kernels) == kernels_digest({n: made[n] for n in kernels})
    # An export keeps its source's default style weight.
    assert default_beta(str(base / "1")) == DEFAULT_BETA["procedural"]
    assert default_beta(str(base)) == DEFAULT_BETA["procedural"]  # a TF Serving base folder
    meta = json.loads((base / "1" / "assets" / "tfstyle.json").read_text())
    assert meta["weights"] == "procedural (seed 3)"


def test_without_imagenet_the_demo_says_so_and_uses_procedural(tmp_path, monkeypatch):
    from tfstyle.workflows.demo import demo_extractor

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    extractor, config, note = demo_extractor(StyleConfig(weights="imagenet", max_size=32))
    assert config.weights == "procedural" and extractor.weights_source == "procedural (seed 0)"
    assert config.resolved_beta == DEFAULT_BETA["procedural"]
    assert "\n" not in note
    assert note.startswith("ImageNet weights unavailable (") and \
        note.endswith("); using procedural weights")


# The demo end to end: the fast lane keeps the test above.
@pytest.mark.slow
def test_the_cli_demo_prints_the_fallback_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    assert main(["demo", "-o", str(tmp_path / "demo"), "--size", "32", "--iterations", "2"]) == 0
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "ImageNet" in line]
    assert len(lines) == 1 and lines[0].rstrip().endswith("using procedural weights"), lines
    record = json.loads((tmp_path / "demo" / "result.json").read_text())
    assert record["weights"] == "procedural (seed 0)"
