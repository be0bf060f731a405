"""`StyleConfig`: every setting of a run, with the paper's names and defaults.

Each field carries its own help text (`field_help`), so the CLI builds one
option per field from this class alone: a default, a name and a help string
are each written once, here. Reading values from text and the checks that
quote a bad value are in tfstyle.config_parse, which knows no field names.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from pathlib import Path

from .config_parse import (check_choice, check_int, check_layer_weights, check_layers, check_normalize,
                           check_number, is_numeric, is_optional, item_type, legacy_normalize,
                           parse_list, parse_region_styles, parse_value)
from .errors import ConfigError
from .layers import LAYERS
from .beta import DEFAULT_BETA, default_beta

PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
POOLINGS = ("avg", "max")
OPTIMIZERS = ("lbfgs", "lbfgs-device", "adam")
INITS = ("content", "noise", "style")
COLOR_METHODS = ("luminance", "histogram")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
NORMALIZE_MODES = ("network", "pair", "off")  # or a scales file (core.normalization)
JIT_MODES = ("auto", "on", "off")

# Print sizes: above this longest side, a run with no --scales goes
# coarse-to-fine from PYRAMID_START px in 2x steps, so most iterations are
# spent where they are cheap.
PYRAMID_ABOVE = 1024
PYRAMID_START = 512


def _field(default, help: str):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class StyleConfig:
    content_layers: tuple[str, ...] = _field(
        ("conv4_2",), "Content layers (paper names), comma-separated; the paper matches conv4_2.")
    style_layers: tuple[str, ...] = _field(
        PAPER_STYLE_LAYERS, "Style layers, comma-separated: the first conv of each block.")
    content_weights: tuple[float, ...] | None = _field(
        None, "Weight per content layer, comma-separated; default 1/len.")
    style_weights: tuple[float, ...] | None = _field(
        None, "Weight per style layer (the paper's w_l), comma-separated; default 1/len.")
    alpha: float = _field(1.0, "Content weight alpha.")
    # Filters that tell images apart less sharply need a stronger style weight
    # for the same look, so the default follows the weights (beta.DEFAULT_BETA).
    beta: float | None = _field(
        None, "Style weight beta; default by weights: "
              + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_BETA.items())
              + " (imagenet's is the paper's Fig. 2 ratio, alpha/beta = 1e-3).")
    tv_weight: float = _field(0.0, "Total variation weight (the paper has none).")
    pooling: str = _field("avg", "avg (the paper replaces max pooling by average) or max.")
    # The paper's network is normalised once (each filter's mean activation
    # over ImageNet is 1), so one beta is one strength for every photo; pair
    # was the default before 0.9 (CHANGELOG.md).
    normalize: str = _field(
        "network", "Where the channel scales come from: network (the weights' scales on tfstyle's "
                   "reference set, computed once; the paper's normalised VGG), pair (this run's "
                   "photo and paintings), off (the raw network) or a scales file from "
                   "tfstyle normalize.")
    weights: str = _field(
        "imagenet", "imagenet (Keras download, cached), procedural (structured filters from a seed, "
                    "offline; the offline look), random (seeded He-normal, offline), "
                    "or a weights file / exported SavedModel.")
    init: str | None = _field(
        None, "Start image: content, noise, style or an image path; default the photo for a "
              "transfer (fastest), else white noise (the paper's start).")
    iterations: int = _field(500, "Optimiser iterations (accepted steps), in total across --scales.")
    max_size: int = _field(512, "Longest side of the output, px.")
    seed: int = _field(0, "Seed of the white noise and the random weights.")
    optimizer: str = _field(
        "lbfgs", "lbfgs (scipy's L-BFGS-B, on the host), lbfgs-device (L-BFGS with its state on "
                 "the network's device; pays on a GPU) or adam.")
    history_size: int = _field(10, "L-BFGS curvature pairs kept (scipy's maxcor): each costs two "
                                   "image-sized float vectors.")
    # Tiles make print sizes fit in memory and change no result: the tiled
    # objective is the untiled one, exactly (tfstyle.core.tiled).
    tile_size: int | str = _field(
        "auto", "Evaluate the objective in tiles of at most N x N px (with halos): 0 never, "
                "auto only when an evaluation would not fit in --memory-limit.")
    memory_limit: float | None = _field(
        None, "Host memory budget in GB (the process's RSS: the optimiser, the images, and "
              "without a GPU the evaluation); default 75% of the free memory.")
    device_memory_limit: float | None = _field(
        None, "GPU memory budget in GB for the evaluation's tiles and lbfgs-device's state; "
              "default 75% of the GPU's memory. Without a GPU the network shares the host's "
              "memory under --memory-limit, and this caps its share.")
    learning_rate: float = _field(2.0, "Adam step size, in pixel units (0-255); unused by L-BFGS.")
    style_scale: float = _field(
        1.0, "Style image size relative to the output's longest side: smaller gives smaller strokes.")
    style_blend: tuple[float, ...] | None = _field(
        None, "Blend weights, one per style image, e.g. 0.7,0.3; default equal.")
    masks: tuple[str, ...] | None = _field(
        None, "Spatial control: one mask image per style, over the photo (white: this style; "
              "grey levels blend), comma-separated. Uncovered pixels keep only the content.")
    style_masks: tuple[str, ...] | None = _field(
        None, "One mask per style image, comma-separated, choosing the part of the painting "
              "its style is taken from; - for the whole painting.")
    preserve_color: str | None = _field(
        None, "Keep the photo's colours (Gatys et al. 2016): luminance or histogram.")
    regions: str | None = _field(
        None, "Spatial control by one image of flat colours over the photo, in place of --masks; "
              "--region-styles says which style each colour takes.")
    region_styles: tuple[str, ...] | None = _field(
        None, "With --regions: COLOUR=PAINTING pairs, comma-separated, e.g. "
              "'#ff0000=A.jpg,#0000ff=B.jpg'. Every colour in the image must be listed.")
    scales: tuple[int, ...] = _field((), "Coarse-to-fine sizes, e.g. 256,512; default one pass.")
    scale_iterations: tuple[int, ...] | None = _field(
        None, "Iterations per scale, e.g. 200,100; default: --iterations split evenly.")
    # Which path is faster flips between CPUs (tfstyle.core.jit), so the default
    # measures rather than guesses.
    jit: str = _field(
        "auto", "XLA for the objective: auto (time both paths at the first evaluation of a "
                "size, keep the faster, remember the choice for this machine), on or off.")
    precision: str = _field(
        "float32", "float32, mixed_float16 or mixed_bfloat16 for the conv stack; "
                   "Grams and losses stay float32.")

    def __post_init__(self):
        if isinstance(self.jit, bool):  # records and code from before auto
            object.__setattr__(self, "jit", "on" if self.jit else "off")
        # Records, manifests and code from before --normalize network.
        object.__setattr__(self, "normalize", legacy_normalize(self.normalize))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerced(f.name, getattr(self, f.name)))
        _validate(self)

    # Derived values -------------------------------------------------------

    @property
    def init_path(self) -> Path | None:
        """The start image's file, when `init` names one."""
        return None if self.init is None or self.init in INITS else Path(self.init)

    @property
    def region_colours(self) -> tuple[tuple[tuple[int, int, int], str], ...]:
        """((r, g, b), painting path) for each --region-styles pair."""
        return parse_region_styles(self.region_styles)

    @functools.cached_property
    def resolved_beta(self) -> float:
        """beta, or the default for these weights when beta is not set (an
        export's is read from its metadata, once per config).

        Not `style_weights`, the paper's per-layer w_l."""
        return default_beta(self.weights, self.normalize) if self.beta is None else self.beta

    @property
    def content_layer_weights(self) -> dict[str, float]:
        return _layer_weights(self.content_layers, self.content_weights)

    @property
    def style_layer_weights(self) -> dict[str, float]:
        return _layer_weights(self.style_layers, self.style_weights)

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the objective reads, in network order."""
        return self.layers_for(has_content=True, has_style=True)

    def layers_for(self, has_content: bool, has_style: bool) -> tuple[str, ...]:
        """The layers read when only some of the images are given."""
        used = set()
        if has_content and self.alpha > 0:
            used.update(self.content_layers)
        if has_style and self.resolved_beta > 0:
            used.update(self.style_layers)
        return tuple(n for n in LAYERS if n in used)

    def blend_weights(self, n_styles: int) -> tuple[float, ...]:
        """Normalised blend weights for `n_styles` style images."""
        blend = self.style_blend or (1.0,) * n_styles
        if len(blend) != n_styles:
            raise ConfigError("style_blend", f"expected {n_styles} weights, one per style image, "
                                             f"received {len(blend)}")
        total = sum(blend)
        return tuple(w / total for w in blend)

    @property
    def schedule(self) -> tuple[tuple[int | None, int], ...]:
        """((longest side or None for max_size, iterations), ...) per scale."""
        return self.schedule_for(self.max_size)

    def schedule_for(self, longest: int) -> tuple[tuple[int | None, int], ...]:
        """The schedule for an output whose longest side is `longest` px.

        Without --scales, outputs above PYRAMID_ABOVE px go coarse-to-fine:
        PYRAMID_START px, doubling, then the full size, each scale given half
        the iterations of the one before (8:4:2:1 for four scales), since
        each costs four times as much.
        """
        if not self.scales and longest > PYRAMID_ABOVE:
            pyramid = _pyramid(longest, self.iterations)
            if pyramid is not None:
                return pyramid
        if not self.scales:
            return ((None, self.iterations),)
        counts = self.scale_iterations
        if counts is None:
            share, extra = divmod(self.iterations, len(self.scales))
            counts = [share] * len(self.scales)
            counts[-1] += extra  # the final scale gets the remainder
        return tuple(zip(self.scales, counts))

    def with_absolute_paths(self) -> "StyleConfig":
        """The config with every file it names made absolute (masks, style
        masks, regions and their paintings, the start image, a weights
        file), so its record resumes from any folder."""
        def absolute(path):
            return path if path in ("-", None) else str(Path(path).expanduser().absolute())
        changes = {}
        if self.masks is not None:
            changes["masks"] = tuple(absolute(p) for p in self.masks)
        if self.style_masks is not None:
            changes["style_masks"] = tuple(absolute(p) for p in self.style_masks)
        if self.regions is not None:
            changes["regions"] = absolute(self.regions)
        if self.region_styles is not None:
            changes["region_styles"] = tuple(
                f"#{r:02x}{g:02x}{b:02x}={absolute(path)}"
                for (r, g, b), path in self.region_colours)
        if self.init_path is not None:
            changes["init"] = absolute(self.init)
        if self.normalize not in NORMALIZE_MODES:
            changes["normalize"] = absolute(self.normalize)
        if self.weights not in DEFAULT_BETA and Path(self.weights).expanduser().exists():
            changes["weights"] = absolute(self.weights)
        return self.replace(**changes) if changes else self

    def replace(self, **changes) -> "StyleConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StyleConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def check_mask_counts(n_styles: int, masks=None, style_masks=None):
    """One mask and one style mask (if given) per style image."""
    if masks is not None and len(masks) != n_styles:
        raise ConfigError("masks", f"expected {n_styles} masks, one per style image, "
                                   f"received {len(masks)}")
    if style_masks is not None and len(style_masks) != n_styles:
        raise ConfigError("style_masks", f"expected {n_styles} style masks, one per style image "
                                         f"('-' for the whole painting), received {len(style_masks)}")


def field_help(name: str) -> str:
    """The help text written beside a StyleConfig field."""
    return _FIELDS[name].metadata["help"]


def field_type(name: str):
    """A field's type, e.g. `tuple[float, ...] | None`."""
    return _HINTS[name]


