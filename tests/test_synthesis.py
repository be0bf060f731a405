"""stylize and the paper's other syntheses, on the stand-in extractor."""

import numpy as np
import pytest

from conftest import smooth_image
from tfstyle.events import Iterate, only
from tfstyle.config import StyleConfig
from tfstyle.core.synthesis import reconstruct_content, stylize, synthesize_texture

TINY = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                   weights="random", jit="off", precision="float32", iterations=15, max_size=32,
                   beta=1e2)


def test_lbfgs_runs_the_requested_iterations_and_the_loss_falls(tiny):
    seen = []
    result = stylize(smooth_image(24, 32, 1), smooth_image(32, 32, 2),
                     TINY.replace(init="noise"), extractor=tiny, callback=only(Iterate, seen.append))
    assert result.iterations == 15 and result.stop_reason == "iterations"
    assert [it.iteration for it in seen] == list(range(1, 16))
    losses = [h["total"] for h in result.history]
    assert losses[-1] < 0.9 * losses[0]
    assert all(b <= a + 1e-3 for a, b in zip(losses, losses[1:]))  # L-BFGS never goes up
    assert result.image.dtype == np.uint8 and result.image.shape == (24, 32, 3)
    assert result.final.min() >= 0.0 and result.final.max() <= 255.0  # bounds held
    assert all(set(it.terms) == {"content", "style"} for it in seen)  # no TV term: tv_weight 0
    assert all(it.terms["content"] >= 0 and it.terms["style"] >= 0 for it in seen)
    # The history and the callback name the same terms, and the total is their weighted sum.
    for h in result.history:
        assert h["total"] == pytest.approx(TINY.alpha * h["content"] + TINY.beta * h["style"],
                                           rel=1e-5)
    assert result.traces == 1


def test_callback_false_stops_and_keeps_best(tiny):
    result = stylize(smooth_image(24, 24, 1), smooth_image(24, 24, 2), TINY.replace(init="noise"),
                     extractor=tiny, callback=only(Iterate, lambda it: it.iteration < 4))
    assert result.stop_reason == "callback" and result.iterations == 4
    assert len(result.history) == 4


def test_keyboard_interrupt_keeps_best_image_so_far(tiny):
    def interrupt(it):
        if it.iteration == 6:
            raise KeyboardInterrupt

    start = smooth_image(24, 24, 9)
    result = stylize(smooth_image(24, 24, 1), smooth_image(24, 24, 2), TINY, extractor=tiny,
                     callback=only(Iterate, interrupt), init_image=start)
    assert result.interrupted and result.iterations == 6
    assert result.history[-1]["total"] < result.history[0]["total"]
    assert not np.array_equal(result.image, np.rint(start).astype(np.uint8))


def test_content_init_starts_at_the_content_and_noise_is_seeded(tiny):
    content = smooth_image(24, 24, 1)
    noisy = stylize(content, smooth_image(24, 24, 2), TINY.replace(iterations=1, init="noise"),
                    extractor=tiny)
    assert noisy.initial["content"] > 0
    for init in ("content", None):  # None: a transfer starts at the photo
        result = stylize(content, smooth_image(24, 24, 2), TINY.replace(iterations=1, init=init),
                         extractor=tiny)
        # At the photo itself the content term is zero, to float32 rounding.
        assert result.initial["content"] < 1e-6 * noisy.initial["content"]
        assert result.initial["style"] > 0
    a = stylize(content, None, TINY.replace(init="noise", seed=5, iterations=3), extractor=tiny)
    b = stylize(content, None, TINY.replace(init="noise", seed=5, iterations=3), extractor=tiny)
    np.testing.assert_array_equal(a.image, b.image)


def test_content_reconstruction_and_texture_modes(tiny):
    image = smooth_image(24, 24, 3)
    recon = reconstruct_content(image, "conv1_1", TINY.replace(init="noise", iterations=30),
                                extractor=tiny)
    assert recon.config.beta == 0 and recon.config.content_layers == ("conv1_1",)
    assert recon.history[-1]["content"] < 0.05 * recon.history[0]["content"]
    texture = synthesize_texture(image, ["conv1_1"], TINY.replace(init="noise"), size=(16, 40),
                                 extractor=tiny)
    assert texture.image.shape == (16, 40, 3) and texture.config.alpha == 0
    assert texture.history[-1]["style"] < texture.history[0]["style"]
