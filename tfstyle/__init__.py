"""tfstyle: A Neural Algorithm of Artistic Style (Gatys, Ecker, Bethge 2015)
in TensorFlow/Keras.

    tfstyle transfer photo.jpg painting.jpg -o out.png --weights random

The pipeline, one module a stage: io -> preprocess -> extractor (VGG19 with
average pooling) -> losses -> objective -> optim (scipy L-BFGS-B / Adam) ->
stylize. `config.StyleConfig` holds every default.

Names that need TensorFlow are imported on first use, so `import tfstyle`
and the CLI's argument checks stay fast.
"""

from importlib import import_module

from .config import StyleConfig
from .errors import (ConfigError, ImageError, NonFiniteLossError, OutputError, TfstyleError,
                     WeightsError)
from .io import load_image, save_image
from .layers import CONV_LAYERS, LAYERS

__version__ = "0.1.0"

_LAZY = {
    "FeatureExtractor": "extractor",
    "gram_matrix": "losses", "content_loss": "losses", "layer_style_loss": "losses",
    "style_loss": "losses", "total_variation_loss": "losses",
    "Objective": "objective",
    "stylize": "synthesis", "reconstruct_content": "synthesis", "synthesize_texture": "synthesis",
    "Iterate": "synthesis", "Result": "synthesis",
    "export_saved_model": "export",
}

__all__ = ["StyleConfig", "ConfigError", "ImageError", "NonFiniteLossError", "OutputError",
           "TfstyleError", "WeightsError", "load_image", "save_image", "CONV_LAYERS", "LAYERS",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfstyle' has no attribute {name!r}")
