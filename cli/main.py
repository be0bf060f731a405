"""The `tfstyle` command line: turns arguments into a StyleConfig and calls
the library. Every default is read from StyleConfig.

    tfstyle transfer photo.jpg painting.jpg -o out.png --weights random
    tfstyle demo -o demo/
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path
from typing import List, Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError, TfstyleError
from tfstyle.io import DEFAULT_MAX_PIXELS

from .run import RunWriter, on_sigterm, received

D = StyleConfig()  # the one source of defaults

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural style transfer after Gatys, Ecker and Bethge (2015).")


def _csv(values) -> str:
    return ",".join(str(v) for v in values)


def _floats(option: str, text: str | None):
    if text is None or text == "":
        return None
    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ConfigError(option, f"expected comma-separated numbers, received {text!r}") from None


def _ints(option: str, text: str | None):
    if text is None or text == "":
        return ()
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ConfigError(option, f"expected comma-separated whole numbers, received {text!r}") from None


# Options shared by every command that optimises an image. Each default is
# StyleConfig's; the help text names the paper's symbol where there is one.
ContentLayers = typer.Option(_csv(D.content_layers), help="Content layers (paper names), comma-separated.")
StyleLayers = typer.Option(_csv(D.style_layers), help="Style layers, comma-separated.")
ContentWeights = typer.Option(None, help="Weight per content layer; default 1/len.")
StyleWeights = typer.Option(None, help="Weight per style layer (w_l); default 1/len.")
Alpha = typer.Option(D.alpha, help="Content weight alpha.")
Beta = typer.Option(D.beta, help="Style weight beta; alpha/beta = 1e-3 by default, as in Fig. 2.")
TvWeight = typer.Option(D.tv_weight, help="Total variation weight (off in the paper).")
Pooling = typer.Option(D.pooling, help="avg (the paper) or max.")
Normalize = typer.Option(D.normalize, help="Divide features by their channel means (the paper's rescaled VGG).")
Weights = typer.Option(D.weights, help="imagenet (downloads once), random (offline), or a weights file / exported SavedModel.")
Init = typer.Option(D.init, help="content, noise, style, or an image path.")
Iterations = typer.Option(D.iterations, help="Optimiser iterations (in total across --scales).")
MaxSize = typer.Option(D.max_size, help="Longest side of the output, px.")
Seed = typer.Option(D.seed, help="Seed for noise and random weights.")
Optimizer = typer.Option(D.optimizer, help="lbfgs (scipy L-BFGS-B) or adam.")
LearningRate = typer.Option(D.learning_rate, help="Adam step size, in pixel units.")
StyleScale = typer.Option(D.style_scale, help="Style image size relative to the output (brush-stroke size).")
StyleBlend = typer.Option(None, help="Blend weights, one per style image, e.g. 0.7,0.3.")
PreserveColor = typer.Option(None, help="Keep the content's colours: luminance or histogram.")
Scales = typer.Option(None, help="Coarse-to-fine sizes, e.g. 256,512.")
ScaleIterations = typer.Option(None, help="Iterations per scale, e.g. 200,100.")
Jit = typer.Option(D.jit, help="Compile the objective with XLA.")
Precision = typer.Option(D.precision, help="float32, mixed_float16 or mixed_bfloat16 for the conv stack.")
MaxPixels = typer.Option(DEFAULT_MAX_PIXELS, help="Refuse input images with more pixels than this.")
Overwrite = typer.Option(False, help="Replace an existing output.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def build_config(**options) -> StyleConfig:
    """StyleConfig from CLI values; comma lists are parsed here."""
    for name in ("content_layers", "style_layers"):
        if isinstance(options.get(name), str):
            options[name] = tuple(p.strip() for p in options[name].split(",") if p.strip())
    for name in ("content_weights", "style_weights", "style_blend"):
        if name in options:
            options[name] = _floats(name, options[name])
    for name in ("scales",):
        if name in options:
            options[name] = _ints(name, options[name])
    if "scale_iterations" in options:
        options["scale_iterations"] = _ints("scale_iterations", options["scale_iterations"]) or None
    return StyleConfig(**options)


@app.command()
def transfer(
    content: Path = typer.Argument(..., help="The photo."),
    styles: List[Path] = typer.Argument(..., help="One or more paintings."),
    output: Path = typer.Option(..., "--output", "-o", help="Output image (.png or .jpg)."),
    content_layers: str = ContentLayers, style_layers: str = StyleLayers,
    content_weights: Optional[str] = ContentWeights, style_weights: Optional[str] = StyleWeights,
    alpha: float = Alpha, beta: float = Beta, tv_weight: float = TvWeight,
    pooling: str = Pooling, normalize: bool = Normalize, weights: str = Weights,
    init: str = Init, iterations: int = Iterations, max_size: int = MaxSize, seed: int = Seed,
    optimizer: str = Optimizer, learning_rate: float = LearningRate,
    style_scale: float = StyleScale, style_blend: Optional[str] = StyleBlend,
    preserve_color: Optional[str] = PreserveColor, scales: Optional[str] = Scales,
    scale_iterations: Optional[str] = ScaleIterations, jit: bool = Jit, precision: str = Precision,
    save_every: int = typer.Option(0, help="Write the current image every N iterations."),
    checkpoint_every: int = typer.Option(0, help="Checkpoint image and record every N iterations, for `tfstyle resume`."),
    plot: bool = typer.Option(True, help="Write a loss plot beside the output."),
    max_pixels: int = MaxPixels, overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Render CONTENT in the style of STYLES (Gatys et al. 2015, Fig. 2)."""
    config = build_config(
        content_layers=content_layers, style_layers=style_layers, content_weights=content_weights,
        style_weights=style_weights, alpha=alpha, beta=beta, tv_weight=tv_weight, pooling=pooling,
        normalize=normalize, weights=weights, init=init, iterations=iterations, max_size=max_size,
        seed=seed, optimizer=optimizer, learning_rate=learning_rate, style_scale=style_scale,
        style_blend=style_blend, preserve_color=preserve_color, scales=scales,
        scale_iterations=scale_iterations, jit=jit, precision=precision)
    _check_counts(save_every=save_every, checkpoint_every=checkpoint_every, max_pixels=max_pixels)
    if len(styles) > 1 or style_blend:
        config.blend_weights(len(styles))  # fail early on a count mismatch
    # Absolute paths, so `tfstyle resume` works from any folder.
    writer = RunWriter(output, inputs={"content": content.absolute(),
                                       "styles": [s.absolute() for s in styles]},
                       overwrite=overwrite, save_every=save_every,
                       checkpoint_every=checkpoint_every, plot=plot, quiet=quiet)
    raise typer.Exit(writer.transfer(config, max_pixels=max_pixels))


