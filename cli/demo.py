"""`tfstyle demo`: stylise the built-in drawings (tfstyle.workflows.demo.run_demo)."""

from __future__ import annotations

from pathlib import Path

import typer

from tfstyle.errors import Interrupted

from .app import Overwrite, Quiet, app
from .progress import Progress
from .quiet import start_tensorflow


@app.command()
def demo(
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the demo images."),
    max_size: int = typer.Option(192, "--max-size", "--size", help="Longest side, px."),
    iterations: int = typer.Option(200, help="L-BFGS iterations."),
    weights: str = typer.Option("imagenet", help="Falls back to procedural when imagenet is unavailable."),
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Stylise built-in drawings; needs no network and no input files."""
    from tfstyle.config import StyleConfig
    from tfstyle.workflows.demo import run_demo

    StyleConfig(max_size=max_size, iterations=iterations, weights=weights)  # validates
    start_tensorflow()
    progress = Progress(iterations, quiet=quiet)
    with progress:
        result = run_demo(output, size=max_size, iterations=iterations, weights=weights,
                          overwrite=overwrite, callback=progress)
    if result.interrupted:
        raise Interrupted(f"after {result.iterations} iterations; the best image so far is "
                          f"in {Path(output) / 'result.png'}")
