"""Files written whole or not at all: JSON records, JSON lines, float
arrays, and the checks that an output can be written.

Every write goes to a temporary file in the destination folder, then
`os.replace` moves it into place, so a reader sees either the old file or the
whole new one, never a mix, and an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ImageError, OutputError, RecordError, one_line


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
        raise RecordError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:
        raise RecordError(f"{path}: not a readable JSON file ({one_line(error)})") from None


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


def free_disk_bytes(folder) -> float:
    """The bytes a user may still write in `folder`, or the nearest existing
    folder above it (one not made yet lands there)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return float(shutil.disk_usage(folder).free)


def check_disk(folder, needed: dict, reserve_bytes: float = 0.0) -> None:
    """Refuse, before any work, a run whose files cannot fit in the free disk
    of `folder`: `needed` is {what: bytes} (outputs, checkpoints, frames),
    said in the one line with the figures. `reserve_bytes` is left free
    for everything else the machine writes."""
    total, free = float(sum(needed.values())), free_disk_bytes(folder)
    if total + reserve_bytes > free:
        parts = ", ".join(f"{what} {size / 1e9:.2f}" for what, size in needed.items() if size)
        raise OutputError(f"{folder}: needs about {total / 1e9:.2f} GB of disk ({parts}), "
                          f"but only {free / 1e9:.2f} GB is free")


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


def folder_bytes(folder) -> int:
    """The bytes the files under `folder` hold (0 when it is gone); files
    that vanish while it is walked, as a sweeper deletes them, count 0."""
    total = 0
    for path, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(path, name)).st_size
    return total
