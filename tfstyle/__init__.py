"""tfstyle: A Neural Algorithm of Artistic Style (Gatys, Ecker, Bethge 2015)
in TensorFlow/Keras.

    tfstyle transfer photo.jpg painting.jpg -o out.png --weights random

The pipeline, one module a stage: io -> preprocess -> extractor (VGG19 with
average pooling) -> losses -> objective (named loss terms) -> optim (scipy
L-BFGS-B / Adam, or lbfgs_device) -> synthesis (`stylize`). `config.StyleConfig`
holds every default. Workflows that write files sit on top: `runs` (a
transfer with its record, checkpoints and resume), `batch.run_batch` (many
jobs, from `jobs`), `paper.run_figure`, `demo.run_demo`, `video.stylize_video` (Ruder et al.
2016) and `ui` (the web page).

Names that need TensorFlow are imported on first use, so `import tfstyle`
and the CLI's argument checks stay fast.
"""

from importlib import import_module

from .config import StyleConfig
from .errors import (ConfigError, ImageError, Interrupted, NonFiniteLossError, OutputError,
                     RecordError, TfstyleError, WeightsError)
from .io import load_image, save_image
from .layers import CONV_LAYERS, LAYERS

_LAZY = {
    "FeatureExtractor": "extractor",
    "gram_matrix": "losses", "content_loss": "losses", "layer_style_loss": "losses",
    "style_loss": "losses", "total_variation_loss": "losses",
    "Objective": "objective",
    "TransferRun": "runs", "resume": "runs",
    "stylize": "synthesis", "reconstruct_content": "synthesis", "synthesize_texture": "synthesis",
    "Iterate": "synthesis", "Result": "synthesis",
    "export_saved_model": "export",
    "stylize_video": "video", "VideoSettings": "video",
}

__all__ = ["StyleConfig", "ConfigError", "ImageError", "Interrupted", "NonFiniteLossError",
           "OutputError", "RecordError", "TfstyleError", "WeightsError", "load_image", "save_image", "CONV_LAYERS", "LAYERS",
           *_LAZY]


# Submodules a notebook reaches as attributes: tfstyle.paper.run_figure(...).
_SUBMODULES = ("paper", "demo", "runs", "record", "export", "bench", "batch", "jobs", "video",
               "ui")


def _installed_version() -> str:
    """The version pyproject.toml gives, as the installed metadata holds it;
    a source checkout that was never installed has none to tell."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tfstyle")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name):
    if name == "__version__":  # read on first use: the metadata costs ~35 ms to import
        globals()[name] = _installed_version()
        return globals()[name]
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfstyle' has no attribute {name!r}")
