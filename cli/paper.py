"""The paper's experiments on the command line: `reconstruct`, `texture`,
`figure1`, `figure2` and `figure3` (tfstyle.workflows.paper), and `sheet`.

    tfstyle figure3 photo.jpg painting.jpg -o fig3/ --weights random
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.config_parse import parse_list
from tfstyle.errors import ConfigError, Interrupted
from tfstyle.workflows.paper import CELL_ITERATIONS, CELL_SIZE, FIGURE2_RATIO, FIGURE3_RATIOS

from .app import (CONTENT_FIELDS, SCHEDULE_FIELDS, STYLE_FIELDS, MaxPixels, Output, OutputFolder,
                  Overwrite, Quiet, app, config_options)
from .progress import Progress
from .quiet import start_tensorflow

Resume = typer.Option(False, help="Keep panels on disk that finished with the same settings; "
                                   "compute the rest (missing, interrupted, or made with "
                                   "other settings).")
# What a figure's cells set themselves (layers, ratios) is not an option.
FIGURE = dict(exclude=CONTENT_FIELDS + STYLE_FIELDS + SCHEDULE_FIELDS,
              defaults={"max_size": CELL_SIZE, "iterations": CELL_ITERATIONS},
              aliases={"max_size": ("--size",)})


def _parse_size(text: Optional[str]):
    """'96x128' -> (96, 128) as (height, width); None stays None."""
    if not text:
        return None
    try:
        height, width = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise ConfigError("size", f"expected HEIGHTxWIDTH such as 256x384, received {text!r}") from None
    if min(height, width) < 16:
        raise ConfigError("size", f"each side must be at least 16 px, received {text!r}")
    return height, width


def _panel(kind: str, image: Path, output: Path, config: StyleConfig, overwrite: bool,
           quiet: bool, max_pixels: int, size=None):
    from tfstyle.io.images import check_readable, load_image
    from tfstyle.io.files import check_writable
    from tfstyle.workflows.paper import Cell, run_panel

    check_readable(image)
    check_writable(output, overwrite, inputs=[image])
    start_tensorflow()
    array = load_image(image, max_size=config.max_size, max_pixels=max_pixels)
    cell = Cell(output.stem, kind, 0, 0, "", config)
    inputs = {"content": str(image)} if kind == "content" else {"styles": [str(image)]}
    progress = Progress(config.iterations, quiet=quiet)
    with progress:
        if kind == "content":
            result = run_panel(cell, array, [], output, inputs, callback=progress)
        else:
            result = run_panel(cell, None, [array], output, inputs, callback=progress, size=size)
    if result.interrupted:
        raise Interrupted(f"after {result.iterations} iterations; the best image so far is "
                          f"in {output}")
    progress.say(f"{result.iterations} iterations in {result.seconds:.1f} s -> {output}")


@app.command()
@config_options(exclude=CONTENT_FIELDS + STYLE_FIELDS)
def reconstruct(
    image: Path = typer.Argument(..., help="The photo."),
    output: Path = Output,
    layer: str = typer.Option("conv4_2", help="The one layer whose features are matched."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Fig. 1, top row: reconstruct IMAGE from one layer's features (beta = 0)."""
    from tfstyle.core.synthesis import paper_start

    config = paper_start(config).replace(content_layers=(layer,), beta=0.0)
    _panel("content", image, output, config, overwrite, quiet, max_pixels)


@app.command()
@config_options(exclude=CONTENT_FIELDS + tuple(f for f in STYLE_FIELDS if f != "style_layers"),
                aliases={"style_layers": ("--layers",)})
