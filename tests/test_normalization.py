"""The network normalised once (core.normalization): one set of channel
scales per network, from the reference set or a file, that no photo reaches."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import TinyExtractor, cli, smooth_image
from tfstyle.config import StyleConfig
from tfstyle.core import normalization
from tfstyle.core.normalization import SCALE_BOUND, bounded_scales, network_scales
from tfstyle.core.objective import Objective
from tfstyle.errors import ConfigError
from tfstyle.layers import CONV_LAYERS, LAYERS

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1")
RANDOM = StyleConfig(weights="random", content_layers=("conv3_1",), style_layers=STYLE_LAYERS,
                     beta=1e4, jit="off", precision="float32")


def four_photos():
    """A photo, another, the first at half contrast, and flat grey."""
    photo = smooth_image(48, 64, 1)
    return [photo, smooth_image(48, 64, 2), 127.5 + (photo - 127.5) / 2,
            np.full((48, 64, 3), 128.0, np.float32)]


@pytest.mark.parametrize("normalize", ["network", "pair"])
def test_the_photo_no_longer_reaches_the_style_loss(vgg_random, normalize):
    generated, painting = smooth_image(48, 64, 7), smooth_image(48, 64, 9)
    config = RANDOM.replace(normalize=normalize)
    style = [Objective(photo, painting, config, vgg_random).values(generated)["style"]
             for photo in four_photos()]
    spread = max(style) / min(style)
    if normalize == "network":
        assert spread <= 1.01
    else:  # what it was: the photo's contrast set the style's weight
        assert spread > 1.1


def test_the_scaled_network_is_the_papers_rescaled_network(vgg_random):
    """The paper rescaled kernels and biases layer by layer; with ReLU and
    average pooling that network's maps are the raw maps times the scales."""
    layers = CONV_LAYERS[:5]  # to conv3_1
    scales = network_scales(vgg_random, layers)
    kernels = vgg_random.kernels()
    images = tf.constant(np.stack([smooth_image(40, 40, 3), smooth_image(40, 40, 4)]))
    raw = vgg_random(images, layers)
    x = vgg_random_input(images)
    previous = np.ones(3, np.float32)  # the input is not rescaled
    for name in LAYERS[: LAYERS.index(layers[-1]) + 1]:
        if name.startswith("pool"):
            x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
            continue
        kernel, bias = kernels[name]
        s = scales[name]
        rescaled_kernel = kernel * s[None, None, None, :] / previous[None, None, :, None]
        x = tf.nn.relu(tf.nn.conv2d(x, rescaled_kernel, 1, "SAME") + bias * s)
        expected = raw[name].numpy() * s
        np.testing.assert_allclose(x.numpy(), expected, rtol=2e-4,
                                   atol=2e-5 * np.abs(expected).max())
        previous = s
    # The paper's property on the set it was normalised on: mean activation 1
    # for every filter that is not floored.
    means = normalization.channel_means(vgg_random, normalization.reference_images()[:8], layers)
    for name in layers:
        live = scales[name] < scales[name].max() * 0.999
        assert np.median(means[name][live] * scales[name][live]) == pytest.approx(1.0, rel=0.1)


def vgg_random_input(images):
    from tfstyle.core.extractor import vgg_preprocess

    return vgg_preprocess(images)


def test_near_dead_channels_are_floored_at_the_bound():
    alive = np.linspace(1.0, 3.0, 20)
    means = {"conv1_1": np.concatenate([alive, [0.0, 1e-4, 0.05]]),
             "conv2_1": np.zeros(8)}  # a whole dead layer
    scales = bounded_scales(means)
    s = scales["conv1_1"]
    np.testing.assert_allclose(s[:20], 1.0 / alive, rtol=1e-6)  # the paper's 1/mean
    typical = np.median(s)
    assert s.max() / typical <= SCALE_BOUND
    np.testing.assert_allclose(s[20:], SCALE_BOUND / np.median(means["conv1_1"][means["conv1_1"] > 1e-6 * 3]),
                               rtol=1e-6)
    np.testing.assert_array_equal(scales["conv2_1"], np.ones(8))  # no overflow, no scale


def test_a_stand_in_computes_its_scales_once_per_instance(monkeypatch):
    calls = []
    real = normalization.channel_means

    def counted(extractor, images, layers):
        calls.append(tuple(layers))
        return real(extractor, images, layers)

    monkeypatch.setattr(normalization, "channel_means", counted)
    tiny = TinyExtractor()
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         beta=10.0, jit="off")
    content, style = smooth_image(16, 16, 1), smooth_image(16, 16, 2)
    first = Objective(content, style, config, tiny)
    again = Objective(smooth_image(16, 16, 3), style, config, tiny)
    assert len(calls) == 1
    for name in ("conv1_1", "conv2_1"):
        np.testing.assert_array_equal(first.scales[name], again.scales[name])
    Objective(content, style, config, TinyExtractor(seed=1))
    assert len(calls) == 2  # another network, other scales


