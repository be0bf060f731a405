"""`StyleConfig`: every setting of a run, with the paper's names and defaults.

Each field carries its own help text (`field_help`), so the CLI builds one
option per field from this class alone: a default, a name and a help string
are each written once, here.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .layers import CONV_LAYERS, LAYERS
from .weights import DEFAULT_BETA, default_beta

PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
POOLINGS = ("avg", "max")
OPTIMIZERS = ("lbfgs", "lbfgs-device", "adam")
INITS = ("content", "noise", "style")
COLOR_METHODS = ("luminance", "histogram")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
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
    # for the same look, so the default follows the weights (weights.DEFAULT_BETA).
    beta: float | None = _field(
        None, "Style weight beta; default by weights: "
              + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_BETA.items())
              + " (imagenet's is the paper's Fig. 2 ratio, alpha/beta = 1e-3).")
    tv_weight: float = _field(0.0, "Total variation weight (the paper has none).")
    pooling: str = _field("avg", "avg (the paper replaces max pooling by average) or max.")
    normalize: bool = _field(
        True, "Divide features by their channel means, as the paper's rescaled VGG does; "
              "makes alpha/beta independent of the weights' scale.")
    weights: str = _field(
        "imagenet", "imagenet (Keras download, cached), procedural (structured filters from a seed, "
                    "offline; the offline look), random (seeded He-normal, offline), "
                    "or a weights file / exported SavedModel.")
    init: str | None = _field(
        None, "Start image: content, noise, style or an image path. Default: the photo for a "
              "transfer (converges fastest), white noise (the paper's) for reconstructions, "
              "textures and figures.")
    iterations: int = _field(500, "Optimiser iterations (accepted steps), in total across --scales.")
    max_size: int = _field(512, "Longest side of the output, px.")
    seed: int = _field(0, "Seed of the white noise and the random weights.")
    optimizer: str = _field(
        "lbfgs", "lbfgs (scipy's L-BFGS-B, on the host), lbfgs-device (L-BFGS with its state on "
                 "the network's device; pays on a GPU) or adam.")
    history_size: int = _field(10, "L-BFGS curvature pairs kept (scipy's maxcor): each costs two "
                                   "image-sized float vectors.")
    # Tiles make print sizes fit in memory and change no result: the tiled
    # objective is the untiled one, exactly (tfstyle.tiled).
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
    # Which path is faster flips between CPUs (tfstyle.jit), so the default
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
        for f in dataclasses.fields(self):
            kind = list_item_type(f.name)
            value = getattr(self, f.name)
            if kind is None and isinstance(value, str) and _numeric(f.name):
                object.__setattr__(self, f.name, parse_field(f.name, value))  # CLI text
                continue
            if kind is None or isinstance(value, tuple):
                continue
            optional = type(None) in typing.get_args(_HINTS[f.name])
            if value is None and optional:
                continue
            value = parse_list(f.name, value, kind) if isinstance(value, str) \
                else tuple(value or ())
            if not value and optional:
                value = None  # an empty list means "the default"
            object.__setattr__(self, f.name, value)
        self._validate()

    def _validate(self):
        _check_layers("content_layers", self.content_layers)
        _check_layers("style_layers", self.style_layers)
        _check_layer_weights("content_weights", self.content_weights, self.content_layers)
        _check_layer_weights("style_weights", self.style_weights, self.style_layers)
        for name in ("alpha", "beta", "tv_weight"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0.0)
        _check_number("learning_rate", self.learning_rate, minimum=0.0, strict=True)
        _check_number("style_scale", self.style_scale, minimum=0.0, strict=True)
        _check_int("iterations", self.iterations, minimum=1)
        _check_int("max_size", self.max_size, minimum=16)
        _check_int("seed", self.seed, minimum=0)
        _check_int("history_size", self.history_size, minimum=1)
        if self.tile_size != "auto":
            _check_int("tile_size", self.tile_size, minimum=0)
        for name in ("memory_limit", "device_memory_limit"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0.0, strict=True)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("jit", self.jit, JIT_MODES)
        if self.preserve_color is not None:
            _check_choice("preserve_color", self.preserve_color, COLOR_METHODS)
        if self.init is not None and self.init not in INITS and not Path(self.init).suffix:
            raise ConfigError("init", f"expected one of {', '.join(INITS)} or an image path, "
                                      f"received {self.init!r}")
        if self.style_blend is not None:
            for w in self.style_blend:
                _check_number("style_blend", w, minimum=0.0)
            if sum(self.style_blend) <= 0:
                raise ConfigError("style_blend", "the weights must not all be zero")
        for size in self.scales:
            _check_int("scales", size, minimum=16)
        if self.scale_iterations is not None:
            if len(self.scale_iterations) != len(self.scales):
                raise ConfigError("scale_iterations", f"expected {len(self.scales)} counts, one per "
                                                      f"scale, received {len(self.scale_iterations)}")
            for count in self.scale_iterations:
                _check_int("scale_iterations", count, minimum=1)
        if (self.regions is None) != (self.region_styles is None):
            raise ConfigError("region_styles" if self.regions else "regions",
                              "--regions and --region-styles go together")
        if self.regions is not None and self.masks is not None:
            raise ConfigError("regions", "give --masks or --regions, not both")
        self.region_colours  # parses and checks the pairs
        if not isinstance(self.weights, str) or not self.weights:
            raise ConfigError("weights", f"expected imagenet, procedural, random or a path, received {self.weights!r}")

    # Derived values -------------------------------------------------------

    @property
    def init_path(self) -> Path | None:
        """The start image's file, when `init` names one."""
        return None if self.init is None or self.init in INITS else Path(self.init)

    @property
    def region_colours(self) -> tuple[tuple[tuple[int, int, int], str], ...]:
        """((r, g, b), painting path) for each --region-styles pair."""
        pairs = []
        for item in self.region_styles or ():
            colour, _, path = item.partition("=")
            colour = colour.strip().lstrip("#")
            try:
                if len(colour) != 6 or not path.strip():
                    raise ValueError
                rgb = tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
            except ValueError:
                raise ConfigError("region_styles", f"expected #RRGGBB=PAINTING, received "
                                                   f"{item!r}") from None
            pairs.append((rgb, path.strip()))
        return tuple(pairs)

    @property
    def style_weight(self) -> float:
        """beta, or the default for these weights when beta is not set."""
        return default_beta(self.weights) if self.beta is None else self.beta

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
        if has_style and self.style_weight > 0:
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
            sizes = [PYRAMID_START]
            while sizes[-1] * 2 * math.sqrt(2) <= longest:  # no step under sqrt(2) at the end
                sizes.append(sizes[-1] * 2)
            shares = [2.0 ** (len(sizes) - k) for k in range(len(sizes) + 1)]
            counts = [max(1, int(self.iterations * w / sum(shares))) for w in shares]
            counts[0] += self.iterations - sum(counts)
            if counts[0] >= 1:
                return tuple(zip([*sizes, None], counts))
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
    hint = _HINTS[name]
    for part in (hint, *typing.get_args(hint)):
        if typing.get_origin(part) is tuple:
            return typing.get_args(part)[0]
    return None


