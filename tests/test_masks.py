"""Spatial control with guided Gram matrices (Gatys et al. 2017)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import cli, smooth_image, write_image
from test_objective import directional_check
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.core.losses import gram_distance, gram_per_position, guided_gram
from tfstyle.core.objective import Objective
from tfstyle.core.terms import guide_at
from tfstyle.core.synthesis import stylize

TINY = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                   weights="random", beta=1e2, jit="off", precision="float32")


def test_guided_gram_by_hand():
    rng = np.random.default_rng(0)
    f = rng.uniform(0, 2, (1, 5, 4, 3)).astype(np.float32)
    t = rng.uniform(0, 1, (5, 4)).astype(np.float32)
    flat = f.reshape(-1, 3).astype(np.float64) * t.reshape(-1, 1)
    expected = flat.T @ flat / np.sum(t.astype(np.float64) ** 2)
    np.testing.assert_allclose(guided_gram(tf.constant(f), tf.constant(t)).numpy(), expected,
                               rtol=1e-5)
    # A guide of ones is the unguided Gram per position.
    np.testing.assert_allclose(guided_gram(tf.constant(f), tf.ones((5, 4))).numpy(),
                               gram_per_position(tf.constant(f)).numpy(), rtol=1e-6)


def test_guides_follow_the_networks_pooling():
    mask = np.zeros((20, 18), np.float32)
    mask[:, :9] = 1.0
    assert guide_at(mask, "conv1_1").shape == (20, 18)
    assert guide_at(mask, "conv2_1").shape == (10, 9)
    assert guide_at(mask, "conv3_1").shape == (5, 4)  # VALID pooling, as VGG19's
    np.testing.assert_allclose(guide_at(mask, "conv2_1").numpy()[:, :4], 1.0)
    np.testing.assert_allclose(guide_at(mask, "conv2_1").numpy()[:, 5:], 0.0)


def test_one_mask_of_ones_equals_the_unmasked_objective(tiny):
    content, style, x = smooth_image(24, 20, 1), smooth_image(28, 28, 2), smooth_image(24, 20, 3)
    plain = Objective(content, style, TINY, tiny)
    masked = Objective(content, style, TINY, tiny, masks=[np.ones((24, 20), np.float32)])
    (a, ga), (b, gb) = plain.value_and_grad(x), masked.value_and_grad(x)
    assert b == pytest.approx(a, rel=1e-5)
    assert np.abs(gb - ga).max() <= 1e-5 * np.abs(ga).max()
    assert type(masked.terms["style"]).__name__ == "GuidedStyleTerm"


def test_an_all_zero_mask_is_the_same_as_leaving_that_style_out(tiny):
    content, x = smooth_image(24, 24, 1), smooth_image(24, 24, 3)
    a, b = smooth_image(24, 24, 4), smooth_image(32, 32, 5)
    left = np.zeros((24, 24), np.float32)
    left[:, :12] = 1.0
    both = Objective(content, [a, b], TINY, tiny, masks=[left, np.zeros_like(left)])
    alone = Objective(content, [a], TINY, tiny, masks=[left])
    (v1, g1), (v2, g2) = both.value_and_grad(x), alone.value_and_grad(x)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("style_masked", [False, True])
def test_guided_loss_gradient_matches_finite_differences(tiny, style_masked):
    content, x = smooth_image(24, 20, 1), np.clip(smooth_image(24, 20, 3) + 20, 0, 255)
    a, b = smooth_image(28, 28, 2), smooth_image(20, 20, 6)
    soft = np.clip(np.linspace(-0.5, 1.5, 20)[None, :].repeat(24, 0), 0, 1).astype(np.float32)
    style_masks = [np.triu(np.ones((28, 28), np.float32)), None] if style_masked else None
    objective = Objective(content, [a, b], TINY, tiny, masks=[soft, 1.0 - 0.5 * soft],
                          style_masks=style_masks)
    directional_check(objective, x)


def _red_and_blue(size, seed):
    """A red-dominated and a blue-dominated texture."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, (size, size))
    stripes = np.broadcast_to(np.sin(np.arange(size) / 2.0)[None, :] > 0, (size, size))
    red = np.stack([200 + 55 * base, 40 * stripes, 30 * base], -1)
    blue = np.stack([30 * base, 60 * stripes.T, 200 + 55 * base], -1)
    return red.astype(np.float32), blue.astype(np.float32)