def texture(
    style: Path = typer.Argument(..., help="The painting or texture photo."),
    output: Path = Output,
    size: Optional[str] = typer.Option(None, help="Output HEIGHTxWIDTH; the style's size by default."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Fig. 1, bottom row: synthesise a texture from STYLE's Gram matrices (alpha = 0)."""
    from tfstyle.core.synthesis import paper_start

    config = paper_start(config).replace(alpha=0.0)
    _panel("texture", style, output, config, overwrite, quiet, max_pixels, size=_parse_size(size))


def _figure(figure: str, content: Path, styles: list[Path], folder: Path, config: StyleConfig,
            resume: bool, overwrite: bool, quiet: bool, max_pixels: int, **figure_options):
    from tfstyle.workflows.paper import run_figure

    start_tensorflow()
    with Progress(quiet=quiet) as progress:  # a bar per panel
        run = run_figure(figure, content, styles, folder, config, resume=resume,
                         overwrite=overwrite, callback=progress, max_pixels=max_pixels,
                         **figure_options)
    if run.interrupted:
        raise Interrupted(f"the finished panels and the sheet are in {folder}")
    progress.say(f"{figure}: {len(run.panels)} panels in {run.seconds:.0f} s -> {run.sheet}")


@app.command()
@config_options(**FIGURE)
def figure1(
    content: Path = typer.Argument(..., help="The photo."),
    style: Path = typer.Argument(..., help="The painting."),
    output: Path = OutputFolder, resume: bool = Resume,
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Fig. 1: content reconstructions by layer and style reconstructions by layer set."""
    _figure("figure1", content, [style], output, config, resume, overwrite, quiet, max_pixels)


@app.command()
@config_options(**{**FIGURE, "defaults": {**FIGURE["defaults"], "max_size": 256}})
def figure2(
    content: Path = typer.Argument(..., help="The photo."),
    styles: List[Path] = typer.Argument(..., help="One or more paintings."),
    output: Path = OutputFolder,
    ratio: float = typer.Option(FIGURE2_RATIO, help="alpha/beta."),
    resume: bool = Resume,
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Fig. 2: the photo in the style of each painting (conv4_2; conv1_1..conv5_1)."""
    _figure("figure2", content, list(styles), output, config, resume, overwrite, quiet,
            max_pixels, ratio=ratio)


@app.command()
@config_options(**FIGURE)
def figure3(
    content: Path = typer.Argument(..., help="The photo."),
    style: Path = typer.Argument(..., help="The painting."),
    output: Path = OutputFolder,
    ratios: str = typer.Option(",".join(f"{r:g}" for r in FIGURE3_RATIOS), help="alpha/beta per column."),
    resume: bool = Resume,
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Fig. 3: style layer sets A-E (rows) by alpha/beta ratio (columns)."""
    _figure("figure3", content, [style], output, config, resume, overwrite, quiet, max_pixels,
            ratios=parse_list("ratios", ratios, float))


@app.command()
def sheet(
    images: List[Path] = typer.Argument(..., help="Images to lay out, left to right."),
    output: Path = typer.Option(..., "--output", "-o", help="The sheet (.png or .jpg)."),
    labels: Optional[str] = typer.Option(None, help="Captions, comma-separated, one per image."),
    columns: int = typer.Option(0, min=0, help="Images per row; all in one row by default."),
    title: Optional[str] = typer.Option(None, help="A line above the sheet."),
    size: int = typer.Option(256, min=16, help="Longest side of each panel, px."),
    overwrite: bool = Overwrite,
):
    """Lay existing images out side by side with captions (no optimisation)."""
    from tfstyle.io.files import check_writable
    from tfstyle.io.images import load_image, save_image
    from tfstyle.io.sheet import make_sheet

    captions = list(parse_list("labels", labels)) if labels else [p.stem for p in images]
    if len(captions) != len(images):
        raise ConfigError("labels", f"expected {len(images)} captions, one per image, "
                                    f"received {len(captions)}")
    check_writable(output, overwrite, inputs=images)
    arrays = [load_image(p, max_size=size) for p in images]
    per_row = columns or len(arrays)
    cells = [list(zip(arrays[i:i + per_row], captions[i:i + per_row]))
             for i in range(0, len(arrays), per_row)]
    save_image(output, make_sheet(cells, title=title, cell_size=(size, size)))


@app.command("figure-masks")
@config_options()
def figure_masks(
    content: Path = typer.Argument(..., help="The photo."),
    styles: Optional[List[Path]] = typer.Argument(None, help="The paintings (or --region-styles)."),
    output: Path = OutputFolder,
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Spatial control (Gatys et al. 2017): the result with masks beside the plain blend."""
    from tfstyle.workflows.masks_figure import masks_figure

    start_tensorflow()
    progress = Progress(config.iterations, quiet=quiet)
    with progress:
        sheet = masks_figure(content, styles or (), output, config, callback=progress,
                             max_pixels=max_pixels, overwrite=overwrite)
    progress.say(f"figure-masks -> {sheet}")
