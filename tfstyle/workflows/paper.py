"""The paper's experiments as lists of cells: what each panel of Figures 1-3
optimises, and where it sits on the sheet.

A cell is a pure description (no images, no files). `run_cell` performs one;
`figure_sheet` lays finished cells out like the paper's figure; `run_figure`
and `run_panel` are the workflows with files (a panel image and its run
record each, and --resume, which keeps only panels finished with the same
settings).

    tfstyle.workflows.paper.run_figure("figure1", "photo.jpg", ["painting.jpg"], "fig1/",
                             StyleConfig(weights="random"), resume=True)

Every cell starts from white noise, as the paper does, unless the config
names another start (`init`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.files import check_output_folder
from ..config import PAPER_STYLE_LAYERS, StyleConfig
from ..errors import ConfigError, OutputError, TfstyleError
from ..events import Panel, emit

# Fig. 1 and Fig. 3 grow the style representation one block at a time.
LAYER_SETS = tuple(PAPER_STYLE_LAYERS[: i + 1] for i in range(len(PAPER_STYLE_LAYERS)))
SET_NAMES = "ABCDE"
FIGURE3_RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)
FIGURE2_RATIO = 1e-3

# Defaults per cell, chosen so `figure3` (20 cells) takes about 10 minutes on
# 2 CPU cores; see the README for the measured times.
CELL_SIZE = 128
CELL_ITERATIONS = 200


@dataclass(frozen=True)
class Cell:
    name: str  # file stem, e.g. "content_conv2_1" or "C_1e-03"
    kind: str  # "content", "texture" or "transfer"
    row: int
    column: int
    label: str  # caption on the sheet
    config: StyleConfig
    style_index: int = 0  # which style image, for figure2


def layer_span(layers) -> str:
    """('conv1_1', 'conv2_1', 'conv3_1') -> 'conv1_1-conv3_1'."""
    return layers[0] if len(layers) == 1 else f"{layers[0]}-{layers[-1]}"


def ratio_label(ratio: float) -> str:
    return f"{ratio:.0e}"


def figure1_cells(config: StyleConfig) -> list[Cell]:
    """Top row: content reconstructions from conv1_1 ... conv5_1 (beta = 0).
    Bottom row: style reconstructions from growing layer sets (alpha = 0)."""
    config = _paper_start(config)
    cells = []
    for i, layer in enumerate(PAPER_STYLE_LAYERS):
        cells.append(Cell(f"content_{layer}", "content", 0, i + 1, layer,
                          config.replace(content_layers=(layer,), content_weights=None, beta=0.0)))
    for i, layers in enumerate(LAYER_SETS):
        cells.append(Cell(f"texture_{layer_span(layers)}", "texture", 1, i + 1, layer_span(layers),
                          config.replace(style_layers=layers, style_weights=None, alpha=0.0)))
    return cells


def figure2_cells(config: StyleConfig, n_styles: int, ratio: float = FIGURE2_RATIO) -> list[Cell]:
    """The photo rendered in each style with the paper's settings."""
    config = _with_ratio(_paper_start(config).replace(style_layers=PAPER_STYLE_LAYERS, style_weights=None,
                                        content_layers=("conv4_2",)), ratio)
    return [Cell(f"style{k + 1}", "transfer", 0, k + 1, f"alpha/beta {ratio_label(ratio)}", config,
                 style_index=k) for k in range(n_styles)]


def figure3_cells(config: StyleConfig, ratios=FIGURE3_RATIOS) -> list[Cell]:
    """Rows: style layer sets A-E. Columns: alpha/beta ratios."""
    ratios = check_ratios("ratios", ratios)
    config = _paper_start(config)
    cells = []
    for r, layers in enumerate(LAYER_SETS):
        for c, ratio in enumerate(ratios):
            cell_config = _with_ratio(config.replace(style_layers=layers, style_weights=None,
                                                     content_layers=("conv4_2",)), ratio)
            cells.append(Cell(f"{SET_NAMES[r]}_{ratio_label(ratio)}", "transfer", r, c + 1,
                              f"{SET_NAMES[r]}, {ratio_label(ratio)}", cell_config))
    return cells


def check_ratios(option: str, ratios) -> tuple[float, ...]:
    """alpha/beta values: at least one, each positive and finite."""
    ratios = tuple(ratios)
    if not ratios:
        raise ConfigError(option, "at least one ratio is needed")
    for ratio in ratios:
        if not (isinstance(ratio, (int, float)) and 0 < ratio < float("inf")):
            raise ConfigError(option, f"expected positive finite numbers, received {ratio!r}")
    return ratios


def _with_ratio(config: StyleConfig, ratio: float) -> StyleConfig:
    """alpha/beta = ratio with alpha = 1, as the paper states its ratios."""
    check_ratios("ratio", [ratio])
    return config.replace(alpha=1.0, beta=1.0 / ratio)


def _paper_start(config: StyleConfig) -> StyleConfig:
    from ..core.synthesis import paper_start

    return paper_start(config)


