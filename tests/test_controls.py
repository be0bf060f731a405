"""The controls users of peer implementations rely on; each test checks the
effect, not just that the option parses."""

import numpy as np
import pytest

from conftest import TinyExtractor, smooth_image
from tfstyle.events import Iterate, only
from tfstyle.core import color
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.core.objective import Objective
from tfstyle.core.synthesis import stylize

TINY = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                   weights="random", jit=False, iterations=8, max_size=32, beta=1e2)


def test_layer_names_and_weight_lists_are_validated():
    with pytest.raises(ConfigError, match="style_layers: unknown layer 'conv4_5'"):
        StyleConfig(style_layers=("conv1_1", "conv4_5"))
    with pytest.raises(ConfigError, match="style_weights: expected 5 weights"):
        StyleConfig(style_weights=(1.0, 2.0))
    with pytest.raises(ConfigError, match="content_weights"):
        StyleConfig(content_weights=(float("nan"),))
    with pytest.raises(ConfigError, match="tv_weight"):
        StyleConfig(tv_weight=-1.0)
    with pytest.raises(ConfigError, match="style_blend: expected 2 weights"):
        StyleConfig(style_blend=(1.0, 2.0, 3.0)).blend_weights(2)
    assert StyleConfig(style_weights=(1, 1, 1, 1, 6)).style_layer_weights["conv5_1"] == 6


def test_per_layer_weights_change_the_loss(tiny):
    content, style, x = smooth_image(16, 16, 1), smooth_image(16, 16, 2), smooth_image(16, 16, 3)
    only_first = Objective(content, style, TINY.replace(style_weights=(1.0, 0.0)), tiny).values(x)
    only_second = Objective(content, style, TINY.replace(style_weights=(0.0, 1.0)), tiny).values(x)
    both = Objective(content, style, TINY.replace(style_weights=(1.0, 1.0)), tiny).values(x)
    assert both["style"] == pytest.approx(only_first["style"] + only_second["style"], rel=1e-5)
    assert only_first["style"] != pytest.approx(only_second["style"], rel=1e-2)


def test_max_pooling_changes_the_features(vgg_random):
    from tfstyle.core.extractor import FeatureExtractor

    image = smooth_image(32, 32, 1)[None]
    maxed = FeatureExtractor("random", pooling="max", layers=("conv2_1",))(image)["conv2_1"]
    averaged = vgg_random(image, ("conv2_1",))["conv2_1"]
    assert np.abs(maxed.numpy() - averaged.numpy()).max() > 1e-2


@pytest.mark.parametrize("init", ["content", "noise", "style", "image"])
def test_initialisation(tiny, init, tmp_path):
    from tfstyle.io.images import load_image, save_image
    from tfstyle.preprocess import resize, white_noise

    content, style, picture = smooth_image(24, 24, 1), smooth_image(32, 32, 2), smooth_image(48, 48, 7)
    save_image(tmp_path / "init.png", picture)
    expected = {"content": content, "noise": white_noise((24, 24), TINY.seed),
                "style": resize(style, (24, 24)), "image": resize(np.rint(picture), (24, 24))}[init]
    config = TINY.replace(init=init if init != "image" else str(tmp_path / "init.png"))
    first = []
    # stylize reads no files: the caller loads an --init PATH and passes it.
    init_image = load_image(config.init_path) if config.init_path else None
    stylize(content, style, config, extractor=tiny, init_image=init_image,
            callback=only(Iterate, lambda it: first.append(it.image.copy()) or False))
    # One L-BFGS step moves the image only slightly from where it started.
    distance = np.abs(first[0] - expected).mean()
    assert distance < 3.0, distance
    others = [v for k, v in {"content": content, "noise": white_noise((24, 24), TINY.seed)}.items()
              if k != init]
    assert all(np.abs(first[0] - other).mean() > 3 * distance for other in others)


def test_adam_goes_through_the_same_driver_interface(tiny):
    seen = []
    result = stylize(smooth_image(24, 24, 1), smooth_image(24, 24, 2),
                     TINY.replace(optimizer="adam", learning_rate=5.0, iterations=12, init="noise"),
                     extractor=tiny, callback=only(Iterate, seen.append))
    assert [it.iteration for it in seen] == list(range(1, 13))
    assert result.history[-1]["total"] < result.history[0]["total"]
    # Each reported loss belongs to the reported image: total = alpha L_c + beta L_s.
    config = result.config
    for h in result.history:
        assert h["total"] == pytest.approx(config.alpha * h["content"] + config.beta * h["style"],
                                           rel=1e-5)
    assert result.final.min() >= 0 and result.final.max() <= 255


def test_blend_weights_one_zero_equal_the_single_style_run(tiny):
    content, first, second = smooth_image(24, 24, 1), smooth_image(24, 24, 2), smooth_image(24, 24, 3)
    single = stylize(content, first, TINY, extractor=tiny)
    blended = stylize(content, [first, second], TINY.replace(style_blend=(1.0, 0.0)), extractor=tiny)
    other = stylize(content, [first, second], TINY.replace(style_blend=(0.5, 0.5)), extractor=tiny)
    np.testing.assert_array_equal(single.image, blended.image)
    assert not np.array_equal(single.image, other.image)