@app.command()
def resume(
    record: Path = typer.Argument(..., help="The run record (OUT.json) of an earlier run."),
    iterations: int = typer.Option(..., help="Total iterations to reach, counting those done."),
    quiet: bool = Quiet,
):
    """Continue an interrupted or finished `transfer` run up to --iterations."""
    _check_counts(iterations=iterations)
    raise typer.Exit(RunWriter.resume(record, iterations, quiet=quiet))


@app.command()
def demo(
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the demo images."),
    size: int = typer.Option(192, help="Longest side, px."),
    iterations: int = typer.Option(200, help="L-BFGS iterations."),
    weights: str = typer.Option("imagenet", help="Falls back to random when imagenet is unavailable."),
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Stylise built-in drawings; needs no network and no input files."""
    from .demo import run_demo

    _check_counts(size=size, iterations=iterations)
    raise typer.Exit(run_demo(output, size=size, iterations=iterations, weights=weights,
                              overwrite=overwrite, quiet=quiet))


def _check_counts(**values):
    for name, value in values.items():
        if value < 0 or (value == 0 and name in ("iterations", "size", "max_pixels")):
            raise ConfigError(name, f"expected a positive whole number, received {value}")


def _register_extra_commands():
    from . import commands  # noqa: F401  (figures, export, bench attach themselves)


_register_extra_commands()


def _option_message(error: ConfigError) -> str:
    return f"--{error.option.replace('_', '-')}: {error.message}"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"tfstyle: warning: {' '.join(str(message).split())}\n")


def main(argv=None) -> int:
    """Console entry point: exceptions become one stderr line and an exit code."""
    from tfstyle.io import ImageWarning

    # Our own warnings (a dropped GIF frame) are one line each; the
    # libraries' deprecation chatter is not the user's business.
    warnings.simplefilter("ignore")
    warnings.simplefilter("always", ImageWarning)
    warnings.showwarning = _show_warning
    signal.signal(signal.SIGTERM, on_sigterm)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="tfstyle", standalone_mode=False)
    except typer.TyperException as error:  # typer's usage and parameter errors
        if type(error).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(error.format_message() + "\n")
            return 2
        return _fail(error.format_message(), getattr(error, "exit_code", 2) or 2)
    except ConfigError as error:
        return _fail(_option_message(error), 2)
    except TfstyleError as error:
        return _fail(str(error), 2)
    except MemoryError:
        return _fail("out of memory; try a smaller --max-size or --scales", 1)
    except (typer.Abort, KeyboardInterrupt):
        # click turns interrupts (our SIGTERM one too) into Abort.
        if received["signal"] == signal.SIGTERM:
            return _fail("terminated", 143)
        return _fail("interrupted", 130)
    except Exception as error:  # a bug: one line, the traceback on request
        if os.environ.get("TFSTYLE_DEBUG"):
            raise
        return _fail(f"internal error: {type(error).__name__}: {error} "
                     "(run with TFSTYLE_DEBUG=1 for the traceback)", 1)
    return code if isinstance(code, int) else 0


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"tfstyle: error: {' '.join(message.split())}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
