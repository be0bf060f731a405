"""Image files: the only module that reads or writes images (through
`files.atomic_writer`, so a write is whole or absent).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import ImageError, OutputError, one_line
from ..preprocess import fit_size, resize, to_uint8

from .files import _json_default, atomic_writer

# Pillow's own guard against decompression bombs (about 89 megapixels).
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS
SAVE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageWarning(UserWarning):
    """Something about an input image the user should know (a dropped frame)."""


def load_image(path, max_size: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image as float32 RGB (H, W, 3) in [0, 255].

    EXIF orientation is applied, every Pillow mode is turned into RGB
    (transparency is composited on white), and the image is shrunk with a
    Lanczos filter so its longest side is at most `max_size`. Images larger
    than `max_pixels` are refused before their pixels are decoded.
    """
    path = check_readable(path)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_pixels(path, image.size, max_pixels)
                if getattr(image, "n_frames", 1) > 1:
                    warnings.warn(f"{path}: has {image.n_frames} frames; using the first",
                                  ImageWarning, stacklevel=2)
                if max_size and image.format == "JPEG":
                    # Decode large JPEGs at a reduced scale (still >= max_size).
                    image.draft("RGB", (max_size, max_size))
                image.load()
                image = ImageOps.exif_transpose(image)
                array = _to_rgb(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit stays a hard cap; --max-pixels can only lower it.
        raise ImageError(f"{path}: too many pixels, over the limit of {Image.MAX_IMAGE_PIXELS} "
                         "(Pillow's decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise ImageError(f"{path}: corrupt or truncated image ({one_line(error)})") from None
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{path}: image has no pixels")
    if max_size and max(array.shape[:2]) > max_size:
        array = resize(array, fit_size(array.shape[:2], max_size))
    return array


def load_mask(path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A mask image as float32 (H, W) in [0, 1]: its luminance, white = 1."""
    rgb = load_image(path, max_pixels=max_pixels)
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0


# A pixel belongs to a listed region colour when no channel is further from
# it than this: enough for JPEG's ringing, far below the distance between
# distinct flat colours. Pixels within REGION_EDGE px of such pixels are
# edges (JPEG's chroma subsampling smears two pixels) and go to the nearest
# listed colour.
REGION_TOLERANCE = 40
REGION_EDGE = 2


def region_masks(path, colours, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> list[np.ndarray]:
    """One (H, W) mask per (r, g, b) in `colours` from an image of flat
    colours. A colour in the image that is not listed (away from the edges
    of the listed ones) is refused, naming it."""
    from scipy.ndimage import binary_dilation

    rgb = load_image(path, max_pixels=max_pixels)
    distance = np.stack([np.abs(rgb - np.asarray(c, np.float32)).max(axis=2)
                         for c in colours])  # (K, H, W)
    nearest = np.argmin(distance, axis=0)  # (H, W)
    covered = binary_dilation(distance.min(axis=0) <= REGION_TOLERANCE, iterations=REGION_EDGE)
    masks = [((nearest == k) & covered).astype(np.float32) for k in range(len(colours))]
    unlisted = ~covered
    if unlisted.any():
        values, counts = np.unique(rgb[unlisted].astype(np.uint8), axis=0, return_counts=True)
        r, g, b = values[np.argmax(counts)]
        raise ImageError(f"{path}: has the colour #{r:02x}{g:02x}{b:02x} on "
                         f"{unlisted.mean():.1%} of its pixels, which --region-styles does not list")
    for (r, g, b), mask in zip(colours, masks):
        if not mask.any():
            raise ImageError(f"{path}: the listed colour #{r:02x}{g:02x}{b:02x} is not in the image")
    return masks


def check_aspect(path, mask_shape, image_shape, what: str, tolerance: float = 0.01):
    """Refuse a mask whose aspect ratio differs from its image's by more than
    `tolerance`: stretching it would move the regions."""
    mask_ratio = mask_shape[1] / mask_shape[0]
    image_ratio = image_shape[1] / image_shape[0]
    if abs(mask_ratio - image_ratio) > tolerance * image_ratio:
        raise ImageError(f"{path}: {mask_shape[1]}x{mask_shape[0]} has another aspect ratio than "
                         f"{what} ({image_shape[1]}x{image_shape[0]}); stretching it would move "
                         "the regions")


def check_readable(path) -> Path:
    """Fail fast on a missing input, before anything slow starts."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise ImageError(f"{path}: not readable (permission denied)")
    return path


def _check_pixels(path, size, max_pixels):
    width, height = size
    if max_pixels and width * height > max_pixels:
        raise ImageError(f"{path}: {width}x{height} is {width * height} pixels, over the limit "
                         f"of {max_pixels} (raise it with --max-pixels)")


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> float32 RGB in [0, 255]."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (Pillow reads 16-bit PNGs as I;16 or I).
        grey = np.asarray(image, dtype=np.float32) / 257.0
        return np.repeat(np.clip(grey, 0, 255)[..., None], 3, axis=2)
    if image.mode == "F":
        grey = np.asarray(image, dtype=np.float32)
        grey = grey * 255.0 if grey.max(initial=0) <= 1.0 else grey
        return np.repeat(np.clip(grey, 0, 255)[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def save_image(path, array: np.ndarray, metadata: dict | None = None,
               fast: bool = False) -> Path:
    """Write an RGB array as PNG or JPEG (by suffix), atomically.

    `metadata` goes into PNG text chunks (JSON for non-strings) or, for JPEG,
    into the comment as one JSON object. fast: the least PNG compression, for
    checkpoints (a 3072 px print's image then takes a fraction of a second).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        raise OutputError(f"{path}: unsupported output type {suffix or '(none)'}; use .png or .jpg")
    image = Image.fromarray(to_uint8(array), "RGB")
    options = {}
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in (metadata or {}).items():
            info.add_text(key, value if isinstance(value, str)
                          else json.dumps(value, default=_json_default))
        options = {"format": "PNG", "pnginfo": info, "compress_level": 1 if fast else 6}
    else:
        options = {"format": "JPEG", "quality": 95}
        if metadata:
            options["comment"] = json.dumps(metadata, default=_json_default)
    with atomic_writer(path) as handle:
        image.save(handle, **options)
    return path


def read_metadata(path) -> dict:
    """The text metadata save_image wrote (PNG text chunks or JPEG comment)."""
    with Image.open(path) as image:
        if image.format == "PNG":
            return dict(image.text)
        comment = image.info.get("comment")
        return json.loads(comment) if comment else {}
