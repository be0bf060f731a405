"""The objective: gradient against finite differences, zero at the target,
normalisation, and one trace per image size."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import TinyExtractor, smooth_image
from tfstyle.config import StyleConfig
from tfstyle.errors import ImageError
from tfstyle.core.losses import content_loss, gram_per_position, layer_style_loss
from tfstyle.core.objective import Objective

TINY = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                   weights="random", jit=False, beta=1e3)


def directional_check(objective, x, directions=4, eps=1.0, seed=0):
    """Central differences of f along several directions vs grad . d.

    The loss is float32, so each direction mixes a random unit vector with
    the gradient's: the derivative is then large against rounding noise,
    while the random part still tests components the gradient lacks.
    """
    rng = np.random.default_rng(seed)
    _, grad = objective.value_and_grad(x)
    unit_grad = grad / np.linalg.norm(grad)
    for _ in range(directions):
        r = rng.normal(size=x.shape).astype(np.float32)
        d = r / np.linalg.norm(r) + unit_grad * rng.uniform(0.5, 1.0) * rng.choice([-1, 1])
        d /= np.linalg.norm(d)
        plus, _ = objective.value_and_grad(x + eps * d)
        minus, _ = objective.value_and_grad(x - eps * d)
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(grad.astype(np.float64) * d))
        assert analytic == pytest.approx(numeric, rel=2e-2)


@pytest.mark.parametrize("tv_weight", [0.0, 0.5])
def test_gradient_matches_finite_differences(tiny, tv_weight):
    content, style = smooth_image(24, 20, 1), smooth_image(28, 28, 2)
    objective = Objective(content, style, TINY.replace(tv_weight=tv_weight), tiny)
    directional_check(objective, np.clip(smooth_image(24, 20, 3) + 20, 0, 255))


def test_gradient_matches_finite_differences_through_vgg19(vgg_random):
    config = StyleConfig(weights="random", jit=False, beta=1e3)
    content, style = smooth_image(32, 32, 4), smooth_image(32, 32, 5)
    objective = Objective(content, style, config, vgg_random)
    directional_check(objective, smooth_image(32, 32, 6), directions=3)


def test_zero_loss_and_zero_gradient_at_the_target(tiny):
    image = smooth_image(20, 20, 7)
    objective = Objective(image, image, TINY, tiny)
    value, grad = objective.value_and_grad(image)
    assert value == pytest.approx(0.0, abs=1e-6)
    assert np.abs(grad).max() < 1e-5
    # Away from the target both are clearly non-zero.
    value, grad = objective.value_and_grad(smooth_image(20, 20, 8))
    assert value > 1e-3 and np.abs(grad).max() > 1e-6


def test_terms_by_hand_with_pair_normalisation(tiny):
    content, style, x = smooth_image(16, 16, 1), smooth_image(16, 16, 2), smooth_image(16, 16, 3)
    config = TINY.replace(alpha=2.0, beta=30.0, normalize="pair")
    objective = Objective(content, style, config, tiny)

    raw = {name: tiny(img[None]) for name, img in (("c", content), ("s", style), ("x", x))}
    # Channel means over the content and the style image, each weighted equally.
    scale = {n: 1.0 / np.maximum((raw["c"][n].numpy().mean((0, 1, 2)) +
                                  raw["s"][n].numpy().mean((0, 1, 2))) / 2, 1e-12)
             for n in ("conv1_1", "conv2_1")}
    f = {n: raw["x"][n] * scale[n] for n in scale}
    expected_content = content_loss(f["conv2_1"], raw["c"]["conv2_1"] * scale["conv2_1"]).numpy()
    expected_style = sum(0.5 * layer_style_loss(f[n], gram_per_position(raw["s"][n] * scale[n])).numpy()
                         for n in scale)
    terms = objective.values(x)
    assert terms["content"] == pytest.approx(expected_content, rel=1e-4)
    assert terms["style"] == pytest.approx(expected_style, rel=1e-4)
    assert terms["total"] == pytest.approx(2.0 * expected_content + 30.0 * expected_style, rel=1e-4)


@pytest.mark.parametrize("normalize", ["network", "pair"])
def test_normalisation_makes_the_loss_invariant_to_channel_scaling(normalize):
    """The paper's rescaled VGG: scaling a filter's output must not change
    the normalised objective, since the scale divides out (while no channel
    is floored: the factors stay within the floor's bound)."""
    content, style, x = smooth_image(16, 16, 1), smooth_image(16, 16, 2), smooth_image(16, 16, 3)
    plain = TinyExtractor()
    scaled = TinyExtractor()
    factor = np.array([1.0, 3.0, 0.5, 2.0], np.float32)
    scaled.k1 = plain.k1 * factor  # conv1_1 channels scaled (bias stays small)
    config = TINY.replace(style_layers=("conv1_1",), content_layers=("conv1_1",),
                          normalize=normalize)

    class NoBias(TinyExtractor):
        def __call__(self, images, layers=None):
            x = tf.convert_to_tensor(images, tf.float32) / 255.0 - 0.5
            return {"conv1_1": tf.nn.relu(tf.nn.conv2d(x, self.k1, 1, "SAME"))}

    a, b = NoBias(), NoBias()
    b.k1 = a.k1 * factor
    ta = Objective(content, style, config, a).values(x)
    tb = Objective(content, style, config, b).values(x)
    assert tb["content"] == pytest.approx(ta["content"], rel=1e-4)
    assert tb["style"] == pytest.approx(ta["style"], rel=1e-4)
    # Without normalisation the scaling shows.
    raw = config.replace(normalize="off")
    assert Objective(content, style, raw, b).values(x)["style"] != pytest.approx(
        Objective(content, style, raw, a).values(x)["style"], rel=1e-2)


def test_one_trace_across_iterations(tiny):
    content, style = smooth_image(16, 16, 1), smooth_image(16, 16, 2)
    objective = Objective(content, style, TINY, tiny)
    for seed in range(5):
        objective.value_and_grad(smooth_image(16, 16, seed))
    assert objective.traces == 1


def test_style_only_objective_accepts_any_size(tiny):
    objective = Objective(None, smooth_image(16, 16, 2), TINY, tiny)
    value, grad = objective.value_and_grad(smooth_image(24, 12, 3))
    assert value > 0 and grad.shape == (24, 12, 3)


def test_content_size_mismatch_is_rejected(tiny):
    objective = Objective(smooth_image(16, 16, 1), None, TINY, tiny)
    with pytest.raises(ImageError, match="differs"):
        objective.value_and_grad(smooth_image(20, 16, 3))


def test_objectives_of_one_structure_share_one_trace_and_keep_their_own_targets(tiny):
    """A batch's jobs (or a figure's panels): the second Objective over the
    same extractor reuses the first one's trace, at another size too, and
    each still answers for its own photo and painting, in any order."""
    from conftest import TinyExtractor

    first = Objective(smooth_image(16, 16, 1), smooth_image(16, 16, 2), TINY, tiny)
    second = Objective(smooth_image(24, 20, 3), smooth_image(20, 20, 4), TINY, tiny)
    x1, x2 = smooth_image(16, 16, 5), smooth_image(24, 20, 6)
    second_values = second.values(x2)
    first_values = first.values(x1)  # evaluated after the other's
    assert first.traces + second.traces == 1
    # The same objectives on a fresh extractor (same weights), traced apart.
    alone = {"first": Objective(smooth_image(16, 16, 1), smooth_image(16, 16, 2), TINY,
                                TinyExtractor()).values(x1),
             "second": Objective(smooth_image(24, 20, 3), smooth_image(20, 20, 4), TINY,
                                 TinyExtractor()).values(x2)}
    for got, want in ((first_values, alone["first"]), (second_values, alone["second"])):
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=1e-5)
    # Another structure (a different beta) gets its own trace.
    other = Objective(smooth_image(16, 16, 1), smooth_image(16, 16, 2), TINY.replace(beta=7.0), tiny)
    other.values(x1)
    assert other.traces == 1


def test_the_loss_plot_draws_every_term_the_run_had(tiny):
    """A video frame's run has a temporal term besides content, style and
    TV: its history, as the run keeps it, plots all of them and nothing else."""
    from tfstyle.io.plot import loss_figure, loss_plot_png
    from tfstyle.core.synthesis import stylize

    content = smooth_image(16, 16, 1)
    temporal = (0.5, smooth_image(16, 16, 7), np.ones((16, 16), np.float32))
    result = stylize(content, smooth_image(16, 16, 2),
                     TINY.replace(iterations=3, tv_weight=1e-3, init="content"), tiny,
                     temporal=temporal)
    assert "temporal" in result.history[-1]
    labels = loss_figure(result.history).axes[0].get_legend_handles_labels()[1]
    assert labels == ["total", "content", "style", "tv", "temporal"]
    assert loss_plot_png(result.history).startswith(b"\x89PNG")