@pytest.mark.parametrize("network", ["tiny", "vgg19"])
def test_two_regions_take_their_own_styles(network, tiny, vgg_random):
    extractor = tiny if network == "tiny" else vgg_random
    layers = ("conv1_1", "conv2_1") if network == "tiny" else ("conv1_1", "conv2_1", "conv3_1")
    config = StyleConfig(content_layers=("conv2_1",), style_layers=layers, weights="random",
                         beta=1e6, iterations=60, init="noise", jit="off", precision="float32")
    content = np.full((64, 64, 3), 128.0, np.float32) + smooth_image(64, 64, 1) * 0.1
    red, blue = _red_and_blue(64, 0)
    left = np.zeros((64, 64), np.float32)
    left[:, :32] = 1.0
    result = stylize(content, [red, blue], config, extractor=extractor, masks=[left, 1 - left])
    image = result.final
    left_mean, right_mean = image[:, :32].mean(axis=(0, 1)), image[:, 32:].mean(axis=(0, 1))
    # Red minus blue is higher on the left than on the right ...
    redness = [m[0] - m[2] for m in (left_mean, right_mean)]
    assert redness[0] > redness[1] + 40, (left_mean, right_mean)
    if network == "vgg19":  # ... and, with VGG19's 64 first filters, each half takes its colour.
        assert redness[0] > 30 and redness[1] < -30, (left_mean, right_mean)
    # Each half's guided Grams, measured as the objective measures them (its
    # normalisation, layers and weights), against each style's targets.
    term = Objective(content, [red, blue], config, extractor, masks=[left, 1 - left]).terms["style"]
    features = extractor(image[None], layers)
    for region, other in ((0, 1), (1, 0)):
        to_own, to_other = (sum(w * float(gram_distance(guided_gram(features[n], term.guides[n][region]),
                                                        term.targets[n][k], term.scales.get(n)))
                                for n, w in term.layer_weights.items()) for k in (region, other))
        assert to_own <= 0.5 * to_other, (region, to_own, to_other)


def test_bad_masks_are_config_errors(tiny):
    content, a, b = smooth_image(24, 24, 1), smooth_image(24, 24, 2), smooth_image(24, 24, 3)
    ones = np.ones((24, 24), np.float32)
    with pytest.raises(ConfigError, match="expected 2 masks"):
        Objective(content, [a, b], TINY, tiny, masks=[ones])
    with pytest.raises(ConfigError, match="every mask is black"):
        Objective(content, [a, b], TINY, tiny, masks=[0 * ones, 0 * ones])
    with pytest.raises(ConfigError, match="style mask 1 is black"):
        Objective(content, [a], TINY, tiny, masks=[ones], style_masks=[0 * ones])


