"""What a visitor of `tfstyle ui` may ask for and what the server offers:
the page's controls as a StyleConfig (`Settings`), the server's `Limits`,
and the weights the page lists."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..config import StyleConfig, parse_field
from ..errors import ConfigError, WeightsError
from ..io.images import DEFAULT_MAX_PIXELS
from .demo import demo_beta

OFFLINE = ("procedural", "random")  # weights that need no download, best look first


@dataclass(frozen=True)
class Limits:
    """What this server allows a visitor; set on the command line."""
    max_size: int = 1024  # longest side of a result, px
    max_iterations: int = 1000
    max_pixels: int = DEFAULT_MAX_PIXELS  # uploads with more are refused

    def check(self, config: StyleConfig):
        if max((config.max_size, *config.scales)) > self.max_size:
            raise ConfigError("max_size", f"{max((config.max_size, *config.scales))} px is over "
                                          f"this server's limit of {self.max_size} px")
        if config.iterations > self.max_iterations:
            raise ConfigError("iterations", f"{config.iterations} is over this server's limit "
                                            f"of {self.max_iterations}")


@dataclass
class Settings:
    """The page's controls, as the visitor set them."""
    size: int = 256
    iterations: int = 200
    strength: float = 6.0  # log10(beta / alpha)
    preserve_color: str = "off"
    style_scale: float = 1.0
    init: str = "content"
    weights: str = "procedural"
    advanced: dict = field(default_factory=dict)  # {StyleConfig field: text or value}

    def config(self) -> StyleConfig:
        """The StyleConfig these controls mean; ConfigError quotes a bad value."""
        advanced = {name: parse_field(name, value) for name, value in self.advanced.items()}
        # Only the ratio matters to the result, so alpha stays 1 and the
        # slider moves beta over decades.
        return StyleConfig(
            max_size=int(self.size), iterations=int(self.iterations), alpha=1.0,
            beta=10.0 ** float(self.strength), style_scale=float(self.style_scale),
            preserve_color=None if self.preserve_color in (None, "off") else self.preserve_color,
            init=self.init, weights=self.weights, **advanced)


def default_strength(weights: str) -> float:
    """The slider's start for these weights: the demo's balanced ratio."""
    return math.log10(demo_beta(weights))


def available_weights(requested: str) -> tuple[list[str], str]:
    """(weights the page offers, a one-line note). The requested source
    comes first when it loads; the offline sources, procedural then random,
    are always there."""
    from ..weights.sources import imagenet_weights_path

    try:
        if requested == "imagenet":
            imagenet_weights_path()
        elif requested not in OFFLINE and not Path(requested).exists():
            raise WeightsError(f"{requested}: no such weights file")
    except WeightsError as error:
        return list(OFFLINE), (f"{str(error).split(';')[0]}; the page offers "
                               f"{' and '.join(OFFLINE)} weights")
    choices = list(dict.fromkeys([requested, *OFFLINE]))
    return choices, f"weights offered: {', '.join(choices)}"