def run_cell(cell: Cell, content, styles, extractor=None, callback=None, size=None):
    """Optimise one cell; returns a synthesis.Result. A texture takes `size`,
    else the content's size, else its style image's."""
    from ..core.synthesis import reconstruct_content, stylize, synthesize_texture

    if cell.kind == "content":
        return reconstruct_content(content, cell.config.content_layers[0], cell.config,
                                   extractor=extractor, callback=callback)
    if cell.kind == "texture":
        if size is None and content is not None:
            size = content.shape[:2]
        return synthesize_texture(styles[cell.style_index], cell.config.style_layers, cell.config,
                                  size=size, extractor=extractor, callback=callback)
    return stylize(content, styles[cell.style_index], cell.config, extractor=extractor,
                   callback=callback)


# Input panels sit in column 0: (figure, row) -> which input.
_INPUTS = {("figure1", 0): "content", ("figure1", 1): "style", ("figure2", 0): "content",
           ("figure3", 0): "content", ("figure3", 1): "style"}


def figure_grid(figure: str, cells: list[Cell]) -> list[list[str | None]]:
    """Which panel goes where: cell names, "content"/"style[k]" for inputs."""
    rows = 2 if figure == "figure2" else 1 + max(c.row for c in cells)
    columns = 1 + max(c.column for c in cells)
    grid: list[list[str | None]] = [[None] * columns for _ in range(rows)]
    for (name, row), source in _INPUTS.items():
        if name == figure and row < rows:
            grid[row][0] = source
    for cell in cells:
        grid[cell.row][cell.column] = cell.name
        if figure == "figure2":  # each painting under its result
            grid[1][cell.column] = f"painting{cell.style_index}"
    return grid


