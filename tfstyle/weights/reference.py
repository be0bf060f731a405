"""The reference set the network is normalised on: seeded synthetic images
with the statistics of natural photos, the same on every machine.

The paper rescaled VGG19 so that each filter's mean activation over
ImageNet's images and positions is 1. ImageNet cannot be downloaded here,
and a set that must be fetched is not the same everywhere, so tfstyle
normalises on images it draws itself (`tfstyle normalize` takes real ones):

- occlusion: a dead-leaves image (Lee, Mumford & Huang 2001), opaque discs
  of radii with density r^-3 stacked over one another, which gives
  natural images' scale invariance, their 1/f^2 power spectrum and their
  sharp edges at every orientation;
- texture: each image's luminance modulated by 1/f noise, so no region is
  flat (weights.procedural.pink_noise, the spectrum its filters are set on);
- colour: leaf colours drawn along natural images' decorrelated axes
  (Ruderman, Cronin & Chiao 1998): luminance carries most of the variance,
  blue-yellow less, red-green least, with a tint per image (its light);
- optics: a slight blur, as a lens gives, so no edge is aliased.

Scale invariance is why drawn images serve: a filter's mean activation over
them does not depend on the size they are drawn at, as it would for any one
texture. The demo's drawings were not chosen: three images, flat-shaded.

    images = reference_images()  # (64, 224, 224, 3) float32 RGB in [0, 255]
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from .procedural import pink_noise

# The set's name in run records and cache keys: a change of any constant
# here is a new version, so no cached scale is of another set.
REFERENCE_VERSION = "reference set v1"
REFERENCE_COUNT = 64  # images; the scales from 64 and 128 agree (docs/weights.md)
REFERENCE_SIZE = 224  # px, ImageNet's crop, on which the paper normalised
REFERENCE_SEED = 2015

# Dead leaves: disc radii between these, as fractions of the side, with
# density r^-3, painted front to back until covered or out of discs.
RADIUS_RANGE = (0.01, 1.0)
DISCS = 4000
TEXTURE = 0.12  # the 1/f luminance modulation's RMS, relative
BLUR = 0.4  # px, the lens's Gaussian
# Natural colours (RGB units of [0, 1]): the axes, each with its spread.
BLUE_YELLOW_AXIS = np.array([1.0, 1.0, -2.0]) / np.sqrt(6)
RED_GREEN_AXIS = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
SPREADS = (0.22, 0.08, 0.04)  # luminance (per channel), blue-yellow, red-green


@functools.lru_cache(maxsize=1)
def reference_images(count: int = REFERENCE_COUNT, size: int = REFERENCE_SIZE,
                     seed: int = REFERENCE_SEED) -> np.ndarray:
    """(count, size, size, 3) float32 RGB in [0, 255], read-only (kept for
    the process: 38 MB, drawn in about 5 s); image k is the same whatever
    `count` is, so a larger set extends a smaller one."""
    images = np.stack([reference_image(size, seed, k) for k in range(count)])
    images.flags.writeable = False
    return images


def reference_image(size: int, seed: int, index: int) -> np.ndarray:
    """One image of the set: (size, size, 3) float32 in [0, 255]."""
    rng = np.random.default_rng([seed, index])
    image = _dead_leaves(rng, size)  # (S, S, 3) in about [0, 1]
    texture = pink_noise(size, int(rng.integers(2**31)))[..., :1] / 60.0  # (S, S, 1), RMS 1
    image = image * (1.0 + TEXTURE * texture)
    image = ndimage.gaussian_filter(image, (BLUR, BLUR, 0))
    return (np.clip(image, 0.0, 1.0) * 255.0).astype(np.float32)


def _dead_leaves(rng, size: int) -> np.ndarray:
    """Discs front to back: each paints only what no nearer disc covers."""
    tint = rng.normal(0.0, 0.04, 3)  # the light, per image
    image = np.zeros((size, size, 3))
    covered = np.zeros((size, size), bool)
    low, high = (r * size for r in RADIUS_RANGE)
    # Inverse CDF of the density r^-3 on [low, high].
    u = rng.uniform(size=DISCS)
    radii = (low ** -2 - u * (low ** -2 - high ** -2)) ** -0.5
    centres = rng.uniform(-0.1 * size, 1.1 * size, (DISCS, 2))
    colours = _leaf_colours(rng, DISCS) + tint
    for (cy, cx), radius, colour in zip(centres, radii, colours):
        y0, y1 = max(int(cy - radius), 0), min(int(cy + radius) + 2, size)
        x0, x1 = max(int(cx - radius), 0), min(int(cx + radius) + 2, size)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        inside = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2) & ~covered[y0:y1, x0:x1]
        image[y0:y1, x0:x1][inside] = colour
        covered[y0:y1, x0:x1] |= inside
    # What no disc reached takes the mean colour of what they did.
    image[~covered] = image[covered].mean(axis=0) if covered.any() else 0.5
    return image


def _leaf_colours(rng, count: int) -> np.ndarray:
    """(count, 3) RGB around mid grey along the natural axes; saturation
    varies from leaf to leaf (log-normal), as flowers stand out of foliage."""
    luminance, blue_yellow, red_green = (rng.normal(0.0, s, count) for s in SPREADS)
    saturation = rng.lognormal(0.0, 0.5, count)
    return (0.5 + luminance[:, None]
            + saturation[:, None] * (blue_yellow[:, None] * BLUE_YELLOW_AXIS
                                     + red_green[:, None] * RED_GREEN_AXIS))
