"""tfstyle: A Neural Algorithm of Artistic Style (Gatys, Ecker, Bethge 2015)
in TensorFlow/Keras.

    tfstyle transfer photo.jpg painting.jpg -o out.png --weights random

The packages are layers, and imports go down only (tests/test_layers.py):

    errors, layers, preprocess, faults   the vocabulary: exceptions, the paper's
                                         layer names, pixel arrays, fault points
    io/, optim/                          files; optimiser drivers
    config, config_parse, plan           settings, and the run plan
    weights/                             where VGG19's kernels come from
    core/                                the paper's pipeline: extractor, losses,
                                         terms, objective, tiles, memory,
                                         scales, synthesis
    workflows/                           runs that write files: transfer, paper,
                                         demo, batch, Ray, video, export, page
    bench/                               benchmarks
    cli (tfstyle_cli)                    parse, call, print

Names that need TensorFlow are imported on first use, so `import tfstyle`
and the CLI's argument checks stay fast.
"""

import importlib.abc
import importlib.util
import sys
from importlib import import_module

from .config import StyleConfig
from .errors import (ConfigError, ImageError, Interrupted, NonFiniteLossError, OutputError,
                     RecordError, TfstyleError, WeightsError)
from .io.images import load_image, save_image
from .layers import CONV_LAYERS, LAYERS

_LAZY = {
    "FeatureExtractor": "core.extractor",
    "gram_matrix": "core.losses", "content_loss": "core.losses",
    "layer_style_loss": "core.losses", "style_loss": "core.losses",
    "total_variation_loss": "core.losses",
    "Objective": "core.objective",
    "TransferRun": "workflows.runs", "resume": "workflows.resume",
    "stylize": "core.synthesis", "reconstruct_content": "core.synthesis",
    "synthesize_texture": "core.synthesis", "Iterate": "events",
    "Result": "core.synthesis",
    "export_saved_model": "workflows.export",
    "stylize_video": "workflows.video", "VideoSettings": "workflows.video_settings",
}

__all__ = ["StyleConfig", "ConfigError", "ImageError", "Interrupted", "NonFiniteLossError",
           "OutputError", "RecordError", "TfstyleError", "WeightsError", "load_image", "save_image", "CONV_LAYERS", "LAYERS",
           *_LAZY]


# The dotted modules that the README, the Colab notebook and users' scripts
# name (`from tfstyle.ui import build_app`, `tfstyle.paper.run_figure`). Each
# is the module itself under a second name, imported on first use: one module
# object, no copy, no forwarder and no warning. These names are public and stay.
PUBLIC_MODULES = {
    "paper": "workflows.paper", "demo": "workflows.demo", "runs": "workflows.runs",
    "record": "workflows.record", "export": "workflows.export", "batch": "workflows.batch",
    "jobs": "workflows.jobs", "video": "workflows.video", "ui": "workflows.ui",
    "device": "core.device", "synthesis": "core.synthesis", "objective": "core.objective",
    "extractor": "core.extractor", "losses": "core.losses", "events": "events",
}


class _PublicModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers `import tfstyle.ui` with the module `tfstyle.workflows.ui`."""

    def find_spec(self, name, path=None, target=None):
        short = name.removeprefix(__name__ + ".")
        if short in PUBLIC_MODULES and short != name:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        short = spec.name.removeprefix(__name__ + ".")
        module = import_module(f"{__name__}.{PUBLIC_MODULES[short]}")
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # The module ran once, under its own name; importlib has just set
        # this spec on it, so give it back its own (its relative imports and
        # its `__spec__.parent` stay those of its package).
        module.__spec__ = module.__spec__.loader_state


# Once, also across importlib.reload(tfstyle) (which makes a new class).
if not any(type(f).__name__ == "_PublicModules" for f in sys.meta_path):
    sys.meta_path.append(_PublicModules())


def __getattr__(name):
    if name == "__version__":  # read on first use: the metadata costs ~35 ms to import
        from .version import installed_version

        globals()[name] = installed_version()
        return globals()[name]
    if name in PUBLIC_MODULES:
        return import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfstyle' has no attribute {name!r}")