def figure_sheet(figure: str, cells: list[Cell], images: dict, content, styles, ratios=None):
    """The labelled sheet of a figure; `images` maps cell names to arrays."""
    from ..io.sheet import make_sheet

    by_name = {c.name: c for c in cells}
    # Input panels are named apart from the cells (figure2's results are
    # style1..N), so an input can never stand in for a result.
    panels = {"content": (content, "photo"), "style": (styles[0], "painting"),
              **{f"painting{k}": (s, f"painting {k + 1}") for k, s in enumerate(styles)}}

    def panel(name):
        if name is None:
            return (None, "")
        if name in panels:
            return panels[name]
        caption = "" if figure == "figure3" else by_name[name].label  # fig. 3 has axis labels
        return (images.get(name), caption)

    grid = [[panel(name) for name in row] for row in figure_grid(figure, cells)]
    if figure == "figure1":
        return make_sheet(grid, row_labels=["content", "style"],
                          title="Fig. 1: reconstructions from white noise, by layer")
    if figure == "figure2":
        return make_sheet(grid, title="Fig. 2: the photo in the style of each painting")
    return make_sheet(grid, row_labels=[f"{SET_NAMES[i]}: {layer_span(s)}"
                                        for i, s in enumerate(LAYER_SETS)],
                      column_labels=["inputs", *(f"alpha/beta {ratio_label(r)}" for r in ratios)],
                      title="Fig. 3: style layers (rows) by alpha/beta (columns)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 255]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


# Workflows with files --------------------------------------------------------


@dataclass
class FigureRun:
    """The outcome of `run_figure`."""
    sheet: Path
    panels: dict = field(default_factory=dict)  # cell name -> image path
    interrupted: bool = False
    seconds: float = 0.0


def figure_cells(figure: str, config: StyleConfig, n_styles: int = 1, ratios=None,
                 ratio=None) -> list[Cell]:
    """The cells of "figure1", "figure2" or "figure3"."""
    if figure == "figure1":
        return figure1_cells(config)
    if figure == "figure2":
        return figure2_cells(config, n_styles, FIGURE2_RATIO if ratio is None else ratio)
    if figure == "figure3":
        return figure3_cells(config, FIGURE3_RATIOS if ratios is None else ratios)
    raise ConfigError("figure", f"expected figure1, figure2 or figure3, received {figure!r}")


def run_panel(cell: Cell, content, styles, path, inputs: dict, extractor=None, callback=None,
              size=None, digest: str | None = None):
    """Optimise one cell and write its image and run record (with the PSNR of
    a reconstruction, or the style loss reduction of a texture, and the
    panel's settings digest when given, which --resume compares)."""
    from .runs import save_result, status_of

    result = run_cell(cell, content, styles, extractor, callback, size=size)
    extra = {} if digest is None else {"settings_digest": digest}
    if cell.kind == "content":  # how close the reconstruction came to the photo
        extra["psnr_db"] = round(psnr(result.final, content), 2)
    elif cell.kind == "texture" and result.history:
        extra["style_loss_reduction"] = (result.initial["style"]
                                         / max(result.history[-1]["style"], 1e-30))
    save_result(Path(path), result, inputs, status_of(result), **extra)
    return result


def _file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def figure_inputs(figure: str, content, styles, max_pixels=None) -> dict:
    """What every panel of a figure is made from besides its config: the
    photo and paintings (absolute paths and bytes) and the pixel limit."""
    return {"figure": figure, "max_pixels": max_pixels,
            "content": [str(Path(content).absolute()), _file_sha256(content)],
            "styles": [[str(Path(s).absolute()), _file_sha256(s)] for s in styles]}


def panel_digest(cell: Cell, inputs: dict) -> str:
    """A panel's settings: the inputs it is made from (the photo, which also
    sets a texture's size, and its own painting), what the cell is and its
    config: plan.settings_digest, with these and the run length as its
    inputs. Stored in the panel's record; --resume keeps a panel only when
    its record carries the same digest."""
    from ..plan import run_length, settings_digest

    styles = [] if cell.kind == "content" else [inputs["styles"][cell.style_index]]
    return settings_digest(cell.config, {**inputs, "styles": styles,
                                         "panel": [cell.name, cell.kind, cell.style_index],
                                         **run_length(cell.config)})


def finished_panel(path: Path, digest: str):
    """The panel's image when its record says "finished" with this digest,
    else None: missing, unreadable, interrupted, or made with other settings
    (each of those is run again)."""
    from ..io.images import load_image
    from .record import read_record
    from .runs import record_path

    if not path.exists():
        return None
    try:
        record = read_record(record_path(path))
        if not (isinstance(record, dict) and record.get("status") == "finished"
                and record.get("settings_digest") == digest):
            return None
        return load_image(path)
    except TfstyleError:
        return None


def run_figure(figure: str, content, styles, folder, config: StyleConfig, *, ratios=None,
               ratio=None, resume: bool = False, overwrite: bool = False,
               callback=None, max_pixels=None, extractor=None) -> FigureRun:
    """Compute a figure's panels into `folder` and lay out `folder/<figure>.png`.

    content, styles: image paths. resume: keep the panels on disk whose
    records say finished with the same settings (panel_digest); the rest,
    missing, interrupted or made with other settings, are run again.
    callback: hears a `Panel` event (tfstyle.events) as each panel starts,
    finishes or is kept from disk, and between a panel's start and finish
    the events of its run.
    Stops after the panel that was interrupted (Ctrl-C), sheet written.
    """
    from ..io.images import check_readable, load_image, save_image

    styles = [Path(s) for s in styles]
    for path in (content, *styles):
        check_readable(path)
    folder = check_output_folder(folder)
    if figure == "figure3" and ratios is None:
        ratios = FIGURE3_RATIOS
    cells = figure_cells(figure, config, len(styles), ratios, ratio)
    _refuse_existing(folder, cells, resume or overwrite)
    folder.mkdir(exist_ok=True)
    content_image = load_image(content, max_size=config.max_size, max_pixels=max_pixels)
    style_images = [load_image(s, max_size=config.max_size, max_pixels=max_pixels) for s in styles]
    inputs = {"content": str(content), "styles": [str(s) for s in styles], "figure": figure}
    made_from = figure_inputs(figure, content, styles, max_pixels)
    run = FigureRun(sheet=folder / f"{figure}.png")
    images, started = {}, time.perf_counter()
    for index, cell in enumerate(cells):
        path = folder / f"{cell.name}.png"
        run.panels[cell.name] = path
        digest = panel_digest(cell, made_from)
        kept = finished_panel(path, digest) if resume else None
        if kept is not None:
            images[cell.name] = kept
            emit(callback, Panel(index, len(cells), cell, "kept", path=path))
            continue
        if extractor is None:
            extractor = _paper_extractor(config)
        emit(callback, Panel(index, len(cells), cell, "started", path=path))
        result = run_panel(cell, content_image, style_images, path, {**inputs, "panel": cell.name},
                           extractor, callback, digest=digest)
        images[cell.name] = result.image
        emit(callback, Panel(index, len(cells), cell, "finished", result, path))
        if result.stopped:
            run.interrupted = True
            break
    sheet = figure_sheet(figure, cells, images, content_image, style_images, ratios=ratios)
    save_image(run.sheet, sheet)
    run.seconds = time.perf_counter() - started
    return run


def _refuse_existing(folder: Path, cells: list[Cell], allowed: bool):
    """A panel already in the folder needs --resume or --overwrite."""
    existing = [c for c in cells if (folder / f"{c.name}.png").exists()]
    if existing and not allowed:
        raise OutputError(f"{folder / existing[0].name}.png: already exists (use --resume to keep "
                          "finished panels, or --overwrite to recompute them)")


def _paper_extractor(config: StyleConfig):
    """One network with the paper's layers (to conv5_1), shared by every panel."""
    from ..core.extractor import FeatureExtractor

    return FeatureExtractor.for_config(config.replace(
        style_layers=PAPER_STYLE_LAYERS, content_layers=("conv4_2",), alpha=1.0, beta=1.0))
