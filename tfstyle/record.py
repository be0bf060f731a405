"""The JSON run record written beside every image: enough to reproduce it."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

from .synthesis import Result


def versions() -> dict:
    import keras
    import numpy
    import PIL
    import scipy
    import tensorflow

    from . import __version__
    return {"tfstyle": __version__, "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


def run_record(result: Result, inputs: dict, output, status: str = "finished", **extra) -> dict:
    """Every setting, the weights, seed, versions, per-iteration losses and time.

    status: "running" for checkpoints, "finished", "interrupted" or "failed".
    """
    last = result.history[-1] if result.history else {}
    return {
        "status": status,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "output": str(output),
        "inputs": {k: (str(v) if isinstance(v, Path) else v) for k, v in inputs.items()},
        "config": result.config.to_dict(),
        "weights": result.weights,
        "seed": result.config.seed,
        "stop_reason": result.stop_reason,
        "iterations": result.iterations,
        "seconds": round(result.seconds, 3),
        "initial_loss": result.initial.get("total"),
        "initial_terms": result.initial,
        "final_loss": last.get("total"),
        "size": list(result.image.shape[:2]),
        "traces": result.traces,
        "versions": versions(),
        **extra,
        "history": result.history,
    }


def image_metadata(record: dict) -> dict:
    """The settings (not the history) for the image file's own metadata."""
    keys = ("config", "weights", "seed", "inputs", "iterations", "final_loss", "versions")
    return {"tfstyle": {k: record[k] for k in keys if k in record}}
