"""`tfstyle transfer` and `tfstyle resume`: parse, call tfstyle.runs, show progress."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import Interrupted

from .app import MaxPixels, Output, Overwrite, Quiet, app, config_options
from .progress import Progress
from .quiet import start_tensorflow


@app.command()
@config_options()
def transfer(
    content: Path = typer.Argument(..., help="The photo."),
    styles: Optional[List[Path]] = typer.Argument(None, help="One or more paintings (or --region-styles)."),
    output: Path = Output,
    save_every: int = typer.Option(0, min=0, help="Write the current image every N iterations."),
    checkpoint_every: int = typer.Option(0, min=0, help="Checkpoint image and record every N iterations, for `tfstyle resume`."),
    plot: bool = typer.Option(True, help="Write a loss plot beside the output."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Render CONTENT in the style of STYLES (Gatys et al. 2015, Fig. 2)."""
    from tfstyle.runs import TransferRun, paintings

    run = TransferRun(content, paintings(config, styles), output, overwrite=overwrite, save_every=save_every,
                      checkpoint_every=checkpoint_every, plot=plot)
    start_tensorflow()
    progress = Progress(config.iterations, quiet=quiet)
    with progress:
        result = run.run(config, callback=progress, max_pixels=max_pixels,
                         on_plan=progress.plan, on_tile=progress.tile)
    _finished(progress, result, run.output)


@app.command()
def resume(
    record: Path = typer.Argument(..., help="The run record (OUT.json) of an earlier run."),
    iterations: int = typer.Option(..., help="Total iterations to reach, counting those done."),
    quiet: bool = Quiet,
):
    """Continue an interrupted or finished `transfer` run up to --iterations."""
    from tfstyle.runs import resume as plan

    picked_up = plan(record, iterations)
    start_tensorflow()
    progress = Progress(picked_up.config.iterations, quiet=quiet,
                        offset=picked_up.start_iteration)
    with progress:
        result = picked_up.run(callback=progress)
    _finished(progress, result, picked_up.run_files.output)


def _finished(progress, result, output):
    if result.interrupted:
        raise Interrupted(f"after {result.iterations} iterations; the best image so far is "
                          f"in {output}")
    progress.say(f"finished: {result.iterations} iterations in {result.seconds:.1f} s -> {output}")