def test_a_networks_scales_are_cached_by_its_weights_digest(tmp_path, monkeypatch):
    from tfstyle.core.extractor import FeatureExtractor

    monkeypatch.setenv("TFSTYLE_CACHE_DIR", str(tmp_path))  # this test's cache alone
    layers = ("conv1_1", "conv2_1")
    kept = network_scales(FeatureExtractor("random", seed=0, layers=layers), layers)
    # A new extractor of the same weights reads them back, without the set.
    monkeypatch.setattr(normalization, "channel_means",
                        lambda *a: pytest.fail("the reference set was run again"))
    same = FeatureExtractor("random", seed=0, layers=layers)
    for name in layers:
        np.testing.assert_array_equal(network_scales(same, layers)[name], kept[name])
    other = FeatureExtractor("random", seed=1, layers=("conv1_1",))
    with pytest.raises(pytest.fail.Exception):
        network_scales(other, ("conv1_1",))  # other weights: not found, computed


def test_old_settings_read_as_pair_and_off(tmp_path):
    assert StyleConfig(normalize=True).normalize == "pair"
    assert StyleConfig(normalize=False).normalize == "off"
    assert StyleConfig.from_dict({"normalize": "yes"}).normalize == "pair"
    assert StyleConfig().normalize == "network"
    with pytest.raises(ConfigError, match="normalize"):
        StyleConfig(normalize="nonsense")
    scales = tmp_path / "s.npz"
    scales.write_bytes(b"")
    assert StyleConfig(normalize=str(scales)).normalize == str(scales)


def test_blend_weights_zero_and_negligible_give_the_same_image(vgg_random):
    from tfstyle.core.synthesis import stylize

    content = smooth_image(32, 32, 1)
    styles = [smooth_image(32, 32, 2), smooth_image(32, 32, 5)]
    config = RANDOM.replace(iterations=15, max_size=32, init="content")
    images = [stylize(content, styles, config.replace(style_blend=blend), vgg_random).image
              for blend in ((1.0, 0.0), (1.0, 1e-9))]
    assert np.abs(images[0] - images[1]).max() < 1.0


def test_normalize_writes_the_scales_a_run_then_uses(tmp_path, capsys):
    from PIL import Image

    from tfstyle.core.extractor import FeatureExtractor

    paths = []
    for seed in (1, 2, 3):
        paths.append(tmp_path / f"i{seed}.png")
        Image.fromarray(smooth_image(40, 56, seed).astype(np.uint8)).save(paths[-1])
    out = tmp_path / "scales.npz"
    assert cli("normalize", *paths, "--weights", "random", "--size", "56", "-o", out, "-q") == 0
    with np.load(out) as data:
        meta = json.loads(str(data["meta"]))
        stored = {n: data[n] for n in CONV_LAYERS}
    assert meta["images"] == 3 and meta["weights"] == "random (seed 0)"
    # By hand: each image's mean over positions, averaged, then 1 / mean, floored.
    extractor = FeatureExtractor("random", layers=("conv1_1", "conv3_1"))
    images = [np.asarray(Image.open(p), np.float32) for p in paths]
    for name in ("conv1_1", "conv3_1"):
        mean = np.mean([extractor(i[None])[name].numpy().mean((0, 1, 2)) for i in images], axis=0)
        floor = np.median(mean[mean > 1e-6 * mean.max()]) / SCALE_BOUND
        np.testing.assert_allclose(stored[name], 1.0 / np.maximum(mean, floor), rtol=1e-4)
    config = RANDOM.replace(normalize=str(out))
    objective = Objective(smooth_image(32, 32, 1), smooth_image(32, 32, 2), config)
    assert objective.normalization == f"file ({out})"
    np.testing.assert_array_equal(objective.scales["conv2_1"], stored["conv2_1"])
    # Other weights, or no such file: one line, exit 2, before any run.
    photo, painting = paths[0], paths[1]
    capsys.readouterr()
    assert cli("transfer", photo, painting, "-o", tmp_path / "x.png", "--weights", "random",
               "--seed", "1", "--normalize", out, "--iterations", "2", "--max-size", "32") == 2
    err = capsys.readouterr().err.strip()
    assert "made for other weights" in err and len(err.splitlines()) == 1
    assert cli("transfer", photo, painting, "-o", tmp_path / "x.png", "--weights", "random",
               "--normalize", tmp_path / "missing.npz", "--iterations", "2") == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    # The run record names the scales' source.
    assert cli("transfer", photo, painting, "-o", tmp_path / "y.png", "--weights", "random",
               "--normalize", out, "--iterations", "2", "--max-size", "32", "-q") == 0
    record = json.loads((tmp_path / "y.json").read_text())
    assert record["normalization"] == f"file ({out.absolute()})"
