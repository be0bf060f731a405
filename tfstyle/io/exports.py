"""The metadata of a SavedModel that `tfstyle export` wrote (its
`assets/tfstyle.json`), and where the SavedModel is in a TF Serving base
folder. Plain files, read without TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import WeightsError

# The export's metadata asset (written by workflows/export.py, read here).
METADATA_FILE = "tfstyle.json"


def read_export_metadata(path) -> dict:
    meta = Path(path) / "assets" / METADATA_FILE
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        raise WeightsError(f"{path}: not a tfstyle export (no readable assets/{METADATA_FILE})") from None


def saved_model_folder(path) -> Path:
    """The SavedModel at `path`, or the newest version under a TF Serving
    base folder."""
    path = Path(path)
    if not (path / "saved_model.pb").exists():
        versions = sorted((p for p in path.glob("[0-9]*") if (p / "saved_model.pb").exists()),
                          key=lambda p: int(p.name) if p.name.isdigit() else -1)
        if not versions:
            raise WeightsError(f"{path}: not a SavedModel folder (no saved_model.pb)")
        path = versions[-1]
    return path