def _mask(path, width, height, left_white=True):
    array = np.zeros((height, width), np.uint8)
    array[:, : width // 2] = 255 if left_white else 0
    array[:, width // 2:] = 0 if left_white else 255
    Image.fromarray(array, "L").save(path)
    return str(path)


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_cli_masks_end_to_end_and_bad_input(tmp_path, capsys):
    photo = write_image(tmp_path / "photo.png", 48, 64, 1)
    a, b = write_image(tmp_path / "a.png", 40, 40, 2), write_image(tmp_path / "b.png", 40, 40, 3)
    left, right = _mask(tmp_path / "left.png", 64, 48), _mask(tmp_path / "right.png", 64, 48, False)
    half = _mask(tmp_path / "half.png", 40, 40)
    common = [str(photo), str(a), str(b), "--weights", "random", "--iterations", "3",
              "--max-size", "32", "-q", "--no-plot"]
    out = tmp_path / "o.png"
    assert cli(*["transfer", *common, "-o", str(out), "--masks", f"{left},{right}",
                 "--style-masks", f"{half},-"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["masks"] == [left, right] and record["config"]["style_masks"][1] == "-"
    capsys.readouterr()

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((48, 64), np.uint8), "L").save(black)
    square = _mask(tmp_path / "square.png", 48, 48)
    for options, expected in (
        (["--masks", left], "--masks: expected 2 masks"),
        (["--masks", f"{left},{text}"], "not an image file"),
        (["--masks", f"{black},{black}"], "every mask is black: nothing to stylise"),
        (["--masks", f"{left},{square}"], "another aspect ratio"),
        (["--style-masks", half], "--style-masks: expected 2 style masks"),
    ):
        code = cli(*["transfer", *common, "-o", str(tmp_path / "bad.png"), *options])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expected in err[0], (options, err)


def test_cli_region_colours(tmp_path, capsys):
    from tfstyle.io.images import region_masks

    photo = write_image(tmp_path / "photo.png", 48, 64, 1)
    a, b = write_image(tmp_path / "a.png", 40, 40, 2), write_image(tmp_path / "b.png", 40, 40, 3)
    regions = np.zeros((48, 64, 3), np.uint8)
    regions[:, :32] = (255, 0, 0)
    regions[:, 32:] = (0, 0, 255)
    Image.fromarray(regions).save(tmp_path / "regions.jpg", quality=70)  # JPEG edges
    masks = region_masks(tmp_path / "regions.jpg", [(255, 0, 0), (0, 0, 255)])
    assert masks[0][:, :30].min() == 1 and masks[0][:, 34:].max() == 0
    assert masks[1][:, 34:].min() == 1 and masks[1][:, :30].max() == 0
    common = [str(photo), "--weights", "random", "--iterations", "2", "--max-size", "32", "-q",
              "--no-plot", "--regions", str(tmp_path / "regions.jpg")]
    out = tmp_path / "o.png"
    assert cli(*["transfer", *common, "-o", str(out), "--region-styles",
                 f"#ff0000={a},#0000ff={b}"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["inputs"]["styles"] == [str(a), str(b)]
    capsys.readouterr()
    for styles, expected in ((f"#ff0000={a}", "#0000f"),  # in the image (as JPEG gives it), not listed
                             (f"#ff0000={a},#0000ff={b},#00ff00={a}", "#00ff00 is not in"),
                             (f"red={a}", "expected #RRGGBB=PAINTING")):
        code = cli(*["transfer", *common, "-o", str(tmp_path / "bad.png"), "--region-styles",
                     styles])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expected in err[0], (styles, err)


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_figure_masks_writes_both_results_and_a_sheet(tmp_path, capsys):
    from tfstyle.io.images import load_image

    photo = write_image(tmp_path / "photo.png", 48, 64, 1)
    a, b = write_image(tmp_path / "a.png", 40, 40, 2), write_image(tmp_path / "b.png", 40, 40, 3)
    left, right = _mask(tmp_path / "left.png", 64, 48), _mask(tmp_path / "right.png", 64, 48, False)
    folder = tmp_path / "fig"
    assert cli(*["figure-masks", str(photo), str(a), str(b), "-o", str(folder), "--masks",
                 f"{left},{right}", "--weights", "random", "--iterations", "3", "--max-size", "32",
                 "-q"]) == 0
    masked = json.loads((folder / "masked.json").read_text())
    blended = json.loads((folder / "blended.json").read_text())
    assert masked["config"]["masks"] == [left, right] and blended["config"]["masks"] is None
    assert not np.array_equal(load_image(folder / "masked.png"), load_image(folder / "blended.png"))
    sheet = load_image(folder / "figure-masks.png")
    # Three rows of three 32 px panels: the 64 px mask files are shown at the
    # photo's size, not their own (padding is a few px per panel).
    assert 3 * 32 <= sheet.shape[1] <= 3 * (32 + 8) + 8, sheet.shape
    assert sheet.shape[0] > 3 * 32
    # Finished results are not replaced without --overwrite, and a bad mask
    # is refused before any optimisation.
    again = ["figure-masks", str(photo), str(a), str(b), "-o", str(folder), "--masks",
             f"{left},{right}", "--weights", "random", "--iterations", "3", "--max-size", "32", "-q"]
    stamp = (folder / "masked.png").stat().st_mtime_ns
    capsys.readouterr()
    assert cli(*again) == 2
    assert "masked.png: already exists" in capsys.readouterr().err
    assert (folder / "masked.png").stat().st_mtime_ns == stamp
    assert cli(*[*again, "--overwrite"]) == 0
    masks_at = again.index("--masks") + 1
    missing = [*again[:masks_at], f"{left},{tmp_path / 'missing.png'}", *again[masks_at + 1:]]
    capsys.readouterr()
    assert cli(*[*missing, "--overwrite"]) == 2
    assert "missing.png: no such file" in capsys.readouterr().err


def test_bench_times_masked_against_blended(tiny, monkeypatch):
    """Reports, does not assert, speed. A clock of the test's own makes each
    evaluation take a known time, so the row must hold the median time of
    each objective's own timed evaluations: blended two styles, and the same
    two guided by complementary left and right halves."""
    from types import SimpleNamespace

    from tfstyle.bench import speed as bench

    clock = [0.0]
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    # Seconds per call, in order: the first (its trace) is not timed.
    costs = {False: iter([100.0, 5.0, 1.0, 2.0]), True: iter([100.0, 7.0, 3.0, 9.0])}
    seen = []
    evaluate = Objective.value_and_grad

    def timed(self, image):
        guided = type(self.terms["style"]).__name__ == "GuidedStyleTerm"
        seen.append((guided, self, np.shape(image)))
        clock[0] += next(costs[guided])
        return evaluate(self, image)
    monkeypatch.setattr(Objective, "value_and_grad", timed)
    row = bench.masks_overhead(32, repeats=3, config=TINY, extractor=tiny)
    assert row == {"size": 32, "blended_s": 2.0, "masked_s": 7.0, "masked_ratio": 3.5}
    assert [guided for guided, _, _ in seen] == [False] * 4 + [True] * 4
    assert all(shape == (32, 32, 3) for _, _, shape in seen)
    blended, masked = seen[0][1], seen[-1][1]
    assert blended.masks is None and len(blended.blend) == 2
    left, right = masked.masks
    assert left.shape == (32, 32) and np.array_equal(left + right, np.ones((32, 32)))
    assert left[:, :16].min() == 1 and left[:, 16:].max() == 0
