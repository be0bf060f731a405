"""`tfstyle export`: the feature extractor as a SavedModel for TF Serving."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError, OutputError
from tfstyle.layers import CONV_LAYERS

from .app import Overwrite, Quiet, app, config_options
from .progress import Progress
from .quiet import start_tensorflow


@app.command()
@config_options(only=("weights", "pooling", "seed", "normalize"))
def export(
    output: Path = typer.Option(Path("saved_models/vgg19_avg"), "--output", "-o",
                                help="Model base folder; the version goes below it."),
    version: int = typer.Option(1, help="TF Serving version number (a whole number from 1)."),
    layers: str = typer.Option(",".join(CONV_LAYERS), help="Layers the signatures return."),
    overwrite: bool = Overwrite, quiet: bool = Quiet,
    config: StyleConfig = None,
):
    """Export the VGG19 feature extractor (serving_default, normalized, style, encoded signatures)."""
    names = config.replace(style_layers=layers).style_layers  # parses and validates the names
    if version < 1:
        raise ConfigError("version", f"expected a whole number from 1, received {version}")
    target = output / str(version)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: this version already exists (use --overwrite, or a new --version)")
    if config.normalize == "pair":  # before any network is built or downloaded
        raise ConfigError("normalize", "an export has one set of scales for every image; "
                                       "pair has none (use network, off or a scales file)")
    start_tensorflow()
    from tfstyle.workflows.export import export_saved_model
    from tfstyle.core.extractor import FeatureExtractor

    started = time.perf_counter()
    extractor = FeatureExtractor.for_config(config, layers=names)
    path = export_saved_model(extractor, output, version=version, layers=names, overwrite=overwrite,
                              normalize=config.normalize)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    Progress(0, quiet=quiet).say(f"exported {extractor.weights_source} VGG19 ({config.pooling} pooling, "
                                 f"{len(names)} layers) to {path}: {size / 1e6:.1f} MB in "
                                 f"{time.perf_counter() - started:.1f} s")
