"""Runs that leave files behind: the workflow under `tfstyle transfer` and
`tfstyle resume`, usable from a notebook as well.

    run = tfstyle.runs.TransferRun("photo.jpg", ["painting.jpg"], "out.png")
    result = run.run(tfstyle.StyleConfig(weights="random", beta=1e6))

Files beside `out.png`: out.json (the run record), out.loss.png (the loss
plot), out.ckpt.png (a checkpoint, removed when the run finishes) and
out.0100.png (snapshots). Every file goes through `io`, atomically.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import StyleConfig, check_mask_counts
from .errors import ConfigError, ImageError, NonFiniteLossError, OutputError
from .io import (SAVE_SUFFIXES, check_aspect, check_output_folder, check_readable,
                 check_writable, load_image, load_mask, region_masks, save_image, write_json)
from .layers import deepest, min_input_size
from .preprocess import resize_mask
from .quality import quality
from .record import image_metadata, plan_resume, run_record


def companion(output: Path, tag: str, suffix: str = ".png") -> Path:
    """out.png -> out.<tag>.png"""
    output = Path(output)
    return output.with_name(f"{output.stem}.{tag}{suffix}")


def record_path(output: Path) -> Path:
    return Path(output).with_suffix(".json")


def save_result(output: Path, result, inputs: dict, status: str = "finished", **extra) -> dict:
    """The image (settings in its metadata), then its JSON run record beside it."""
    record = run_record(result, inputs, output, status, **extra)
    image = result.final if result.final is not None else result.image
    save_image(output, image, image_metadata(record))
    write_json(record_path(output), record)
    return record


def status_of(result) -> str:
    return "interrupted" if result.interrupted else "finished"


class TransferRun:
    """One transfer to `output`, with its record, snapshots, checkpoints and plot.

    Its `__call__` is the synthesis callback: it keeps the history, writes
    snapshots every `save_every` and checkpoints every `checkpoint_every`
    iterations, then hands the Iterate on to the caller's own callback.
    """

    def __init__(self, content, styles, output, overwrite=False, save_every=0,
                 checkpoint_every=0, plot=True):
        self.output = Path(output).absolute()  # recorded, so resume works from anywhere
        if self.output.suffix.lower() not in SAVE_SUFFIXES:
            raise OutputError(f"{self.output}: unsupported output type "
                              f"{self.output.suffix or '(none)'}; use .png or .jpg")
        # Absolute paths, so `tfstyle resume` works from any folder.
        self.inputs = {"content": Path(content).absolute(),
                       "styles": [Path(s).absolute() for s in styles]}
        sources = [self.inputs["content"], *self.inputs["styles"]]
        for source in sources:
            check_readable(source)
        check_writable(self.output, overwrite, inputs=sources)
        check_writable(record_path(self.output), overwrite=True, inputs=sources)
        for name, value in (("save_every", save_every), ("checkpoint_every", checkpoint_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(name, f"expected a whole number from 0, received {value!r}")
        self.save_every, self.checkpoint_every, self.plot = save_every, checkpoint_every, plot
        self.history: list[dict] = []
        self.extra: dict = {}
        self.config: StyleConfig | None = None
        self.weights = None  # where the extractor's weights came from
        self._forward = None

    # The callback -----------------------------------------------------

    def __call__(self, iterate):
        self.history.append(iterate.record())
        n = iterate.iteration
        if self.save_every and n % self.save_every == 0:
            save_image(companion(self.output, f"{n:04d}"), iterate.image)
        if self.checkpoint_every and n % self.checkpoint_every == 0:
            self.checkpoint(iterate)
        return self._forward(iterate) if self._forward is not None else None

    def checkpoint(self, iterate):
        """The image as it stands and a record that `resume` starts from."""
        from .synthesis import Result

        path = companion(self.output, "ckpt")
        image = iterate.image
        save_image(path, image)
        snapshot = Result(image=np.clip(np.rint(image), 0, 255).astype(np.uint8),
                          history=list(self.history), config=self.config, stop_reason="running",
                          iterations=iterate.iteration, seconds=iterate.seconds,
                          weights=self.weights)
        write_json(record_path(self.output),
                   run_record(snapshot, self.inputs, self.output, "running", **self.extra,
                              checkpoint=str(path)))

    # The run ----------------------------------------------------------

    def run(self, config: StyleConfig, callback=None, max_pixels=None, init_image=None,
            start_iteration: int = 0, extractor=None, on_plan=None, on_tile=None):
        """Load the inputs, stylise, write every file; returns the Result.

        on_plan and on_tile are stylize's: the scales as planned (also kept
        in the record as "schedule"), and the steps of a tiled evaluation.

        Ctrl-C (or any KeyboardInterrupt) ends the run with its best image
        written and `result.interrupted` set. A NaN loss writes the last
        finite image with status "failed" and raises NonFiniteLossError.
        """
        from .extractor import FeatureExtractor
        from .synthesis import stylize

        self.config = config
        longest = max((config.max_size, *config.scales))
        content = load_image(self.inputs["content"], max_size=longest, max_pixels=max_pixels)
        styles = load_styles(self.inputs["styles"], config, max_pixels)
        check_network_size(self.inputs["content"], content, config)
        if init_image is None and config.init_path is not None:
            init_image = load_image(config.init_path, max_pixels=max_pixels)
        config.blend_weights(len(styles))  # a count mismatch fails before the network loads
        masks, style_masks = load_masks(config, content, styles, max_pixels)
        extractor = extractor or FeatureExtractor.for_config(config)
        self.weights = extractor.weights_source
        self._forward = callback

        def planned(plans):
            self.extra["schedule"] = [p.describe() for p in plans]
            if on_plan is not None:
                on_plan(plans)
        try:
            result = stylize(content, styles, config, extractor=extractor, callback=self,
                             init_image=init_image, start_iteration=start_iteration,
                             masks=masks, style_masks=style_masks, on_plan=planned,
                             on_tile=on_tile)
        except NonFiniteLossError as error:
            self.finish(error.result, "failed")
            raise
        # How the result looks beside its sources, so runs can be compared
        # from their records alone.
        self.extra["quality"] = quality_of(result.image, self.inputs["styles"],
                                           self.inputs["content"], max_pixels)
        self.finish(result, status_of(result))
        return result

    def finish(self, result, status):
        """Write the image, then the record and plot; a second ^C must not cut in."""
        with signals_held():
            if self.history:
                result.history = self.history  # includes the iterations before a resume
            save_result(self.output, result, self.inputs, status, **self.extra)
            if self.plot and result.history:
                from .plot import write_loss_plot

                write_loss_plot(companion(self.output, "loss"), result.history)
            checkpoint = companion(self.output, "ckpt")
            if status == "finished" and checkpoint.exists():
                checkpoint.unlink()


@dataclass
class Resume:
    """A run picked up from its record: call `run()` to continue it."""
    run_files: TransferRun
    config: StyleConfig  # for the remaining iterations, at the final size
    init_image: np.ndarray
    start_iteration: int

    def run(self, callback=None, extractor=None):
        return self.run_files.run(self.config, callback=callback, init_image=self.init_image,
                                  start_iteration=self.start_iteration, extractor=extractor)


def resume(record_file, iterations: int, plot: bool = True) -> Resume:
    """Continue an earlier transfer up to `iterations` in all.

    It starts from the checkpoint (or the finished image) at the run's final
    size; L-BFGS starts with an empty curvature history, which the new
    record says (`resumed_from`, `note`).
    """
    plan = plan_resume(record_file, iterations)
    start = Path(plan["checkpoint"] or plan["output"])
    if not start.exists():
        raise OutputError(f"{start}: the run's image is missing; cannot resume")
    files = TransferRun(plan["inputs"]["content"], plan["inputs"]["styles"], plan["output"],
                        overwrite=True, plot=plot)
    files.history = plan["history"]
    done = plan["done"]
    files.extra = {"resumed_from": done,
                   "note": f"L-BFGS restarted its curvature history at iteration {done}"}
    return Resume(files, plan["config"], load_image(start), done)


def paintings(config: StyleConfig, styles=()) -> list[Path]:
    """The style images of a run: `styles`, or those --region-styles names;
    their count checked against the blend weights and masks before anything
    is read."""
    if config.region_styles:
        if styles:
            raise ConfigError("region_styles", "name the paintings in --region-styles, not also "
                                               "as arguments")
        styles = [path for _, path in config.region_colours]
    if not styles:
        raise ConfigError(None, "give one or more paintings after the photo")
    config.blend_weights(len(styles))
    check_mask_counts(len(styles), config.masks, config.style_masks)
    return [Path(s) for s in styles]


def quality_of(image, paintings, photo=None, max_pixels=None) -> dict:
    """tfstyle.quality's numbers for `image` against the painting files and
    the photo file, each read at full size (the measure resizes them)."""
    return quality(image, [load_image(p, max_pixels=max_pixels) for p in paintings],
                   None if photo is None else load_image(photo, max_pixels=max_pixels))


def load_styles(paths, config: StyleConfig, max_pixels=None) -> list[np.ndarray]:
    """The paintings, no larger than the run's largest size times its
    style scale (stylize sizes them for each scale)."""
    longest = max((config.max_size, *config.scales))
    style_size = max(16, int(np.ceil(longest * config.style_scale)))
    return [load_image(s, max_size=style_size, max_pixels=max_pixels) for s in paths]


def load_masks(config: StyleConfig, content, styles, max_pixels=None):
    """The config's mask files as arrays, checked against the images:
    (masks or None, style masks or None)."""
    check_mask_counts(len(styles), config.masks, config.style_masks)
    masks = style_masks = None
    if config.regions is not None:
        masks = region_masks(config.regions, [c for c, _ in config.region_colours], max_pixels)
        check_aspect(config.regions, masks[0].shape, content.shape, "the photo")
    if config.masks is not None:
        masks = []
        for path in config.masks:
            mask = load_mask(path, max_pixels)
            check_aspect(path, mask.shape, content.shape, "the photo")
            masks.append(mask)
    if config.style_masks is not None:
        style_masks = []
        for path, style in zip(config.style_masks, styles):
            if path == "-":
                style_masks.append(None)
                continue
            mask = load_mask(path, max_pixels)
            check_aspect(path, mask.shape, style.shape, "its painting")
            style_masks.append(mask)
    return masks, style_masks


def check_network_size(path, image, config: StyleConfig):
    """Name the file when the photo, as resized, is too small for the network."""
    need = min_input_size(deepest(config.layers))
    height, width = image.shape[:2]
    if min(height, width) < need:
        raise ImageError(f"{path}: {width}x{height} px (as resized) is too small for layer "
                         f"{deepest(config.layers)}, which needs at least {need}x{need} px; images "
                         "are not upscaled")


@contextlib.contextmanager
def signals_held():
    """Ignore SIGINT and SIGTERM while final files are written (only the main
    thread can; a run in a worker thread, as under a web UI, writes as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def masks_figure(content, styles, folder, config: StyleConfig, callback=None,
                 max_pixels=None, extractor=None, overwrite: bool = False):
    """A comparison sheet for spatial control: the photo, each mask, each
    style, the result with masks (`config.masks` or `config.regions`), and
    the plain blend of the same styles without masks.

    Writes `folder/masked.png`, `folder/blended.png` (each with its run
    record) and `folder/figure-masks.png`; returns the sheet's path.
    """
    from .extractor import FeatureExtractor
    from .sheet import make_sheet

    if config.masks is None and config.regions is None:
        raise ConfigError("masks", "figure-masks needs --masks or --regions")
    styles = paintings(config, styles)
    names = ("masked.png", "blended.png", "figure-masks.png")
    folder = check_output_folder(folder, names, overwrite)
    folder.mkdir(exist_ok=True)
    plain = config.replace(masks=None, style_masks=None, regions=None, region_styles=None)
    # Inputs and masks are checked before the network is built.
    runs = {name: TransferRun(content, styles, folder / f"{name}.png", overwrite=overwrite,
                              plot=False) for name in ("masked", "blended")}
    photo = load_image(content, max_size=config.max_size, max_pixels=max_pixels)
    masks, _ = load_masks(config, photo, [load_image(s, max_pixels=max_pixels) for s in styles],
                          max_pixels)
    extractor = extractor or FeatureExtractor.for_config(config)
    results = {}
    for name, run_config in (("masked", config), ("blended", plain)):
        results[name] = runs[name].run(run_config, callback=callback, max_pixels=max_pixels,
                                       extractor=extractor)
        if results[name].interrupted:
            break
    # Each region shown on the photo, dimmed outside it (a white mask would
    # vanish on the sheet's white ground).
    row_inputs = [(photo, "photo")] + [
        (photo * (0.2 + 0.8 * resize_mask(m, photo.shape[:2])[..., None]), f"region {k + 1}")
        for k, m in enumerate(masks)]
    row_styles = [(load_image(s, max_size=config.max_size), f"style {k + 1}")
                  for k, s in enumerate(styles)]
    row_results = [(results[n].image, f"{n}") for n in ("masked", "blended") if n in results]
    sheet = make_sheet([row_inputs, row_styles, row_results],
                       title="Spatial control: guided Grams (masked) against the plain blend")
    path = folder / names[-1]
    save_image(path, sheet)
    return path
