"""`tfstyle demo`: stylise the built-in drawings and write a side-by-side sheet."""

from __future__ import annotations

from pathlib import Path

from tfstyle.errors import OutputError, WeightsError

from .run import Progress, save_result, start_library

# Random filters give Gram matrices that differ less between images than
# ImageNet's, so they need a stronger style weight for the same look: the
# paper's alpha/beta = 1e-4 for ImageNet weights, 1e-6 for random ones
# (measured on the shared photos; see the README).
def demo_beta(weights: str) -> float:
    return 1e6 if weights == "random" else 1e4


FILES = ("content.png", "style.png", "result.png", "sheet.png", "result.json")


def run_demo(folder: Path, size: int, iterations: int, weights: str, overwrite: bool,
             quiet: bool) -> int:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise OutputError(f"{folder.parent}: output folder does not exist")
    clashes = [name for name in FILES if (folder / name).exists()]
    if clashes and not overwrite:
        raise OutputError(f"{folder / clashes[0]}: already exists (use --overwrite to replace it)")
    folder.mkdir(exist_ok=True)
    start_library()
    from tfstyle.config import StyleConfig
    from tfstyle.demo import demo_content, demo_style
    from tfstyle.extractor import FeatureExtractor
    from tfstyle.io import save_image
    from tfstyle.sheet import make_sheet
    from tfstyle.synthesis import stylize

    # The paper's layers, started from the content so a short run converges.
    config = StyleConfig(weights=weights, iterations=iterations, max_size=size)
    try:
        extractor = FeatureExtractor.for_config(config)
    except WeightsError as error:
        if weights != "imagenet":
            raise
        note = f"ImageNet weights unavailable ({str(error).split(';')[0]}); using random weights"
        config = config.replace(weights="random")
        extractor = FeatureExtractor.for_config(config)
    else:
        note = f"using {extractor.weights_source} weights"
    config = config.replace(beta=demo_beta(config.weights))
    content, style = demo_content(size), demo_style(size)
    progress = Progress(config, quiet=quiet)
    progress.say(note)
    with progress:
        result = stylize(content, style, config, extractor=extractor, callback=progress.update)
    save_image(folder / "content.png", content)
    save_image(folder / "style.png", style)
    save_result(folder / "result.png", result,
                {"content": "built-in landscape", "styles": ["built-in strokes"]},
                "interrupted" if result.interrupted else "finished")
    sheet = make_sheet([[(content, "content"), (style, "style"), (result.image, "result")]],
                       title=f"tfstyle demo: {result.weights} weights, alpha/beta "
                             f"{config.alpha / config.beta:g}, {result.iterations} iterations")
    save_image(folder / "sheet.png", sheet)
    progress.say(f"wrote {', '.join(FILES)} to {folder} ({result.weights} weights)")
    return 130 if result.interrupted else 0
