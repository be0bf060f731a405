"""`tfstyle transfer` and `tfstyle resume`: parse, call tfstyle.workflows.runs, show progress."""

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
    checkpoint_every: int = typer.Option(0, min=0, help="Also checkpoint every N iterations."),
    checkpoint_seconds: float = typer.Option(
        60.0, min=0, help="Checkpoint (the exact pixels and a record, for `tfstyle resume`) every "
                          "N seconds and at the end of every scale; 0 never."),
    plot: bool = typer.Option(True, help="Write a loss plot beside the output."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Render CONTENT in the style of STYLES (Gatys et al. 2015, Fig. 2)."""
    from tfstyle.workflows.inputs import paintings
    from tfstyle.workflows.runs import TransferRun

    run = TransferRun(content, paintings(config, styles), output, overwrite=overwrite,
                      save_every=save_every, checkpoint_every=checkpoint_every,
                      checkpoint_seconds=checkpoint_seconds, plot=plot)
    start_tensorflow()
    progress = Progress(config.iterations, quiet=quiet)
    with progress:
        result = run.run(config, callback=progress, max_pixels=max_pixels)
    _finished(progress, result, run.output)


@app.command()
def resume(
    record: Path = typer.Argument(..., help="The run record (OUT.json) of an earlier run."),
    iterations: Optional[int] = typer.Option(
        None, help="Total iterations to reach, counting those done; default the run plan's "
                   "(more go to the final scale)."),
    quiet: bool = Quiet,
):
    """Continue an interrupted or finished `transfer` run: the rest of its plan,
    from its last checkpoint, ending at the planned final size."""
    from tfstyle.workflows.resume import resume as plan

    picked_up = plan(record, iterations)
    start_tensorflow()
    progress = Progress(picked_up.total - picked_up.start_iteration, quiet=quiet,
                        offset=picked_up.start_iteration)
    with progress:
        result = picked_up.run(callback=progress)
    _finished(progress, result, picked_up.run_files.output)


def _finished(progress, result, output):
    if result.interrupted:
        raise Interrupted(f"after {result.iterations} iterations; the best image so far is "
                          f"in {output}")
    progress.say(f"finished: {result.iterations} iterations in {result.seconds:.1f} s -> {output}")