def list_item_type(name: str):
    """str, float or int for a field that holds a comma-separated list, else None."""
    return item_type(_HINTS[name])


def parse_field(name: str, value):
    """A field's value from text (a CSV cell, a form) or JSON, as StyleConfig
    takes it; lists stay text or lists, StyleConfig parses those."""
    if name not in _FIELDS:
        raise ConfigError(None, f"unknown setting {name!r}")
    return parse_value(name, value, _HINTS[name])


def _coerced(name: str, value):
    """A field's value as the dataclass holds it: numbers from CLI text,
    lists as tuples, and an empty list as None (the default) where allowed."""
    hint = _HINTS[name]
    kind = item_type(hint)
    if kind is None:
        return parse_field(name, value) if isinstance(value, str) and is_numeric(hint) else value
    if isinstance(value, tuple) or (value is None and is_optional(hint)):
        return value
    value = parse_list(name, value, kind) if isinstance(value, str) else tuple(value or ())
    return None if not value and is_optional(hint) else value


def _pyramid(longest: int, iterations: int) -> tuple[tuple[int | None, int], ...] | None:
    """StyleConfig.schedule_for's coarse-to-fine default, or None when the
    iterations are too few to give every scale one."""
    sizes = [PYRAMID_START]
    while sizes[-1] * 2 * math.sqrt(2) <= longest:  # no step under sqrt(2) at the end
        sizes.append(sizes[-1] * 2)
    shares = [2.0 ** (len(sizes) - k) for k in range(len(sizes) + 1)]
    counts = [max(1, int(iterations * w / sum(shares))) for w in shares]
    counts[0] += iterations - sum(counts)
    return tuple(zip([*sizes, None], counts)) if counts[0] >= 1 else None


