"""The scales file `tfstyle normalize` writes and `--normalize PATH` reads:
a NumPy .npz of one float32 (C,) array per layer, named by paper name, and
`meta`, JSON text saying what they were made from (the weights, a digest of
the kernels up to each layer, the pooling, the images)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError, one_line
from ..layers import LAYERS
from .files import atomic_writer

FORMAT = "tfstyle channel scales"


def write_scales(path, scales: dict, meta: dict) -> Path:
    """Write {layer: (C,) scales} and `meta` to `path`, atomically."""
    path = Path(path)
    arrays = {name: np.asarray(s, np.float32) for name, s in scales.items()}
    text = json.dumps({"format": FORMAT, **meta}, sort_keys=True)
    with atomic_writer(path) as handle:
        np.savez(handle, meta=np.array(text), **arrays)
    return path


def read_scales(path) -> tuple[dict[str, np.ndarray], dict]:
    """({layer: (C,) float32 scales}, meta) of a scales file; ConfigError,
    quoting the file, when it is missing, damaged or not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            scales = {n: np.asarray(data[n], np.float32) for n in data.files if n in LAYERS}
    except FileNotFoundError:
        raise ConfigError("normalize", f"{path}: no such scales file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ConfigError("normalize", f"{path}: not a scales file written by tfstyle normalize "
                                       f"({one_line(error, limit=120)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError("normalize", f"{path}: not a scales file written by tfstyle normalize")
    for name, s in scales.items():
        if s.ndim != 1 or not np.all(np.isfinite(s)) or not np.all(s > 0):
            raise ConfigError("normalize", f"{path}: its {name} scales are not positive "
                                           f"numbers, one per channel")
    return scales, meta
