"""tfstyle's cache folder: small JSON tables of choices measured on this
machine (the XLA race's winners) and arrays computed once (a network's
channel scales), kept between runs. A missing or broken
table is an empty one, and one that cannot be written costs a measurement
next time, never the run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import OutputError
from .files import atomic_writer


def cache_dir() -> Path:
    """$TFSTYLE_CACHE_DIR, else the user cache folder ($XDG_CACHE_HOME or
    ~/.cache) under tfstyle/."""
    explicit = os.environ.get("TFSTYLE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfstyle"


def read_table(name: str) -> dict:
    """The table `name` (a file in the cache folder); {} when missing or broken."""
    try:
        data = json.loads((cache_dir() / name).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def store_entry(name: str, key: str, value) -> None:
    """Set one entry of the table `name`, atomically (files.atomic_writer:
    a reader sees the old table or the new, and a failed write leaves no
    temporary file); an unwritable cache is skipped in silence."""
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = read_table(name)
        data[key] = value
        with atomic_writer(path, mode="w") as handle:
            handle.write(json.dumps(data, indent=1, sort_keys=True))
    except (OSError, OutputError):
        pass


def read_array(name: str):
    """The array kept as `name` (a .npy file in the cache folder), or None
    when missing or broken."""
    import numpy as np

    try:
        return np.load(cache_dir() / f"{name}.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None


def store_array(name: str, array) -> None:
    """Keep `array` as `name`, atomically; an unwritable cache is skipped
    in silence (the array is computed again next time)."""
    import numpy as np

    path = cache_dir() / f"{name}.npy"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
    except (OSError, OutputError):
        pass