def _layer_weights(layers, weights):
    if weights is None:
        weights = (1.0 / len(layers),) * len(layers)
    return dict(zip(layers, weights))


# Validation: one check per concern, run in this order so that a config with
# several problems always names the same one first.

def _validate(config: StyleConfig):
    _check_layers(config)
    _check_numbers(config)
    _check_choices(config)
    check_normalize(config.normalize, NORMALIZE_MODES)
    _check_blend(config)
    _check_scales(config)
    _check_spatial_control(config)
    if not isinstance(config.weights, str) or not config.weights:
        raise ConfigError("weights", f"expected imagenet, procedural, random or a path, "
                                     f"received {config.weights!r}")


def _check_layers(config: StyleConfig):
    check_layers("content_layers", config.content_layers)
    check_layers("style_layers", config.style_layers)
    check_layer_weights("content_weights", config.content_weights, config.content_layers)
    check_layer_weights("style_weights", config.style_weights, config.style_layers)


def _check_numbers(config: StyleConfig):
    for name in ("alpha", "beta", "tv_weight"):
        if getattr(config, name) is not None:
            check_number(name, getattr(config, name), minimum=0.0)
    check_number("learning_rate", config.learning_rate, minimum=0.0, strict=True)
    check_number("style_scale", config.style_scale, minimum=0.0, strict=True)
    check_int("iterations", config.iterations, minimum=1)
    check_int("max_size", config.max_size, minimum=16)
    check_int("seed", config.seed, minimum=0)
    check_int("history_size", config.history_size, minimum=1)
    if config.tile_size != "auto":
        check_int("tile_size", config.tile_size, minimum=0)
    for name in ("memory_limit", "device_memory_limit"):
        if getattr(config, name) is not None:
            check_number(name, getattr(config, name), minimum=0.0, strict=True)


