"""`StyleConfig`: every setting of a run, with the paper's names and defaults.

The CLI and the paper presets read their defaults from here, so each default
lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .layers import CONV_LAYERS, LAYERS

PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
POOLINGS = ("avg", "max")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
COLOR_METHODS = ("luminance", "histogram")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class StyleConfig:
    # Content representation: the paper matches conv4_2 only.
    content_layers: tuple[str, ...] = ("conv4_2",)
    # Style representation: Gram matrices of the first layer of each block.
    style_layers: tuple[str, ...] = PAPER_STYLE_LAYERS
    # Per-layer weights; None means 1/len, the paper's w_l = 1/5.
    content_weights: tuple[float, ...] | None = None
    style_weights: tuple[float, ...] | None = None
    # alpha/beta = 1e-3, the ratio of the paper's Fig. 2 (1e-4 is stronger).
    alpha: float = 1.0
    beta: float = 1e3
    # Total variation smoothing; the paper has none.
    tv_weight: float = 0.0
    # The paper replaces max pooling by average pooling.
    pooling: str = "avg"
    # Divide each feature map by its channel's mean activation, as the paper's
    # rescaled VGG does; makes alpha/beta mean the same for any weights.
    normalize: bool = True
    # "imagenet" (Keras download), "random" (seeded, offline) or a file path.
    weights: str = "imagenet"
    # The paper starts from white noise; starting from the content converges
    # in far fewer iterations, so it is the practical default.
    init: str = "content"
    # L-BFGS iterations (accepted steps, not function evaluations).
    iterations: int = 500
    # Longest side of the generated image, in pixels.
    max_size: int = 512
    # Seeds the white noise and the random weights.
    seed: int = 0
    optimizer: str = "lbfgs"
    # Adam step in pixel units (0-255); unused by L-BFGS.
    learning_rate: float = 2.0
    # Style image size relative to the content's longest side: smaller
    # values give smaller brush strokes.
    style_scale: float = 1.0
    # Blend weights for several style images; None means equal weights.
    style_blend: tuple[float, ...] | None = None
    # None, "luminance" or "histogram" (Gatys et al. 2016).
    preserve_color: str | None = None
    # Coarse-to-fine sizes, e.g. (256, 512); empty means one pass at max_size.
    scales: tuple[int, ...] = ()
    # Iterations at each scale; None splits `iterations` evenly across them.
    scale_iterations: tuple[int, ...] | None = None
    # Compile the objective with XLA. Off: on the 2-core AVX-512 CPUs we
    # measured (`tfstyle bench`), TF's oneDNN kernels beat XLA by 10-20%.
    jit: bool = False
    # Precision of the conv stack; Grams and losses are always float32.
    precision: str = "float32"

    def __post_init__(self):
        for name in ("content_layers", "style_layers", "content_weights",
                     "style_weights", "style_blend", "scales", "scale_iterations"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                if isinstance(value, str):
                    value = tuple(p.strip() for p in value.split(",") if p.strip())
                object.__setattr__(self, name, tuple(value))
        self._validate()

    def _validate(self):
        _check_layers("content_layers", self.content_layers)
        _check_layers("style_layers", self.style_layers)
        _check_layer_weights("content_weights", self.content_weights, self.content_layers)
        _check_layer_weights("style_weights", self.style_weights, self.style_layers)
        for name in ("alpha", "beta", "tv_weight"):
            _check_number(name, getattr(self, name), minimum=0.0)
        _check_number("learning_rate", self.learning_rate, minimum=0.0, strict=True)
        _check_number("style_scale", self.style_scale, minimum=0.0, strict=True)
        _check_int("iterations", self.iterations, minimum=1)
        _check_int("max_size", self.max_size, minimum=16)
        _check_int("seed", self.seed, minimum=0)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("precision", self.precision, PRECISIONS)
        if self.preserve_color is not None:
            _check_choice("preserve_color", self.preserve_color, COLOR_METHODS)
        if self.init not in INITS and not Path(self.init).suffix:
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
        if not isinstance(self.weights, str) or not self.weights:
            raise ConfigError("weights", f"expected imagenet, random or a path, received {self.weights!r}")

    # Derived values -------------------------------------------------------

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
        if has_style and self.beta > 0:
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
        if not self.scales:
            return ((None, self.iterations),)
        counts = self.scale_iterations
        if counts is None:
            share, extra = divmod(self.iterations, len(self.scales))
            counts = [share] * len(self.scales)
            counts[-1] += extra  # the final scale gets the remainder
        return tuple(zip(self.scales, counts))

    def replace(self, **changes) -> "StyleConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StyleConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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
