"""Image and record files: the only module that reads or writes images.

Every write goes to a temporary file in the destination folder, then
`os.replace` moves it into place, so a reader sees either the old file or the
whole new one, never a mix, and an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import ImageError, OutputError, RecordError, one_line
from .preprocess import fit_size, resize, to_uint8

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


def write_json(path, data) -> Path:
    """JSON as the standard has it: a NaN or infinite number is written as
    null (a bare NaN would make the file unreadable to strict readers)."""
    path = Path(path)
    text = json.dumps(_finite(data), indent=2, default=_json_default, allow_nan=False)
    with atomic_writer(path, mode="w") as handle:
        handle.write(text + "\n")
    return path


def append_json_line(path, data) -> Path:
    """Append `data` to `path` as one JSON line, on disk when this returns:
    one write of the whole line, then fsync, so after a crash the line is
    whole, or torn without its newline (read_json_lines skips that). For
    logs that grow, where rewriting the whole file each time is quadratic."""
    path = Path(path)
    line = json.dumps(_finite(data), default=_json_default, allow_nan=False) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({one_line(error)})") from None
    return path


def write_json_lines(path, values) -> Path:
    """A whole JSON-lines file, atomically (a log rewritten from what is
    known, dropping a torn line)."""
    path = Path(path)
    text = "".join(json.dumps(_finite(v), default=_json_default, allow_nan=False) + "\n"
                   for v in values)
    with atomic_writer(path, mode="w") as handle:
        handle.write(text)
    return path


def read_json_lines(path) -> list:
    """The values append_json_line wrote; a missing file holds none, and a
    torn last line (no newline) is left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: not readable ({one_line(error)})") from None
    values = []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        try:
            values.append(json.loads(line))
        except ValueError:
            raise RecordError(f"{path}: line {number} is not JSON") from None
    return values


def save_array(path, array: np.ndarray) -> Path:
    """A float32 array as .npy, atomically: a checkpoint a run continues from
    exactly (an 8-bit image would round every pixel)."""
    path = Path(path)
    with atomic_writer(path) as handle:
        np.save(handle, np.asarray(array, np.float32), allow_pickle=False)
    return path


def load_array(path) -> np.ndarray:
    """An array save_array wrote; ImageError when it is missing or damaged."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            array = np.load(handle, allow_pickle=False)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as error:
        raise ImageError(f"{path}: not a readable checkpoint ({one_line(error)})") from None
    if array.ndim != 3 or array.shape[-1] != 3 or not np.isfinite(array).all():
        raise ImageError(f"{path}: not a checkpoint image (shape {array.shape})")
    return array.astype(np.float32)


def _finite(value):
    """`value` with every NaN or infinite float replaced by None."""
    if isinstance(value, float) or isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    return value


def read_json(path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:
        raise ImageError(f"{path}: not a readable JSON file ({one_line(error)})") from None


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb"):
    """Yield a temporary file beside `path`; move it over `path` on success."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{folder}: output folder does not exist")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(f"{folder}: cannot write here ({one_line(error)})") from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({one_line(error)})") from None
        raise


def check_output_folder(folder, names=(), overwrite: bool = False) -> Path:
    """Fail early if `folder` cannot hold a run's files: it must be a folder
    or not exist yet, in an existing parent, and none of `names` may be in
    it already unless `overwrite`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise OutputError(f"{folder.parent}: output folder does not exist")
    clashes = [name for name in names if (folder / name).exists()]
    if clashes and not overwrite:
        raise OutputError(f"{folder / clashes[0]}: already exists (use --overwrite to replace it)")
    return folder


def check_writable(path, overwrite: bool = False, inputs=()) -> Path:
    """Fail early, before a long run, if `path` could not be written."""
    path = Path(path)
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise OutputError(f"{path}: is an input; refusing to write over it")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name such as out.png")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists (use --overwrite to replace it)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{folder}: output folder does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{folder}: output folder is not writable")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
