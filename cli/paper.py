"""The paper's experiments on the command line: `reconstruct`, `texture`,
`figure1`, `figure2` and `figure3`.

    tfstyle figure3 photo.jpg painting.jpg -o fig3/ --weights random
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError, OutputError
from tfstyle.io import DEFAULT_MAX_PIXELS, check_readable, check_writable, load_image
from tfstyle.paper import CELL_ITERATIONS, CELL_SIZE, FIGURE2_RATIO, FIGURE3_RATIOS

from .main import Overwrite, Pooling, Quiet, Seed, Weights, app
from .run import Progress, save_result, start_library

D = StyleConfig()
PAPER_INIT = "noise"  # the paper starts every synthesis from white noise

Size = typer.Option(CELL_SIZE, help="Longest side of each panel, px.")
CellIterations = typer.Option(CELL_ITERATIONS, help="L-BFGS iterations per panel.")
Init = typer.Option(PAPER_INIT, help="noise (the paper), content, style, or an image path.")
Resume = typer.Option(False, help="Keep panels already on disk; only compute the missing ones.")


def _config(**options) -> StyleConfig:
    return StyleConfig(**options)


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


def _single(kind: str, image: Path, output: Path, config: StyleConfig, overwrite: bool,
            quiet: bool, size=None, max_pixels=DEFAULT_MAX_PIXELS) -> int:
    from tfstyle.paper import Cell, run_cell

    check_readable(image)
    check_writable(output, overwrite, inputs=[image])
    start_library()
    array = load_image(image, max_size=config.max_size, max_pixels=max_pixels)
    cell = Cell(output.stem, kind, 0, 0, "", config)
    progress = Progress(config, quiet=quiet)
    with progress:
        if kind == "content":
            result = run_cell(cell, array, [], callback=progress.update)
        else:
            result = run_cell(cell, None, [array], callback=progress.update, size=size)
    inputs = {"content": image} if kind == "content" else {"styles": [image]}
    save_result(output, result, inputs, "interrupted" if result.interrupted else "finished")
    progress.say(f"{result.iterations} iterations in {result.seconds:.1f} s -> {output}")
    return 130 if result.interrupted else 0


@app.command()
def reconstruct(
    image: Path = typer.Argument(..., help="The photo."),
    output: Path = typer.Option(..., "--output", "-o"),
    layer: str = typer.Option("conv4_2", help="The one layer whose features are matched."),
    iterations: int = typer.Option(D.iterations), max_size: int = typer.Option(D.max_size),
    weights: str = Weights, seed: int = Seed, pooling: str = Pooling, init: str = Init,
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Fig. 1, top row: reconstruct IMAGE from one layer's features (beta = 0)."""
    config = _config(content_layers=(layer,), beta=0.0, iterations=iterations, max_size=max_size,
                     weights=weights, seed=seed, pooling=pooling, init=init)
    raise typer.Exit(_single("content", image, output, config, overwrite, quiet))


