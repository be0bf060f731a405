"""A video frame's set-up: the paintings encoded once for a shot
(tfstyle.core.paintings), only the photo, the warped target and its
reliability anew, and the step traced once."""

import json

import numpy as np
import pytest
from conftest import TinyExtractor, smooth_image
from PIL import Image

import tfstyle.core.objective
from tfstyle.config import StyleConfig
from tfstyle.core.objective import Objective
from tfstyle.core.paintings import EncodedPaintings
from tfstyle.io.video import write_video
from tfstyle.workflows.video import frames_folder, stylize_video
from tfstyle.workflows.video_settings import VideoSettings

CONFIG = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                     beta=1e4, iterations=4, max_size=48, weights="random", jit="off",
                     precision="float32")


def frames_and_painting():
    frames = [smooth_image(40, 48, seed) for seed in (1, 2)]
    return frames, smooth_image(36, 44, 9)


def assert_same(objective, fresh, image):
    """The same value, terms and gradient, to float32 rounding."""
    total, grad, terms = objective.evaluate(image)
    total_fresh, grad_fresh, terms_fresh = fresh.evaluate(image)
    assert total == pytest.approx(total_fresh, rel=1e-6)
    assert terms == pytest.approx(terms_fresh, rel=1e-6)
    np.testing.assert_allclose(grad, grad_fresh, rtol=1e-5, atol=1e-6 * np.abs(grad_fresh).max())


@pytest.mark.parametrize("normalize", ["pair", "network"])
def test_a_frame_with_kept_paintings_is_the_frame_built_afresh(tiny, normalize):
    (first, second), painting = frames_and_painting()
    paintings = EncodedPaintings()
    temporal = (0.05, smooth_image(40, 48, 5), np.linspace(0, 1, 40 * 48).reshape(40, 48))
    config = CONFIG.replace(normalize=normalize)
    earlier = Objective(first, painting, config, tiny, paintings=paintings)
    kept = Objective(second, painting, config, tiny, temporal=temporal, paintings=paintings)
    fresh = Objective(second, painting, config, tiny, temporal=temporal)
    assert paintings.encoded == 1  # the second frame found the painting's encoding
    image = smooth_image(40, 48, 7)
    assert_same(kept, fresh, image)
    # Under pair the photo enters the normalisation, so the kept encoding is
    # rescaled per frame and the style target moves; the network's scales
    # hold it still from frame to frame.
    for name in config.style_layers:
        moved = not np.allclose(kept.terms["style"].targets[name],
                                earlier.terms["style"].targets[name], rtol=1e-3)
        assert moved == (normalize == "pair")
        if normalize == "network":
            np.testing.assert_array_equal(kept.terms["style"].targets[name],
                                          earlier.terms["style"].targets[name])
    assert_same(earlier, Objective(first, painting, config, tiny), image)


def test_a_changed_painting_or_network_is_encoded_again(tiny):
    (first, second), painting = frames_and_painting()
    paintings = EncodedPaintings()
    Objective(first, painting, CONFIG, tiny, paintings=paintings)
    recoloured = painting * 0.9  # as preserve_color makes it per frame
    kept = Objective(second, recoloured, CONFIG, tiny, paintings=paintings)
    assert paintings.encoded == 2
    image = smooth_image(40, 48, 7)
    assert_same(kept, Objective(second, recoloured, CONFIG, tiny), image)
    other = TinyExtractor(seed=1)
    kept = Objective(second, recoloured, CONFIG, other, paintings=paintings)
    assert paintings.encoded == 3
    assert_same(kept, Objective(second, recoloured, CONFIG, other), image)


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """One shot of four frames, counting the paintings' encodings: (frame
    records, paintings encoded)."""
    folder = tmp_path_factory.mktemp("shot")
    big = smooth_image(40, 56, 3)
    write_video(folder / "clip", [big[:, 2 * k:2 * k + 48] for k in range(4)], 12)
    Image.fromarray(smooth_image(48, 48, 9).astype(np.uint8)).save(folder / "style.png")
    encodings = []
    encode = tfstyle.core.objective.encode

    def counted(extractor, image, layers, plan, maps=(), grams=()):
        if grams:  # a painting's Grams: the photo's encoding has none
            encodings.append(image.shape)
        return encode(extractor, image, layers, plan, maps, grams)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfstyle.core.objective, "encode", counted)
        record = stylize_video(folder / "clip", [folder / "style.png"], folder / "out/",
                               CONFIG, VideoSettings(), extractor=TinyExtractor(), fps=12)
    assert record["status"] == "finished" and record["count"] == 4
    frames = frames_folder(folder / "out/")
    records = [json.loads((frames / f"frame_{k:04d}.json").read_text()) for k in range(1, 5)]
    return records, encodings


def test_a_shots_frames_encode_the_paintings_once(shot):
    _, encodings = shot
    assert len(encodings) == 1


def test_a_shot_traces_its_step_once(shot):
    """The first frame (no temporal term) traces its step, the second the
    step with the temporal term, and every later frame reuses it."""
    records, _ = shot
    assert [r["traces"] for r in records] == [1, 1, 0, 0]
