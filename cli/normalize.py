"""`tfstyle normalize`: a network's channel scales from your own images."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import OutputError

from .app import Overwrite, Quiet, app, config_options
from .progress import Progress
from .quiet import start_tensorflow


@app.command()
@config_options(only=("weights", "pooling", "seed"))
def normalize(
    images: List[Path] = typer.Argument(..., help="The images, e.g. a sample of ImageNet."),
    output: Path = typer.Option(..., "--output", "-o", help="The scales file (.npz)."),
    size: int = typer.Option(224, min=16, help="Longest side each image is read at, px."),
    overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Channel scales of the network over IMAGES, for --normalize FILE: the
    paper's normalised VGG19 when the images are ImageNet's."""
    from tfstyle.io.images import check_readable

    if output.suffix != ".npz":
        raise OutputError(f"{output}: the scales file must end in .npz")
    if output.exists() and not overwrite:
        raise OutputError(f"{output}: exists (use --overwrite)")
    if not output.parent.is_dir():
        raise OutputError(f"{output.parent}: output folder does not exist")
    for path in images:
        check_readable(path)
    start_tensorflow()
    from tfstyle.workflows.normalize import normalize_images

    say = Progress(0, quiet=quiet).say
    meta = normalize_images(images, config, output, size=size)
    say(f"wrote {output}: {config.weights} ({meta['weights']}) scales over "
        f"{meta['images']} images at {size} px")