@app.command()
def texture(
    style: Path = typer.Argument(..., help="The painting or texture photo."),
    output: Path = typer.Option(..., "--output", "-o"),
    layers: str = typer.Option(",".join(D.style_layers), help="Layers whose Gram matrices are matched."),
    size: Optional[str] = typer.Option(None, help="Output HEIGHTxWIDTH; the style's size by default."),
    iterations: int = typer.Option(D.iterations), max_size: int = typer.Option(D.max_size),
    weights: str = Weights, seed: int = Seed, pooling: str = Pooling, init: str = Init,
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Fig. 1, bottom row: synthesise a texture from STYLE's Gram matrices (alpha = 0)."""
    config = _config(style_layers=layers, alpha=0.0, iterations=iterations, max_size=max_size,
                     weights=weights, seed=seed, pooling=pooling, init=init)
    raise typer.Exit(_single("texture", style, output, config, overwrite, quiet,
                             size=_parse_size(size)))


def _run_figure(figure: str, content: Path, styles: list[Path], folder: Path, config: StyleConfig,
                resume: bool, overwrite: bool, quiet: bool, ratios=None, ratio=None) -> int:
    from tfstyle import paper

    for path in (content, *styles):
        check_readable(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise OutputError(f"{folder.parent}: output folder does not exist")
    if figure == "figure1":
        cells = paper.figure1_cells(config)
    elif figure == "figure2":
        cells = paper.figure2_cells(config, len(styles), ratio)
    else:
        cells = paper.figure3_cells(config, ratios)
    sheet_path = folder / f"{figure}.png"
    existing = [c for c in cells if (folder / f"{c.name}.png").exists()]
    if existing and not (resume or overwrite):
        raise OutputError(f"{folder / existing[0].name}.png: already exists (use --resume to keep "
                          "finished panels, or --overwrite to recompute them)")
    folder.mkdir(exist_ok=True)
    start_library()
    from tfstyle.extractor import FeatureExtractor
    from tfstyle.io import save_image

    content_image = load_image(content, max_size=config.max_size)
    style_images = [load_image(s, max_size=config.max_size) for s in styles]
    extractor = None
    images, started = {}, time.perf_counter()
    status = 0
    console = Progress(config, quiet=quiet)
    for index, cell in enumerate(cells):
        path = folder / f"{cell.name}.png"
        if resume and path.exists():
            images[cell.name] = load_image(path)
            console.say(f"[{index + 1}/{len(cells)}] {cell.name}: kept from disk")
            continue
        if extractor is None:  # the paper's layers (to conv5_1), shared by every panel
            extractor = FeatureExtractor.for_config(config)
        progress = Progress(cell.config, quiet=quiet)
        with progress:
            result = paper.run_cell(cell, content_image, style_images, extractor, progress.update)
        inputs = {"content": content, "styles": [str(s) for s in styles], "figure": figure,
                  "panel": cell.name}
        extra = {}
        if cell.kind == "content":  # how close the reconstruction came to the photo
            extra["psnr_db"] = round(paper.psnr(result.final, content_image), 2)
        elif cell.kind == "texture" and result.history:
            extra["style_loss_reduction"] = (result.initial["style"]
                                             / max(result.history[-1]["style"], 1e-30))
        save_result(path, result, inputs, "interrupted" if result.interrupted else "finished",
                    **extra)
        images[cell.name] = result.image
        console.say(f"[{index + 1}/{len(cells)}] {cell.name}: {result.iterations} iterations, "
                    f"{result.seconds:.1f} s")
        if result.interrupted:
            status = 130
            break
    sheet = paper.figure_sheet(figure, cells, images, content_image, style_images, ratios=ratios)
    save_image(sheet_path, sheet)
    console.say(f"{figure}: {len(cells)} panels in {time.perf_counter() - started:.0f} s -> {sheet_path}")
    return status


def _figure_config(size, iterations, weights, seed, pooling, init) -> StyleConfig:
    return _config(max_size=size, iterations=iterations, weights=weights, seed=seed,
                   pooling=pooling, init=init)


@app.command()
def figure1(
    content: Path = typer.Argument(..., help="The photo."),
    style: Path = typer.Argument(..., help="The painting."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the panels and sheet."),
    size: int = Size, iterations: int = CellIterations, weights: str = Weights, seed: int = Seed,
    pooling: str = Pooling, init: str = Init, resume: bool = Resume,
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Fig. 1: content reconstructions by layer and style reconstructions by layer set."""
    config = _figure_config(size, iterations, weights, seed, pooling, init)
    raise typer.Exit(_run_figure("figure1", content, [style], output, config, resume, overwrite, quiet))


@app.command()
def figure2(
    content: Path = typer.Argument(..., help="The photo."),
    styles: List[Path] = typer.Argument(..., help="One or more paintings."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the panels and sheet."),
    ratio: float = typer.Option(FIGURE2_RATIO, help="alpha/beta."),
    size: int = typer.Option(256, help="Longest side of each panel, px."),
    iterations: int = CellIterations, weights: str = Weights, seed: int = Seed,
    pooling: str = Pooling, init: str = Init, resume: bool = Resume,
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Fig. 2: the photo in the style of each painting (conv4_2; conv1_1..conv5_1)."""
    _check_ratios("ratio", [ratio])
    config = _figure_config(size, iterations, weights, seed, pooling, init)
    raise typer.Exit(_run_figure("figure2", content, list(styles), output, config, resume,
                                 overwrite, quiet, ratio=ratio))


@app.command()
def figure3(
    content: Path = typer.Argument(..., help="The photo."),
    style: Path = typer.Argument(..., help="The painting."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the panels and sheet."),
    ratios: str = typer.Option(",".join(f"{r:g}" for r in FIGURE3_RATIOS), help="alpha/beta per column."),
    size: int = Size, iterations: int = CellIterations, weights: str = Weights, seed: int = Seed,
    pooling: str = Pooling, init: str = Init, resume: bool = Resume,
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Fig. 3: style layer sets A-E (rows) by alpha/beta ratio (columns)."""
    try:
        values = tuple(float(r) for r in ratios.split(",") if r.strip())
    except ValueError:
        raise ConfigError("ratios", f"expected comma-separated numbers, received {ratios!r}") from None
    _check_ratios("ratios", values)
    config = _figure_config(size, iterations, weights, seed, pooling, init)
    raise typer.Exit(_run_figure("figure3", content, [style], output, config, resume, overwrite,
                                 quiet, ratios=values))


def _check_ratios(option, values):
    if not values:
        raise ConfigError(option, "at least one ratio is needed")
    for value in values:
        if not (value > 0 and value != float("inf")):
            raise ConfigError(option, f"expected positive finite numbers, received {value!r}")


@app.command()
def sheet(
    images: List[Path] = typer.Argument(..., help="Images to lay out, left to right."),
    output: Path = typer.Option(..., "--output", "-o", help="The sheet (.png or .jpg)."),
    labels: Optional[str] = typer.Option(None, help="Captions, comma-separated, one per image."),
    columns: int = typer.Option(0, help="Images per row; all in one row by default."),
    title: Optional[str] = typer.Option(None, help="A line above the sheet."),
    size: int = typer.Option(256, help="Longest side of each panel, px."),
    overwrite: bool = Overwrite,
):
    """Lay existing images out side by side with captions (no optimisation)."""
    from tfstyle.io import save_image
    from tfstyle.sheet import make_sheet

    captions = [p.strip() for p in labels.split(",")] if labels else [p.stem for p in images]
    if len(captions) != len(images):
        raise ConfigError("labels", f"expected {len(images)} captions, one per image, "
                                    f"received {len(captions)}")
    if columns < 0 or size < 16:
        raise ConfigError("columns" if columns < 0 else "size", "must be positive")
    check_writable(output, overwrite, inputs=images)
    arrays = [load_image(p, max_size=size) for p in images]
    per_row = columns or len(arrays)
    cells = [list(zip(arrays[i:i + per_row], captions[i:i + per_row]))
             for i in range(0, len(arrays), per_row)]
    save_image(output, make_sheet(cells, title=title, cell_size=(size, size)))
    raise typer.Exit(0)
