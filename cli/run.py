"""One CLI run of `transfer` or `resume`: load inputs, show progress, write the
image, its run record, checkpoints and the loss plot, and map the way the run
ended to an exit code.

Files beside `-o out.png`: out.json (run record), out.loss.png (loss plot),
out.ckpt.png (checkpoint), out.0100.png (--save-every).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import numpy as np

from tfstyle.errors import ConfigError, ImageError, NonFiniteLossError, OutputError
from tfstyle.io import (SAVE_SUFFIXES, check_readable, check_writable, load_image, read_json,
                        save_image, to_uint8, write_json)

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so the run keeps its best image."""


# The last signal that interrupted a run, to choose the exit code.
received: dict = {"signal": None}


def on_sigterm(signum, frame):
    received["signal"] = signal.SIGTERM
    raise Terminated()


def start_library():
    """Import TensorFlow quietly, then the parts of tfstyle that need it."""
    from .quiet import start_tensorflow

    start_tensorflow()


def save_result(output: Path, result, inputs: dict, status: str = "finished", **extra) -> dict:
    """The image (settings in its metadata), then its JSON run record beside it."""
    from tfstyle.record import image_metadata, run_record

    record = run_record(result, inputs, output, status, **extra)
    image = result.final if result.final is not None else result.image
    save_image(output, image, image_metadata(record))
    write_json(Path(output).with_suffix(".json"), record)
    return record


def companion(output: Path, tag: str, suffix: str = ".png") -> Path:
    """out.png -> out.<tag>.png"""
    return output.with_name(f"{output.stem}.{tag}{suffix}")


class RunWriter:
    """The callback of a CLI run, and the files it leaves behind."""

    def __init__(self, output, inputs: dict, overwrite=False, save_every=0, checkpoint_every=0,
                 plot=True, quiet=False):
        self.output = Path(output).absolute()  # recorded, so resume works from anywhere
        if self.output.suffix.lower() not in SAVE_SUFFIXES:
            raise OutputError(f"{self.output}: unsupported output type "
                              f"{self.output.suffix or '(none)'}; use .png or .jpg")
        self.inputs = inputs
        sources = [inputs.get("content"), *inputs.get("styles", [])]
        for source in sources:
            check_readable(source)
        check_writable(self.output, overwrite, inputs=sources)
        self.record_path = self.output.with_suffix(".json")
        check_writable(self.record_path, overwrite=True, inputs=sources)
        self.save_every, self.checkpoint_every = save_every, checkpoint_every
        self.plot, self.quiet = plot, quiet
        self.history: list[dict] = []
        self.extra: dict = {}
        self.config = None
        self.progress = None
        self.weights = None  # where the extractor's weights came from

    # The callback -----------------------------------------------------

    def __call__(self, iterate):
        self.history.append(iterate.record())
        if self.progress is not None:
            self.progress.update(iterate)
        n = iterate.iteration
        if self.save_every and n % self.save_every == 0:
            save_image(companion(self.output, f"{n:04d}"), iterate.image)
        if self.checkpoint_every and n % self.checkpoint_every == 0:
            self._checkpoint(iterate)

    def _checkpoint(self, iterate):
        path = companion(self.output, "ckpt")
        save_image(path, iterate.image)
        from tfstyle.synthesis import Result

        snapshot = Result(image=to_uint8(iterate.image), history=list(self.history),
                          config=self.config, stop_reason="running", iterations=iterate.iteration,
                          seconds=iterate.seconds, weights=self.weights)
        self._write_record(snapshot, "running", checkpoint=str(path))

    # Runs -------------------------------------------------------------

    def transfer(self, config, max_pixels=None, init_image=None, start_iteration=0) -> int:
        start_library()
        from tfstyle.extractor import FeatureExtractor
        from tfstyle.synthesis import stylize

        self.config = config
        longest = max((config.max_size, *config.scales))
        content = load_image(self.inputs["content"], max_size=longest, max_pixels=max_pixels)
        style_size = max(16, int(np.ceil(longest * config.style_scale)))
        styles = [load_image(s, max_size=style_size, max_pixels=max_pixels)
                  for s in self.inputs["styles"]]
        _check_network_size(self.inputs["content"], content, config)
        if config.init not in ("content", "noise", "style") and init_image is None:
            init_image = load_image(config.init, max_pixels=max_pixels)
        extractor = FeatureExtractor.for_config(config)
        self.weights = extractor.weights_source
        self.progress = Progress(config, quiet=self.quiet, offset=len(self.history))
        received["signal"] = None
        with self.progress:
            try:
                result = stylize(content, styles, config, extractor=extractor, callback=self,
                                 init_image=init_image, start_iteration=start_iteration)
            except NonFiniteLossError as error:
                self._finish(error.result, "failed")
                raise
        self._finish(result, "interrupted" if result.interrupted else "finished")
        if result.interrupted:
            terminated = received["signal"] == signal.SIGTERM
            # Said even with --quiet: the user should know where the work went.
            sys.stderr.write(f"tfstyle: {'terminated' if terminated else 'interrupted'} after "
                             f"{result.iterations} iterations; the best image so far is in "
                             f"{self.output}\n")
            return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        return 0

    def _finish(self, result, status):
        """Write the image, then the record and plot; a second ^C must not cut in."""
        with _signals_held():
            if self.history:
                result.history = self.history  # includes the iterations before a resume
            save_result(self.output, result, self.inputs, status, **self.extra)
            if self.plot and result.history:
                from tfstyle.plot import write_loss_plot

                write_loss_plot(companion(self.output, "loss"), self.history or result.history)
            checkpoint = companion(self.output, "ckpt")
            if status == "finished" and checkpoint.exists():
                checkpoint.unlink()
        if status == "finished":
            self.progress.say(f"finished: {result.iterations} iterations in "
                              f"{result.seconds:.1f} s -> {self.output}")

    def _write_record(self, result, status, **extra):
        from tfstyle.record import run_record

        record = run_record(result, self.inputs, self.output, status, **self.extra, **extra)
        write_json(self.record_path, record)
        return record

    @classmethod
    def resume(cls, record_path: Path, iterations: int, quiet=False) -> int:
        from tfstyle.config import StyleConfig

        record = read_json(record_path)
        try:
            config = StyleConfig.from_dict(record["config"])
            inputs = {"content": Path(record["inputs"]["content"]),
                      "styles": [Path(p) for p in record["inputs"]["styles"]]}
            output, done = Path(record["output"]), int(record["iterations"])
        except (KeyError, TypeError, ValueError):
            raise OutputError(f"{record_path}: not a tfstyle run record") from None
        if iterations <= done:
            raise ConfigError("iterations", f"the run already has {done} iterations; "
                                            f"ask for more than that")
        start = Path(record.get("checkpoint") or output)
        if not start.exists():
            raise OutputError(f"{start}: the run's image is missing; cannot resume")
        writer = cls(output, inputs, overwrite=True, quiet=quiet)
        writer.history = list(record.get("history", []))
        # A resumed run is one scale at the final size; L-BFGS starts with an
        # empty curvature history here, which the record says.
        final = max(record.get("size") or [config.max_size])
        config = config.replace(iterations=iterations - done, scales=(), scale_iterations=None,
                                max_size=final, init="content")
        writer.extra = {"resumed_from": done,
                        "note": f"L-BFGS restarted its curvature history at iteration {done}"}
        init = load_image(start)
        return writer.transfer(config, init_image=init, start_iteration=done)


