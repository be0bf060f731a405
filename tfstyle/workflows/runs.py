"""Runs that leave files behind: the workflow under `tfstyle transfer` and
`tfstyle resume`, usable from a notebook as well.

    run = tfstyle.workflows.runs.TransferRun("photo.jpg", ["painting.jpg"], "out.png")
    result = run.run(tfstyle.StyleConfig(weights="random", beta=1e6))

Files beside `out.png`: out.json (the run record), out.loss.png (the loss
plot), out.ckpt.png (a checkpoint, removed when the run finishes) and
out.0100.png (snapshots). Every file goes through `io`, atomically.

`tfstyle resume` continues a run from its record (workflows.resume); the
files a run reads are loaded by workflows.inputs.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import re
import threading
import time
from pathlib import Path

import numpy as np

from .. import faults
from . import stopping
from ..config import StyleConfig
from ..errors import (ConfigError, Interrupted, NonFiniteLossError, OutputError, TfstyleError,
                      one_line)
from ..events import Iterate, Planned
from ..io.images import SAVE_SUFFIXES, check_readable, load_image, save_image
from ..io.files import check_writable, read_json, save_array, write_json
from ..plan import Position, fit_down, plan_run
from ..preprocess import to_uint8
from .inputs import check_network_size, load_masks, load_styles, quality_of
from .record import image_metadata, run_record


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
    """A run stopped short of its plan (Ctrl-C, a signal, its callback's
    False, the page's Stop) is interrupted: its record says where it stood
    and it resumes; only a run that reached its plan's end is finished."""
    return "interrupted" if result.stopped else "finished"


def checkpoint_paths(output: Path, iteration: int = 0) -> tuple[Path, Path]:
    """(the exact float pixels of the checkpoint at `iteration`, which a
    resume continues from, an 8-bit image of them to look at). One pixels
    file per checkpoint: it is written before the record that names it, and
    the older one removed after, so pixels and record always agree."""
    return companion(output, f"ckpt.{iteration:06d}", ".npy"), companion(output, "ckpt")


def drop_checkpoints(output: Path, keep: Path | None = None, preview: bool = False):
    """Remove the checkpoint pixels files of `output` but `keep` (and the
    preview image, with preview)."""
    output = Path(output)
    mine = re.compile(re.escape(output.stem) + r"\.ckpt\.\d{6,}\.npy")  # not a.ckpt.ckpt...
    for path in output.parent.glob(glob.escape(output.stem) + ".ckpt.*.npy"):
        if path != keep and mine.fullmatch(path.name):
            path.unlink(missing_ok=True)
    if preview:
        checkpoint_paths(output)[1].unlink(missing_ok=True)


# How often device pixels (lbfgs-device) are copied to the host for a stop
# that cannot wait for the device; scipy's and Adam's are host pixels always.
HOST_COPY_SECONDS = 10.0


class TransferRun:
    """One transfer to `output`, with its record, snapshots, checkpoints and plot.

    Its `__call__` is the synthesis callback: it keeps the history, writes
    snapshots every `save_every` iterations and checkpoints every
    `checkpoint_every` iterations, every `checkpoint_seconds` and at the end
    of every scale but the last, and hands every event on to the caller's
    own callback. A checkpoint is the optimised pixels as float32 (so a
    resume continues from exactly there) and a record that says where in
    the run plan it stands.
    """

    def __init__(self, content, styles, output, overwrite=False, save_every=0,
                 checkpoint_every=0, plot=True, checkpoint_seconds: float = 60.0):
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
        if not isinstance(checkpoint_seconds, (int, float)) or not checkpoint_seconds >= 0:
            raise ConfigError("checkpoint_seconds", f"expected a number from 0, received "
                                                    f"{checkpoint_seconds!r}")
        self.save_every, self.checkpoint_every, self.plot = save_every, checkpoint_every, plot
        self.checkpoint_seconds = float(checkpoint_seconds)
        self.history: list[dict] = []
        self.extra: dict = {}
        self.config: StyleConfig | None = None
        self.plan = None
        self.weights = None  # where the extractor's weights came from
        self._forward = None
        self._latest = None  # (Iterate, its pixels): what an emergency save writes
        # The last iterate whose pixels are on the host: what the main thread
        # writes when the worker is stuck (a device copy would wait behind
        # the very op it is stuck in).
        self._latest_host = None
        self._host_copied = 0.0
        self._last_checkpoint = time.monotonic()
        self._writing = threading.Lock()  # one writer of the final files at a time
        self._final = False  # the final image and record are written

    # The callback -----------------------------------------------------

    def __call__(self, event):
        """Every event of the run goes on to the caller's callback; an
        Iterate is kept and checkpointed first, the plan noted."""
        if isinstance(event, Iterate):
            return self._iterate(event)
        if isinstance(event, Planned):
            self._planned(event)
        return self._forward(event) if self._forward is not None else None

    def _planned(self, event: Planned):
        """Each scale with its tiles and memory, for the record too."""
        self.extra["schedule"] = [s.describe() for s in event.scales]
        # The optimiser the memory plan chose is part of the plan: a resume
        # under another budget must not switch it.
        self.plan = event.plan

    def _iterate(self, iterate):
        self.history.append(iterate.record())
        point = iterate.point  # a tensor stays on its device: tensors are immutable,
        # but scipy's array is its working buffer, so that is copied (as float32)
        if isinstance(point, np.ndarray):
            self._latest = self._latest_host = (iterate, point.astype(np.float32))
        else:
            self._latest = (iterate, point)
            if time.monotonic() - self._host_copied >= HOST_COPY_SECONDS:
                self._latest_host = (iterate, np.asarray(point, np.float32))
                self._host_copied = time.monotonic()
        n = iterate.iteration
        if self.save_every and n % self.save_every == 0:
            save_image(companion(self.output, f"{n:04d}"), iterate.image)
        if self._checkpoint_due(iterate):
            self.checkpoint(iterate)
        return self._forward(iterate) if self._forward is not None else None

    def _checkpoint_due(self, iterate) -> bool:
        if not (self.checkpoint_every or self.checkpoint_seconds):
            return False
        scale_end = (iterate.done_in_scale == iterate.scale_iterations
                     and self.plan is not None and iterate.scale < len(self.plan.scales) - 1)
        every = self.checkpoint_every and iterate.iteration % self.checkpoint_every == 0
        late = self.checkpoint_seconds and \
            time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
        return bool(scale_end or every or late)

    def checkpoint(self, iterate):
        """The pixels as they stand and a record that `resume` starts from."""
        snapshot = self._snapshot(iterate, None, "running", Position(iterate.scale,
                                                                  iterate.done_in_scale))
        self._latest_host = (iterate, snapshot.point)
        self._write_checkpoint(snapshot, "running")
        self._last_checkpoint = time.monotonic()
        faults.reached("checkpoint")

    def _snapshot(self, iterate, x, status, position):
        from ..core.synthesis import Result

        x = np.asarray(iterate.x if x is None else x, np.float32)
        image = iterate.render(x)
        history = [h for h in self.history if h["iteration"] <= iterate.iteration]
        return Result(image=to_uint8(image), history=history, config=self.config,
                      stop_reason=status, iterations=iterate.iteration, seconds=iterate.seconds,
                      weights=self.weights, final=image, plan=self.plan, position=position,
                      point=np.asarray(x, np.float32))

    def _write_checkpoint(self, result, status, preview=True, **extra):
        """The pixels, the image to look at, then the record that names them;
        the older pixels go last."""
        exact, image = checkpoint_paths(self.output, result.iterations)
        save_array(exact, result.point)
        if preview:
            save_image(image, result.final, fast=True)
        else:  # the output, just written from the same pixels, is the image to look at
            image = self.output
        write_json(record_path(self.output),
                   run_record(result, self.inputs, self.output, status, **self._extra(), **extra,
                              checkpoint=str(exact), checkpoint_image=str(image)))
        drop_checkpoints(self.output, keep=exact, preview=not preview)

    def _extra(self) -> dict:
        """What the records add to run_record's: the caller's extras, and how
        this run checkpoints, so that its resume checkpoints alike."""
        return {**self.extra, "checkpoints": {"every": self.checkpoint_every,
                                              "seconds": self.checkpoint_seconds,
                                              "snapshots_every": self.save_every}}

    def emergency_save(self, status: str = "interrupted", error: str | None = None,
                       host_only: bool = False) -> str | None:
        """Write the last iterate heard as the run's image, checkpoint and
        record, from any thread: for a stop that cannot wait for the
        optimiser (a signal while TensorFlow computes; host_only, as the
        device may be busy), or an error that is not tfstyle's. Returns
        "written", "final" (the final files are there already) or None (no
        iterate heard yet)."""
        latest = self._latest_host if host_only else self._latest
        if self._final:
            return "final"
        if latest is None or not self._writing.acquire(timeout=5):
            return None
        try:
            if self._final:
                return "final"
            iterate, x = latest
            snapshot = self._snapshot(iterate, x, status,
                                      Position(iterate.scale, iterate.done_in_scale))
            extra = {"error": error} if error else {}
            try:
                save_image(self.output, snapshot.final, image_metadata(
                    run_record(snapshot, self.inputs, self.output, status, **self._extra())),
                    fast=True)
                self._write_checkpoint(snapshot, status, preview=False, **extra)
            except OutputError:  # a full disk: the last checkpoint's record says it
                self._mark(status, error)
                raise
            return "written"
        finally:
            self._writing.release()

    def _mark(self, status, error):
        """Set the status (and error) of the record on disk, which names the
        last pixels file written whole."""
        with contextlib.suppress(TfstyleError):
            record = read_json(record_path(self.output))
            if record.get("settings_digest") != self.plan.digest:
                return  # another run's record: not this run's to mark
            write_json(record_path(self.output), {**record, "status": status,
                                                  **({"error": error} if error else {})})

    # The run ----------------------------------------------------------

    def run(self, config: StyleConfig, callback=None, max_pixels=None, init_image=None,
            start_iteration: int = 0, extractor=None, plan=None, start=None, total=None):
        """Load the inputs, stylise, write every file; returns the Result.

        callback hears every event of the run (tfstyle.events), as stylize's
        does; the scales as planned are also kept in the record as
        "schedule". plan, start and total continue an earlier run (see workflows.resume).

        Ctrl-C (or any KeyboardInterrupt), at any moment, ends the run with
        its best image written and `result.interrupted` set. A NaN loss
        writes the last finite image with status "failed" and raises
        NonFiniteLossError; any other error writes the last iterate as
        "failed", with the error in the record, and is raised again.
        """
        from ..core.extractor import FeatureExtractor
        from ..core.synthesis import stylize

        config = config.with_absolute_paths()
        self.config = config
        content, styles, init_image, masks, style_masks = self._load(config, max_pixels,
                                                                     init_image)
        extractor = extractor or FeatureExtractor.for_config(config)
        self.weights = extractor.weights_source
        self.plan = plan or plan_run(config, fit_down(content.shape, config.max_size),
                                     digest_inputs(self.inputs))
        self._forward = callback
        self._last_checkpoint, self._final = time.monotonic(), False
        try:
            with stopping.saver(functools.partial(self.emergency_save, host_only=True)):
                result = stylize(content, styles, config, extractor=extractor, callback=self,
                                 init_image=init_image, start_iteration=start_iteration,
                                 masks=masks, style_masks=style_masks, plan=self.plan,
                                 start=start, total=total)
                self.finish(result, status_of(result))
        except NonFiniteLossError as error:
            self.finish(error.result, "failed")
            raise
        except (KeyboardInterrupt, Interrupted):  # a stop outside the drivers' own handlers
            with stopping.held(), contextlib.suppress(Exception):  # the stop stays the news
                self.emergency_save("interrupted")
            raise
        except Exception as error:
            with stopping.held(), contextlib.suppress(Exception):  # so does the first error
                self.emergency_save("failed", one_line(error))
            raise
        return result

    def _load(self, config, max_pixels, init_image):
        longest = max((config.max_size, *config.scales))
        content = load_image(self.inputs["content"], max_size=longest, max_pixels=max_pixels)
        styles = load_styles(self.inputs["styles"], config, max_pixels)
        check_network_size(self.inputs["content"], content, config)
        if init_image is None and config.init_path is not None:
            init_image = load_image(config.init_path, max_pixels=max_pixels)
        config.blend_weights(len(styles))  # a count mismatch fails before the network loads
        masks, style_masks = load_masks(config, content, styles, max_pixels)
        return content, styles, init_image, masks, style_masks

    def finish(self, result, status):
        """Write the image, then the record and plot, then (optional, never
        in the way of the result) the quality numbers."""
        with self._writing, stopping.held():
            faults.reached("write")
            if self.history:
                result.history = self.history  # includes the iterations before a resume
            extra, exact = self._extra(), None
            if status != "finished":  # the exact pixels, so a resume continues from here
                exact = checkpoint_paths(self.output, result.iterations)[0]
                save_array(exact, result.point)
                extra["checkpoint"] = str(exact)
            record = save_result(self.output, result, self.inputs, status, **extra)
            self._final = True
            drop_checkpoints(self.output, keep=exact, preview=status == "finished")
        self._plot(result)
        self._measure(result, record)

    def _plot(self, result):
        if self.plot and result.history:
            from ..io.plot import write_loss_plot

            with contextlib.suppress(OSError, OutputError):
                write_loss_plot(companion(self.output, "loss"), result.history)

    def _measure(self, result, record):
        """How the look compares with its sources, so runs can be compared
        from their records alone. After the result is on disk: an error here
        is noted in the record, and an interrupt leaves the record as it is."""
        faults.reached("quality")
        try:
            record["quality"] = quality_of(result.image, self.inputs["styles"],
                                           self.inputs["content"])
        except Exception as error:  # the result stands without its numbers
            record["quality"] = {"error": one_line(error)}
        self.extra["quality"] = record["quality"]  # for callers that read the run's extras
        with stopping.held():
            write_json(record_path(self.output), record)


def digest_inputs(inputs: dict) -> dict:
    """A run's files as its settings digest takes them."""
    return {"content": str(inputs["content"]), "styles": [str(s) for s in inputs["styles"]]}
