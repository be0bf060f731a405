"""Image arrays before the network: sizes, resizing and the initial image,
and the one way back to 8 bits.

Arrays are float32 RGB (H, W, 3) in [0, 255] throughout.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def fit_size(shape, max_size: int) -> tuple[int, int]:
    """(height, width) scaled so the longest side is `max_size`."""
    height, width = shape[:2]
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(array: np.ndarray, size) -> np.ndarray:
    """Resize (H, W, 3) to `size` = (height, width) with Pillow's Lanczos filter.

    Each channel goes through Pillow as a 32-bit float image, so no precision
    is lost to 8-bit rounding between coarse-to-fine scales.
    """
    height, width = size
    if array.shape[:2] == (height, width):
        return array.astype(np.float32, copy=False)
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(array[..., c], dtype=np.float32), "F")
                   .resize((width, height), Image.Resampling.LANCZOS))
        for c in range(array.shape[2])
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.float32)


def resize_mask(mask: np.ndarray, size) -> np.ndarray:
    """An (H, W) mask in [0, 1] resized to `size` like an image, kept in [0, 1]."""
    mask = np.asarray(mask, np.float32)
    return np.clip(resize(mask[..., None] * 255.0, size)[..., 0] / 255.0, 0.0, 1.0)


def scale_to(array: np.ndarray, longest_side: int) -> np.ndarray:
    return resize(array, fit_size(array.shape, longest_side))


def white_noise(shape, seed: int) -> np.ndarray:
    """Seeded uniform white noise in [0, 255], the paper's starting image."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 255.0, size=tuple(shape[:2]) + (3,)).astype(np.float32)


def to_uint8(array: np.ndarray) -> np.ndarray:
    """A float image in [0, 255] as uint8: rounded to the nearest level
    (never truncated, which would darken by half a level on average), then
    clipped. Every 8-bit image tfstyle makes goes through here."""
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)