def parse_field(name: str, value):
    """A field's value from text (a CSV cell, a form) or JSON, as StyleConfig
    takes it; lists stay text or lists, StyleConfig parses those."""
    if name not in _FIELDS:
        raise ConfigError(None, f"unknown setting {name!r}")
    if not isinstance(value, str) or list_item_type(name) is not None:
        return value
    hint = _HINTS[name]
    kinds = [k for k in (hint, *typing.get_args(hint)) if k in (bool, int, float)]
    text = value.strip()
    if not kinds:
        return None if text.lower() in ("", "none") and type(None) in typing.get_args(hint) \
            else text
    kind = kinds[0]
    if str in typing.get_args(hint) and not text.lstrip("-").isdigit():
        return text  # a word where a number may stand, e.g. tile_size auto
    if kind is bool:
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.lower() not in words:
            raise ConfigError(name, f"expected true or false, received {value!r}")
        return words[text.lower()]
    try:
        return kind(text)
    except ValueError:
        what = {float: "a number", int: "a whole number"}[kind]
        raise ConfigError(name, f"expected {what}, received {value!r}") from None


def _numeric(name: str) -> bool:
    return any(k in (int, float) for k in (_HINTS[name], *typing.get_args(_HINTS[name])))


def parse_list(option: str, text: str, kind=str) -> tuple:
    """'a, b,c' -> ('a', 'b', 'c'), each item as `kind` (str, float or int).

    The one parser of comma-separated lists, for config fields and for the
    CLI's own lists (figure ratios, bench sizes).
    """
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        return tuple(kind(p) for p in parts)
    except ValueError:
        what = {float: "numbers", int: "whole numbers"}.get(kind, "values")
        raise ConfigError(option, f"expected comma-separated {what}, received {text!r}") from None


def _layer_weights(layers, weights):
    if weights is None:
        weights = (1.0 / len(layers),) * len(layers)
    return dict(zip(layers, weights))


def _check_layers(name, layers):
    if not layers:
        raise ConfigError(name, "at least one layer is needed")
    for layer in layers:
        if layer not in CONV_LAYERS:
            raise ConfigError(name, f"unknown layer {layer!r}; VGG19's are "
                                    f"{CONV_LAYERS[0]} ... {CONV_LAYERS[-1]}")
    if len(set(layers)) != len(layers):
        raise ConfigError(name, f"a layer is listed twice: {', '.join(layers)}")


def _check_layer_weights(name, weights, layers):
    if weights is None:
        return
    if len(weights) != len(layers):
        raise ConfigError(name, f"expected {len(layers)} weights, one per layer, "
                                f"received {len(weights)}")
    for w in weights:
        _check_number(name, w, minimum=0.0)


def _check_number(name, value, minimum, strict=False):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"expected a number, received {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(name, f"expected a finite number, received {value!r}")
    if number < minimum or (strict and number == minimum):
        relation = "above" if strict else "at least"
        raise ConfigError(name, f"expected a number {relation} {minimum:g}, received {value!r}")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"expected a whole number, received {value!r}")
    if value < minimum:
        raise ConfigError(name, f"expected at least {minimum}, received {value!r}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}, received {value!r}")


_FIELDS = {f.name: f for f in dataclasses.fields(StyleConfig)}
_HINTS = typing.get_type_hints(StyleConfig)
