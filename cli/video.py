"""`tfstyle video` (tfstyle.workflows.video.stylize_video) and `tfstyle video-bench`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import Interrupted
from tfstyle.workflows.video_settings import FRAME_INITS, VideoSettings  # light: no TF, no cv2

from .app import Engine, MaxPixels, Overwrite, Quiet, RayAddress, app, config_options
from .progress import Progress
from .quiet import start_tensorflow



DEFAULT = VideoSettings()  # each option's default, written once there


@app.command()
@config_options(exclude=("masks", "style_masks", "regions", "region_styles"))
def video(
    source: Path = typer.Argument(..., help="A video (.mp4, .mov, .webm, ...), an animated GIF, "
                                            "or a folder of numbered frames."),
    styles: List[Path] = typer.Argument(..., help="One or more paintings."),
    output: Path = typer.Option(..., "--output", "-o", help="out.mp4 (H.264), out.gif, or a "
                                                             "folder for PNG frames (out/)."),
    temporal_weight: float = typer.Option(DEFAULT.temporal_weight, min=0,
                                          help="Ruder et al.'s gamma: holds each frame to the "
                                               "previous one, warped by the flow; 0 for "
                                               "independent frames."),
    frame_init: str = typer.Option(DEFAULT.frame_init, help="Start of each later frame: "
                                   f"{', '.join(FRAME_INITS)} (warped: the previous result, "
                                   "warped by the flow)."),
    first_frame_iterations: Optional[int] = typer.Option(DEFAULT.first_frame_iterations, min=1, help="Iterations of a "
                                                         "shot's first frame (default --iterations)."),
    frame_iterations: Optional[int] = typer.Option(DEFAULT.frame_iterations, min=1, help="Iterations of each later "
                                                   "frame (default half the first's)."),
    shot_length: int = typer.Option(DEFAULT.shot_length, min=0, help="Split into shots of N frames (0: split only "
                                                   "at detected cuts)."),
    shot_overlap: int = typer.Option(DEFAULT.shot_overlap, min=0, help="Frames a shot starts early, cross-faded in."),
    cut_threshold: float = typer.Option(DEFAULT.cut_threshold, min=0.0,
                                        help="Mean |frame - previous warped| / 255 above which "
                                             "a cut starts a new shot."),
    engine: str = Engine,
    ray_address: Optional[str] = RayAddress,
    cpus_per_shot: float = typer.Option(1.0, help="With --engine ray: CPUs per shot."),
    fps: Optional[float] = typer.Option(None, help="Output frame rate (default the source's)."),
    start: float = typer.Option(0.0, min=0.0, help="Start at this second of the source."),
    duration: Optional[float] = typer.Option(None, help="Seconds to take (default to the end)."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Stylise a video without flicker (Ruder, Dosovitskiy and Brox 2016)."""
    from tfstyle.workflows.video import frames_folder, stylize_video

    settings = VideoSettings(temporal_weight, frame_init, first_frame_iterations,
                             frame_iterations, shot_length, shot_overlap, cut_threshold)
    start_tensorflow()
    progress = Progress(quiet=quiet)
    try:
        record = stylize_video(source, styles, output, config, settings, fps=fps, start=start,
                               duration=duration, overwrite=overwrite, max_pixels=max_pixels,
                               callback=progress, engine=engine,
                               ray_address=ray_address, cpus_per_shot=cpus_per_shot)
    except KeyboardInterrupt:
        raise Interrupted(f"the finished frames are kept in {frames_folder(output)}; run the "
                          "same command again to resume") from None
    finally:
        progress.close()
    error = record["temporal_error"]
    progress.say(f"finished: {record['count']} frames in {record['seconds']:.1f} s, temporal "
                 f"error {'-' if error is None else f'{error:.4g}'} -> {output}")


@app.command("video-bench")
@config_options(only=("weights", "beta", "max_size", "seed"),
                defaults={"weights": "random", "beta": 1e6, "max_size": 256})
def video_bench(
    source: Path = typer.Argument(..., help="A picture to pan and zoom across, or a video."),
    style: Path = typer.Argument(..., help="The painting."),
    frames: int = typer.Option(24, min=2, help="Frames of the pan-and-zoom clip."),
    iterations: int = typer.Option(40, min=1, help="Iterations of every frame, in every run."),
    footprint: bool = typer.Option(False, help="Instead: one run of the default settings, its "
                                               "peak memory and seconds per frame split into "
                                               "set-up and iterations (alone in the process)."),
    config: StyleConfig = None,
):
    """Temporal error and style loss: independent frames against Ruder et al.'s."""
    from rich.console import Console

    from tfstyle.io.images import load_image
    from tfstyle.io.video import VIDEO_SUFFIXES, write_video

    start_tensorflow()
    from tfstyle.bench.speed import pan_zoom_clip, video_flicker, video_footprint, video_report_line

    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="tfstyle-video-bench-") as folder:
        clip = source
        if source.suffix.lower() not in (*VIDEO_SUFFIXES, ".gif") and not source.is_dir():
            clip = Path(folder) / "clip.mp4"
            write_video(clip, pan_zoom_clip(load_image(source), frames, config.max_size), 12)
        if footprint:
            row = video_footprint(clip, style, folder, config, iterations)
            console.print(f"{row['frames']} frames at {row['size'][1]}x{row['size'][0]}, "
                          f"{iterations} iterations a frame: peak RSS {row['peak_rss_mb']:.0f} "
                          f"MB; {row['seconds_per_frame']:.2f} s a frame = "
                          f"{row['setup_per_frame']:.2f} set-up + "
                          f"{row['iterations_per_frame']:.2f} iterations", markup=False)
            return
        rows = video_flicker(clip, style, folder, config, iterations, callback=lambda event:
                             console.print(video_report_line(event.values), style="dim",
                                           markup=False))
    _flicker_table(console, rows, iterations)


def _flicker_table(console, rows, iterations):
    from rich.table import Table

    from tfstyle.bench.speed import VIDEO_HEADINGS, video_table_rows

    table = Table(title=f"tfstyle video-bench: {rows[0]['frames']} frames at "
                        f"{rows[0]['size'][1]}x{rows[0]['size'][0]}, {iterations} iterations "
                        "per frame")
    for heading in VIDEO_HEADINGS:
        table.add_column(heading, justify="right")
    for cells in video_table_rows(rows):  # a missing or zero temporal error reads n/a
        table.add_row(*cells)
    console.print(table)
