"""The demo: built-in drawings stylised with whatever weights can be had.

The content is a small landscape (sky, sun, hills, a house, a lake); the
style is a field of short curved brush strokes in a night-sky palette. Both
are drawn here, so the demo needs no files and no network.

    tfstyle.workflows.demo.run_demo("demo/", size=192, iterations=200)
"""

from __future__ import annotations

import math
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..io.files import check_output_folder
from ..beta import default_beta
from ..config import StyleConfig
from ..errors import WeightsError, one_line
from ..events import Say, emit

FILES = ("content.png", "style.png", "result.png", "sheet.png", "result.json")


def demo_beta(weights: str) -> float:
    """The demo's style weight: the paper's alpha/beta = 1e-4 (its stronger
    Fig. 2 ratio) for ImageNet weights, so a short run shows the style, and
    the weights' own default otherwise."""
    return 1e4 if weights == "imagenet" else default_beta(weights)


def demo_extractor(config: StyleConfig):
    """(extractor, config, note): ImageNet weights when they can be had,
    else the offline procedural ones; the note says which, in one line."""
    from ..core.extractor import FeatureExtractor

    try:
        extractor = FeatureExtractor.for_config(config)
    except WeightsError as error:
        if config.weights != "imagenet":
            raise
        # Its first clause: the offline hint that follows is what happens next.
        note = (f"ImageNet weights unavailable ({one_line(error).split(';')[0]}); "
                f"using procedural weights")
        config = config.replace(weights="procedural")
        extractor = FeatureExtractor.for_config(config)
    else:
        note = f"using {extractor.weights_source} weights"
    return extractor, config.replace(beta=demo_beta(config.weights)), note


def run_demo(folder, size: int = 192, iterations: int = 200, weights: str = "imagenet",
             overwrite: bool = False, callback=None):
    """Stylise the drawings into `folder` (content, style, result with its
    record, and a side-by-side sheet); returns the synthesis Result. The
    callback hears a `Say` naming the weights, then the run's events."""
    from ..io.images import save_image
    from .runs import save_result, status_of
    from ..io.sheet import make_sheet
    from ..core.synthesis import stylize

    folder = check_output_folder(folder, FILES, overwrite)
    # The paper's layers, started from the content so a short run converges.
    config = StyleConfig(weights=weights, iterations=iterations, max_size=size)
    extractor, config, note = demo_extractor(config)
    emit(callback, Say(note))
    folder.mkdir(exist_ok=True)
    content, style = demo_content(size), demo_style(size)
    result = stylize(content, style, config, extractor=extractor, callback=callback)
    save_image(folder / "content.png", content)
    save_image(folder / "style.png", style)
    save_result(folder / "result.png", result,
                {"content": "built-in landscape", "styles": ["built-in strokes"]},
                status_of(result))
    sheet = make_sheet([[(content, "content"), (style, "style"), (result.image, "result")]],
                       title=f"tfstyle demo: {result.weights} weights, alpha/beta "
                             f"{config.alpha / config.resolved_beta:g}, {result.iterations} iterations")
    save_image(folder / "sheet.png", sheet)
    emit(callback, Say(f"wrote {', '.join(FILES)} to {folder} ({result.weights} weights)"))
    return result


def demo_content(size: int = 256) -> np.ndarray:
    """(H, W, 3) float32 landscape, 4:3, longest side `size`."""
    w, h = size, size * 3 // 4
    image = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(image)
    for y in range(h):  # sky: deep blue to pale at the horizon
        t = y / h
        draw.line([(0, y), (w, y)], fill=(int(70 + 150 * t), int(130 + 100 * t), int(220 + 30 * t)))
    draw.ellipse([w * 0.70, h * 0.10, w * 0.84, h * 0.29], fill=(255, 225, 120))
    draw.polygon([(0, h * 0.62), (w * 0.25, h * 0.35), (w * 0.5, h * 0.58), (w * 0.75, h * 0.40),
                  (w, h * 0.6), (w, h), (0, h)], fill=(70, 120, 60))
    draw.rectangle([0, h * 0.72, w, h], fill=(60, 110, 170))  # lake
    for x in range(0, w, max(2, w // 40)):  # ripples
        draw.line([(x, h * 0.8 + (x % 7)), (x + w // 60, h * 0.8 + (x % 7))], fill=(150, 190, 230))
    draw.rectangle([w * 0.30, h * 0.50, w * 0.46, h * 0.70], fill=(200, 170, 120))  # house
    draw.polygon([(w * 0.28, h * 0.50), (w * 0.38, h * 0.38), (w * 0.48, h * 0.50)], fill=(150, 50, 40))
    draw.rectangle([w * 0.36, h * 0.60, w * 0.40, h * 0.70], fill=(90, 60, 40))
    for cx in (0.12, 0.6, 0.88):  # trees
        draw.rectangle([w * cx - 2, h * 0.55, w * cx + 2, h * 0.70], fill=(90, 60, 30))
        draw.ellipse([w * (cx - 0.05), h * 0.40, w * (cx + 0.05), h * 0.60], fill=(40, 100, 40))
    return np.asarray(image, np.float32)


def demo_style(size: int = 256, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 painting-like texture of swirling strokes."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (20, 35, 90))
    draw = ImageDraw.Draw(image)
    palette = [(30, 60, 150), (60, 110, 200), (240, 210, 80), (250, 240, 170), (20, 30, 70),
               (90, 160, 210)]
    width = max(2, size // 40)
    for _ in range(size * 3):
        x, y = rng.uniform(0, size, 2)
        # Strokes follow a swirl field around a few centres, as in a night sky.
        angle = math.atan2(y - size / 2, x - size / 2) + math.pi / 2 + 0.6 * math.sin(x / size * 6)
        length = rng.uniform(size / 25, size / 10)
        points = []
        for step in range(6):
            points.append((x, y))
            angle += rng.normal(0, 0.15)
            x += math.cos(angle) * length / 6
            y += math.sin(angle) * length / 6
        draw.line(points, fill=palette[rng.integers(len(palette))], width=width, joint="curve")
    return np.asarray(image.filter(ImageFilter.SMOOTH), np.float32)
