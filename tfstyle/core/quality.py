"""Two numbers for how a result looks next to its sources: colour speckle
and brush strokes.

Both are ratios of fine-detail ("band") energy. Each image is resized to
256 px wide with Lanczos and turned into YIQ, and its band is
`x - gaussian_filter(x, sigma=1 px)` per channel. The result's band energy is
divided by the larger of the painting's and the photo's, so detail that
either source really has costs nothing:

- speckle = band energy of I + Q (the chroma) in the result / the sources';
  colour noise that neither source has raises it;
- strokes = band energy of Y (the luminance) in the result / the sources';
  blurring everything lowers it.

    tfstyle.core.quality.quality(result, [painting], photo)
    # {"speckle": 0.8, "strokes": 0.7, ...}
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ..errors import ConfigError
from .color import rgb_to_yiq

WIDTH = 256  # every image is compared at this width
SIGMA = 1.0  # px at WIDTH: the band is what a 1 px Gaussian removes


def at_width(image: np.ndarray, width: int = WIDTH) -> np.ndarray:
    """(H, W, 3) RGB in [0, 255], resized to `width` px wide with Lanczos."""
    image = np.asarray(image, np.float32)
    if image.shape[1] == width:
        return image.astype(np.float64)
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    channels = [Image.fromarray(image[..., c], mode="F").resize((width, height), Image.LANCZOS)
                for c in range(3)]  # float per channel: no rounding to 8 bits
    return np.stack([np.asarray(c, np.float64) for c in channels], axis=-1)


def band_energy(image: np.ndarray) -> np.ndarray:
    """Mean squared band of Y, I and Q, (3,), for an (H, W, 3) RGB image
    in [0, 255] already at the comparison width."""
    yiq = rgb_to_yiq(np.asarray(image, np.float64) / 255.0)  # (H, W, 3)
    band = yiq - np.stack([gaussian_filter(yiq[..., c], SIGMA) for c in range(3)], axis=-1)
    return np.mean(band ** 2, axis=(0, 1))


def quality(result: np.ndarray, paintings, photo: np.ndarray | None = None) -> dict:
    """{"speckle", "strokes"} of `result` against the paintings and the photo
    (each (H, W, 3) RGB in [0, 255], any size), plus the band energies."""
    sources = [np.asarray(p) for p in paintings] + ([] if photo is None else [photo])
    if not sources:
        raise ConfigError(None, "quality needs a painting or a photo to compare with")
    # (luminance, chroma) band energies: Y, and I + Q
    mine = _split(band_energy(at_width(result)))
    theirs = np.max([_split(band_energy(at_width(s))) for s in sources], axis=0)
    tiny = 1e-12  # a flat source: any detail in the result reads as very large
    return {"speckle": float(mine[1] / max(theirs[1], tiny)),
            "strokes": float(mine[0] / max(theirs[0], tiny)),
            "band_energy": {"result": {"Y": float(mine[0]), "IQ": float(mine[1])},
                            "sources": {"Y": float(theirs[0]), "IQ": float(theirs[1])}}}


def _split(energy: np.ndarray) -> np.ndarray:
    """(Y, I + Q) from per-channel band energies."""
    return np.array([energy[0], energy[1] + energy[2]])
