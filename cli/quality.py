"""`tfstyle quality`: the speckle and strokes numbers of a result
(tfstyle.core.quality), against its paintings and its photo.

    tfstyle quality out.png painting.jpg            # the photo from out.json
    tfstyle quality out.png painting.jpg --photo photo.jpg
    tfstyle quality-bench a.jpg b.jpg --paintings x.jpg,y.jpg -o grid/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from tfstyle.config import StyleConfig
from tfstyle.events import Row

from .app import MaxPixels, Quiet, app, config_options
from .progress import Progress
from .quiet import start_tensorflow


@app.command()
def quality(
    result: Path = typer.Argument(..., help="The stylised image."),
    paintings: List[Path] = typer.Argument(..., help="The painting(s) it was styled after."),
    photo: Path = typer.Option(None, help="The photo; default the one the result's run record "
                                          "(RESULT with .json) names, if any."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
    max_pixels: int = MaxPixels,
):
    """Colour speckle and brush strokes of RESULT beside its sources: band
    energy (x - gaussian(x, 1 px) at 256 px wide) of the result's chroma and
    luminance, over the larger of the painting's and the photo's."""
    from tfstyle.workflows.inputs import measured_image, quality_of

    photo = photo or _recorded_photo(result)
    numbers = quality_of(measured_image(result, max_pixels), paintings, photo, max_pixels)
    if as_json:
        typer.echo(json.dumps({**numbers, "photo": None if photo is None else str(photo)}))
        return
    against = ", ".join(p.name for p in paintings) + (f" and {photo.name}" if photo else
                                                      " (no photo: none recorded or given)")
    typer.echo(f"speckle {numbers['speckle']:.2f}  strokes {numbers['strokes']:.2f}  "
               f"({result.name} against {against})")


def _recorded_photo(result: Path) -> Path | None:
    """The photo a result's run record names, when it is still there."""
    from tfstyle.errors import TfstyleError
    from tfstyle.workflows.record import read_record
    from tfstyle.workflows.runs import record_path

    record = record_path(result)
    if not record.exists():
        return None
    try:
        content = read_record(record).get("inputs", {}).get("content")
    except (TfstyleError, AttributeError):
        return None
    return Path(content) if content and Path(content).exists() else None


@app.command("quality-bench")
@config_options(only=("max_size", "iterations", "beta", "seed", "jit"),
                defaults={"max_size": 256})
def quality_bench(
    photos: List[Path] = typer.Argument(..., help="The photos."),
    paintings: str = typer.Option(..., help="The paintings, comma-separated."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the images and records; "
                                                           "cells in it finished with the same "
                                                           "settings are kept."),
    weights: str = typer.Option("random,procedural", help="Weights sources, comma-separated."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows instead of a table."),
    quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Every photo in every painting's style for each weights source (each
    with its default alpha/beta unless --beta), scored by `tfstyle quality`:
    a table of speckle and strokes, and per source the worst and median
    speckle and the least strokes."""
    from tfstyle.io.images import check_readable
    from tfstyle.workflows.quality_grid import quality_grid, summary

    styles = [Path(p.strip()) for p in paintings.split(",") if p.strip()]
    sources = [w.strip() for w in weights.split(",") if w.strip()]
    for path in [*photos, *styles]:
        check_readable(path)
    for source in sources:
        config.replace(weights=source)  # validates
    start_tensorflow()
    say = Progress(0, quiet=quiet).say

    def report(event):
        if isinstance(event, Row) and not as_json:
            row = event.values
            took = "kept" if row["kept"] else f"{row['seconds']:.0f} s"
            say(f"{row['weights']:<11} {row['photo']:<14} {row['painting']:<14} "
                f"speckle {row['speckle']:6.2f}  strokes {row['strokes']:5.2f}  {took}")

    rows = quality_grid(photos, styles, output, config, weights=sources, callback=report)
    totals = summary(rows)
    if as_json:
        typer.echo(json.dumps({"rows": rows, "summary": totals}))
        return
    for source, numbers in totals.items():
        say(f"{source}: worst speckle {numbers['worst_speckle']:.2f}, median speckle "
            f"{numbers['median_speckle']:.2f}, least strokes {numbers['least_strokes']:.2f} "
            f"({numbers['cells']} cells)")
