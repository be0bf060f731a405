"""The JSON run record written beside every image: enough to reproduce it,
and to rebuild the run's config from it (`plan_resume`)."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

from .config import StyleConfig
from .errors import ConfigError, RecordError, TfstyleError


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


def run_record(result, inputs: dict, output, status: str = "finished", **extra) -> dict:
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
        "alpha_beta": alpha_beta(result.config),
        "seed": result.config.seed,
        "stop_reason": result.stop_reason,
        "iterations": result.iterations,
        "seconds": round(result.seconds, 3),
        "initial_loss": result.initial.get("total"),
        "initial_terms": result.initial,
        "final_loss": last.get("total"),
        "size": list(result.image.shape[:2]),
        "traces": result.traces,
        "jit": result.jit,
        "versions": versions(),
        **extra,
        "history": result.history,
    }


def alpha_beta(config: StyleConfig) -> dict:
    """The weights of content and style as used, and where beta came from."""
    beta = config.style_weight
    return {"alpha": config.alpha, "beta": beta,
            "ratio": config.alpha / beta if beta else None,
            "beta_from": "set" if config.beta is not None
            else f"default for {config.weights} weights"}


def image_metadata(record: dict) -> dict:
    """The settings (not the history) for the image file's own metadata."""
    keys = ("config", "weights", "seed", "inputs", "iterations", "final_loss", "versions")
    return {"tfstyle": {k: record[k] for k in keys if k in record}}


def read_record(path) -> dict:
    from .io import read_json

    try:
        return read_json(path)
    except TfstyleError as error:
        raise RecordError(str(error)) from None


def plan_resume(path, iterations: int) -> dict:
    """What continuing a transfer's record up to `iterations` needs: its
    config (one scale, at the final size, for the remaining iterations), its
    inputs, output, checkpoint, history and iterations done."""
    record = read_record(path)
    try:
        config = StyleConfig.from_dict(record["config"])
        inputs = {"content": Path(record["inputs"]["content"]),
                  "styles": [Path(p) for p in record["inputs"]["styles"]]}
        output, done = Path(record["output"]), int(record["iterations"])
        history = list(record.get("history", []))
        final = max(record.get("size") or [config.max_size])
    except ConfigError as error:
        raise RecordError(f"{path}: the record's settings are not valid ({error})") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RecordError(f"{path}: not a tfstyle run record") from None
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations <= done:
        raise ConfigError("iterations", f"the run already has {done} iterations; "
                                        f"ask for more than that")
    # A resumed run is one scale at the final size, starting from the image.
    config = config.replace(iterations=iterations - done, scales=(), scale_iterations=None,
                            max_size=final, init="content")
    return {"config": config, "inputs": inputs, "output": output, "done": done,
            "history": history, "checkpoint": record.get("checkpoint")}