def test_blended_target_is_the_weighted_mean_of_grams(tiny):
    content, a, b = smooth_image(16, 16, 1), smooth_image(16, 16, 2), smooth_image(16, 16, 3)
    config = TINY.replace(normalize=False)
    blend = Objective(content, [a, b], config.replace(style_blend=(3.0, 1.0)), tiny).terms["style"].targets
    ta = Objective(content, a, config, tiny).terms["style"].targets
    tb = Objective(content, b, config, tiny).terms["style"].targets
    for name in blend:
        np.testing.assert_allclose(blend[name].numpy(), 0.75 * ta[name].numpy() + 0.25 * tb[name].numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_style_scale_resizes_the_style_image(tiny):
    seen = []

    class Recording(TinyExtractor):
        def __call__(self, images, layers=None):
            seen.append(tuple(images.shape[1:3]))
            return super().__call__(images, layers)

    stylize(smooth_image(24, 32, 1), smooth_image(64, 64, 2), TINY.replace(style_scale=0.5, iterations=1),
            extractor=Recording())
    assert (16, 16) in seen  # the style at half the output's longest side (32 px)
    seen.clear()
    stylize(smooth_image(24, 32, 1), smooth_image(64, 64, 2), TINY.replace(style_scale=2.0, iterations=1),
            extractor=Recording())
    assert (64, 64) in seen


def test_luminance_preservation_keeps_the_content_chroma(tiny):
    content, style = smooth_image(24, 24, 1), smooth_image(24, 24, 2)
    config = TINY.replace(init="noise", iterations=15)
    result = stylize(content, style, config.replace(preserve_color="luminance"), extractor=tiny)
    plain = stylize(content, style, config, extractor=tiny)
    chroma = lambda image: color.rgb_to_yiq(image)[..., 1:]
    # I and Q are the content's wherever recombining did not clip to [0, 255].
    inside = ((result.final > 0.5) & (result.final < 254.5)).all(axis=2)
    assert inside.mean() > 0.5
    kept = np.abs(chroma(result.final) - chroma(content))[inside].mean()
    assert kept < 0.1
    assert np.abs(chroma(plain.final) - chroma(content))[inside].mean() > 5.0


def test_yiq_is_ntsc_and_recombining_moves_r_g_b_alike():
    # NTSC's coefficients as published to four places (I, Q of SMPTE 170M).
    np.testing.assert_allclose(color.RGB_TO_YIQ, [[0.299, 0.587, 0.114],
                                                  [0.5959, -0.2746, -0.3213],
                                                  [0.2115, -0.5227, 0.3112]], atol=5e-5)
    # Exactly: grey has no chroma, and the inverse undoes the matrix.
    np.testing.assert_allclose(color.RGB_TO_YIQ.sum(axis=1), [1.0, 0.0, 0.0], atol=1e-15)
    photo, result = smooth_image(12, 10, 3), smooth_image(12, 10, 4)
    np.testing.assert_allclose(color.yiq_to_rgb(color.rgb_to_yiq(photo)), photo, atol=1e-9)
    # The result's luminance on the photo's chroma: each channel moves by the
    # change of Y, wherever no clipping to [0, 255] interferes.
    shift = (color.luminance(result) - color.luminance(photo))[..., None]  # (H, W, 1)
    expected = photo + shift
    inside = ((expected >= 0) & (expected <= 255)).all(axis=2)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(color.recombine(result, photo)[inside], expected[inside], atol=1e-3)


def test_histogram_matching_moves_the_style_colours_to_the_content():
    rng = np.random.default_rng(0)
    content = np.clip(rng.normal([120, 90, 60], [30, 20, 10], (40, 40, 3)), 0, 255)
    style = np.clip(rng.normal([60, 140, 200], [10, 40, 25], (50, 30, 3)), 0, 255)
    matched = color.match_histogram(style, content).reshape(-1, 3)
    c = content.reshape(-1, 3)
    np.testing.assert_allclose(matched.mean(0), c.mean(0), atol=1.0)
    np.testing.assert_allclose(np.cov(matched, rowvar=False), np.cov(c, rowvar=False), rtol=0.05, atol=5)


def test_total_variation_smooths_the_result(tiny):
    content, style = smooth_image(24, 24, 1), smooth_image(24, 24, 2)
    config = TINY.replace(init="noise", iterations=20)
    rough = stylize(content, style, config, extractor=tiny).final
    smooth = stylize(content, style, config.replace(tv_weight=50.0), extractor=tiny).final
    tv = lambda image: np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
    assert tv(smooth) < 0.7 * tv(rough)


def test_coarse_to_fine_ends_at_the_last_scale(tiny):
    seen = []
    result = stylize(smooth_image(48, 64, 1), smooth_image(64, 64, 2),
                     TINY.replace(scales=(16, 32, 48), iterations=9, max_size=64),
                     extractor=tiny, callback=only(Iterate, seen.append))
    assert result.image.shape == (36, 48, 3)
    assert [it.size for it in seen][::3] == [(12, 16), (24, 32), (36, 48)]
    assert [it.iteration for it in seen] == list(range(1, 10))
    counts = StyleConfig(scales=(16, 32), iterations=7).schedule
    assert counts == ((16, 3), (32, 4))
    assert StyleConfig(scales=(16, 32), scale_iterations=(5, 1)).schedule == ((16, 5), (32, 1))


def test_same_seed_same_bytes(tiny, tmp_path):
    from tfstyle.io.images import save_image

    runs = []
    for _ in range(2):
        result = stylize(smooth_image(24, 24, 1), smooth_image(24, 24, 2),
                         TINY.replace(init="noise", seed=7), extractor=tiny)
        path = save_image(tmp_path / f"{len(runs)}.png", result.image)
        runs.append(path.read_bytes())
    assert runs[0] == runs[1]


def test_stylize_reads_no_files_and_says_so(tiny, tmp_path):
    with pytest.raises(ConfigError, match="init: .*init_image"):
        stylize(smooth_image(24, 24, 1), smooth_image(24, 24, 2),
                TINY.replace(init=str(tmp_path / "start.png")), extractor=tiny)
