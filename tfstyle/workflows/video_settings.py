"""What a video adds to a transfer's StyleConfig (`VideoSettings`): the
temporal weight, how later frames start, their iterations and the shots.
Light to import (no TensorFlow, no OpenCV), for the CLI's argument checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import StyleConfig
from ..errors import ConfigError

FRAME_INITS = ("warped", "content", "noise")


@dataclass(frozen=True)
class VideoSettings:
    """What a video adds to a transfer's StyleConfig."""
    # gamma, in TemporalTerm's units (per D_l/2 of the content layer, so its
    # balance against the content holds at any frame size). Ruder et al.'s
    # 200 was tuned against raw Caffe features; on our normalised ones it
    # freezes the frames (README, "Video": temporal error 0.00, style loss
    # 6x the independent frames'), so the default is measured: the largest
    # gamma that keeps the style loss near the independent frames'.
    temporal_weight: float = 0.005
    frame_init: str = "warped"  # warped (Ruder et al.), content or noise (independent frames)
    first_frame_iterations: int | None = None  # default: config.iterations
    frame_iterations: int | None = None  # default: half the first's, as the paper gives later frames fewer
    shot_length: int = 0  # frames per shot; 0: shots end only at detected cuts
    shot_overlap: int = 1  # frames a fixed-length shot starts early, cross-faded at its start
    cut_threshold: float = 0.12  # mean |frame - warped previous frame| / 255 that marks a cut

    def __post_init__(self):
        if not (self.temporal_weight >= 0 and np.isfinite(self.temporal_weight)):
            raise ConfigError("temporal_weight", f"expected a number >= 0, received "
                                                 f"{self.temporal_weight!r}")
        if self.frame_init not in FRAME_INITS:
            raise ConfigError("frame_init", f"expected one of {', '.join(FRAME_INITS)}, "
                                            f"received {self.frame_init!r}")
        for name in ("first_frame_iterations", "frame_iterations"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(name, f"expected a whole number from 1, received {value!r}")
        if self.shot_length < 0 or self.shot_overlap < 0:
            raise ConfigError("shot_length", "shot length and overlap must be >= 0")
        if not 0 < self.cut_threshold:
            raise ConfigError("cut_threshold", f"expected a number > 0, received "
                                               f"{self.cut_threshold!r}")

    def iterations(self, config: StyleConfig) -> tuple[int, int]:
        first = self.first_frame_iterations or config.iterations
        return first, self.frame_iterations or max(1, first // 2)