def _check_network_size(path, image, config):
    """Name the file when the photo, as resized, is too small for the network."""
    from tfstyle.layers import deepest, min_input_size

    need = min_input_size(deepest(config.layers))
    height, width = image.shape[:2]
    if min(height, width) < need:
        raise ImageError(f"{path}: {width}x{height} px (as resized) is too small for layer "
                         f"{deepest(config.layers)}, which needs at least {need}x{need} px; images "
                         "are not upscaled")


@contextlib.contextmanager
def _signals_held():
    """Ignore SIGINT and SIGTERM while final files are written."""
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


class Progress:
    """A rich progress bar on stderr: iteration, losses and seconds per iteration."""

    def __init__(self, config, quiet=False, offset=0):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self.total = offset + config.iterations
        self.offset = offset
        self._bar = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                       TimeRemainingColumn)

            self._bar = Bar(TextColumn("[bold]tfstyle"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss {task.fields[loss]}"),
                            TextColumn("content {task.fields[content]}"),
                            TextColumn("style {task.fields[style]}"),
                            TextColumn("{task.fields[rate]} s/it"), TimeRemainingColumn(),
                            console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("run", total=self.total, completed=self.offset,
                                            loss="-", content="-", style="-", rate="-")
        return self

    def __exit__(self, kind, value, traceback):
        if self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
        return False

    def update(self, iterate):
        if self._bar is None:
            return
        done = iterate.iteration - self.offset
        rate = iterate.seconds / done if done else 0.0
        self._bar.update(self._task, completed=iterate.iteration, loss=f"{iterate.total:.4g}",
                         content=f"{iterate.content:.3g}", style=f"{iterate.style:.3g}",
                         rate=f"{rate:.2f}")

    def say(self, text):
        if not self.quiet:
            self.console.print(text)