def _check_choices(config: StyleConfig):
    check_choice("pooling", config.pooling, POOLINGS)
    check_choice("optimizer", config.optimizer, OPTIMIZERS)
    check_choice("precision", config.precision, PRECISIONS)
    check_choice("jit", config.jit, JIT_MODES)
    if config.preserve_color is not None:
        check_choice("preserve_color", config.preserve_color, COLOR_METHODS)
    if config.init is not None and config.init not in INITS and not Path(config.init).suffix:
        raise ConfigError("init", f"expected one of {', '.join(INITS)} or an image path, "
                                  f"received {config.init!r}")


def _check_blend(config: StyleConfig):
    if config.style_blend is None:
        return
    for w in config.style_blend:
        check_number("style_blend", w, minimum=0.0)
    if sum(config.style_blend) <= 0:
        raise ConfigError("style_blend", "the weights must not all be zero")


def _check_scales(config: StyleConfig):
    for size in config.scales:
        check_int("scales", size, minimum=16)
    if config.scale_iterations is None:
        return
    if len(config.scale_iterations) != len(config.scales):
        raise ConfigError("scale_iterations", f"expected {len(config.scales)} counts, one per "
                                              f"scale, received {len(config.scale_iterations)}")
    for count in config.scale_iterations:
        check_int("scale_iterations", count, minimum=1)


def _check_spatial_control(config: StyleConfig):
    if (config.regions is None) != (config.region_styles is None):
        raise ConfigError("region_styles" if config.regions else "regions",
                          "--regions and --region-styles go together")
    if config.regions is not None and config.masks is not None:
        raise ConfigError("regions", "give --masks or --regions, not both")
    config.region_colours  # parses and checks the pairs


_FIELDS = {f.name: f for f in dataclasses.fields(StyleConfig)}
_HINTS = typing.get_type_hints(StyleConfig)
