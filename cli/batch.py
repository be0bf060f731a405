"""`tfstyle batch`: parse, call tfstyle.workflows.batch, show progress and the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError, Interrupted

from .app import Engine, Quiet, RayAddress, app, config_options
from .quiet import start_tensorflow

EXIT_JOBS_FAILED = 3  # the others ran; batch.json names each failure


@app.command()
@config_options()
def batch(
    jobs: Optional[Path] = typer.Argument(None, help="A manifest: CSV or JSON Lines, one job per "
                                                     "row (content, style, optional id, any "
                                                     "setting as an override)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the jobs' folders, "
                                                             "batch.json and the contact sheet."),
    contents: Optional[str] = typer.Option(None, help="Instead of a manifest: a glob of photos, "
                                                      "each run with every painting of --styles."),
    styles: Optional[str] = typer.Option(None, help="With --contents: a glob of paintings."),
    engine: str = Engine,
    ray_address: Optional[str] = RayAddress,
    cpus_per_job: float = typer.Option(1.0, help="With --engine ray: CPUs each job asks for."),
    gpus_per_job: float = typer.Option(0.0, help="With --engine ray: GPUs each job asks for."),
    max_retries: int = typer.Option(3, min=0, help="With --engine ray: retries of a job whose "
                                                   "worker died (it resumes from its checkpoint)."),
    retry_failed: bool = typer.Option(False, help="Rerun jobs that failed in an earlier run."),
    checkpoint_every: int = typer.Option(10, min=1, help="Checkpoint each job every N iterations, "
                                                         "so a killed batch resumes."),
    quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Run many transfers into OUTDIR/<job id>/, resumable, here or on a Ray cluster."""
    from tfstyle.workflows.batch import ENGINES, run_batch
    from tfstyle.workflows.jobs import cross_product, read_manifest

    if engine not in ENGINES:
        raise ConfigError("engine", f"expected local or ray, received {engine!r}")
    if (jobs is None) == (contents is None):
        raise ConfigError(None, "give a manifest, or --contents with --styles, not both")
    if contents is not None and styles is None:
        raise ConfigError("styles", "--contents needs --styles")
    planned = read_manifest(jobs, config) if jobs else cross_product(contents, styles, config)
    if engine == "local":
        start_tensorflow()
    from .progress import JobsProgress

    with JobsProgress(quiet) as progress:
        record = run_batch(planned, output, config, engine=engine, retry_failed=retry_failed,
                           checkpoint_every=checkpoint_every, callback=progress,
                           ray_address=ray_address, cpus_per_job=cpus_per_job,
                           gpus_per_job=gpus_per_job, max_retries=max_retries)
    progress.table(record)
    if record["interrupted"]:
        raise Interrupted(f"the batch stopped; run the same command again to resume "
                          f"({output / 'batch.json'})")
    if record["summary"]["failed"]:
        raise typer.Exit(EXIT_JOBS_FAILED)
