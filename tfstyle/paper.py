"""The paper's experiments as lists of cells: what each panel of Figures 1-3
optimises, and where it sits on the sheet.

A cell is a pure description (no images, no files). `run_cell` performs one;
`figure_sheet` lays finished cells out like the paper's figure. The CLI adds
files and --resume on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import PAPER_STYLE_LAYERS, StyleConfig

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
    config = _with_ratio(config.replace(style_layers=PAPER_STYLE_LAYERS, style_weights=None,
                                        content_layers=("conv4_2",)), ratio)
    return [Cell(f"style{k + 1}", "transfer", 0, k + 1, f"alpha/beta {ratio_label(ratio)}", config,
                 style_index=k) for k in range(n_styles)]


def figure3_cells(config: StyleConfig, ratios=FIGURE3_RATIOS) -> list[Cell]:
    """Rows: style layer sets A-E. Columns: alpha/beta ratios."""
    cells = []
    for r, layers in enumerate(LAYER_SETS):
        for c, ratio in enumerate(ratios):
            cell_config = _with_ratio(config.replace(style_layers=layers, style_weights=None,
                                                     content_layers=("conv4_2",)), ratio)
            cells.append(Cell(f"{SET_NAMES[r]}_{ratio_label(ratio)}", "transfer", r, c + 1,
                              f"{SET_NAMES[r]}, {ratio_label(ratio)}", cell_config))
    return cells


def _with_ratio(config: StyleConfig, ratio: float) -> StyleConfig:
    """alpha/beta = ratio with alpha = 1, as the paper states its ratios."""
    if not ratio > 0:
        raise ValueError(f"alpha/beta must be positive. Received: ratio={ratio!r}")
    return config.replace(alpha=1.0, beta=1.0 / ratio)


def run_cell(cell: Cell, content, styles, extractor=None, callback=None, size=None):
    """Optimise one cell; returns a synthesis.Result. A texture takes `size`,
    else the content's size, else its style image's."""
    from .synthesis import reconstruct_content, stylize, synthesize_texture

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
            grid[1][cell.column] = f"style{cell.style_index}"
    return grid


def figure_sheet(figure: str, cells: list[Cell], images: dict, content, styles, ratios=None):
    """The labelled sheet of a figure; `images` maps cell names to arrays."""
    from .sheet import make_sheet

    by_name = {c.name: c for c in cells}
    panels = {"content": (content, "photo"), "style": (styles[0], "painting"),
              **{f"style{k}": (s, f"style {k + 1}") for k, s in enumerate(styles)}}

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
