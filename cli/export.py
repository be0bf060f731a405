"""`tfstyle export`: the feature extractor as a SavedModel for TF Serving."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.layers import CONV_LAYERS, parse_layers

from .main import Overwrite, Quiet, app
from .run import Progress, start_library

D = StyleConfig()


@app.command()
def export(
    output: Path = typer.Option(Path("saved_models/vgg19_avg"), "--output", "-o",
                                help="Model base folder; the version goes below it."),
    version: int = typer.Option(1, help="TF Serving version number (a whole number from 1)."),
    weights: str = typer.Option(D.weights, help="imagenet, random, or a weights file."),
    pooling: str = typer.Option(D.pooling, help="avg (the paper) or max."),
    layers: str = typer.Option(",".join(CONV_LAYERS), help="Layers the signatures return."),
    seed: int = typer.Option(D.seed, help="Seed for random weights."),
    overwrite: bool = Overwrite, quiet: bool = Quiet,
):
    """Export the VGG19 feature extractor (serving_default, style, encoded signatures)."""
    names = parse_layers(layers)
    StyleConfig(style_layers=names, pooling=pooling, seed=seed)  # validates names and pooling
    if version < 1:
        raise ConfigError("version", f"expected a whole number from 1, received {version}")
    target = output / str(version)
    if target.exists() and not overwrite:
        from tfstyle.errors import OutputError

        raise OutputError(f"{target}: this version already exists (use --overwrite, or a new --version)")
    start_library()
    from tfstyle.export import export_saved_model
    from tfstyle.extractor import FeatureExtractor

    started = time.perf_counter()
    extractor = FeatureExtractor(weights, pooling, seed, layers=names)
    path = export_saved_model(extractor, output, version=version, layers=names, overwrite=overwrite)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    Progress(D, quiet=quiet).say(f"exported {extractor.weights_source} VGG19 ({pooling} pooling, "
                                 f"{len(names)} layers) to {path}: {size / 1e6:.1f} MB in "
                                 f"{time.perf_counter() - started:.1f} s")
    raise typer.Exit(0)
