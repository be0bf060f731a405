"""The JSON run record written beside every image: enough to reproduce it,
and to rebuild the run's config from it (`plan_resume`)."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

from ..io.files import read_json
from ..config import StyleConfig
from ..errors import ConfigError, RecordError, TfstyleError


def versions() -> dict:
    import keras
    import numpy
    import PIL
    import scipy
    import tensorflow

    from ..version import installed_version
    return {"tfstyle": installed_version(), "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


# 2: the run plan, the position in it, every setting resolved (beta too), the
# per-scale counts. Records of schema 1 (no "schema" key) still resume.
SCHEMA = 2


def run_record(result, inputs: dict, output, status: str = "finished", **extra) -> dict:
    """Every setting, the weights, seed, versions, per-iteration losses and time.

    status: "running" for checkpoints, "finished", "interrupted" or "failed".
    """
    from ..core.normalization import describe

    last = result.history[-1] if result.history else {}
    plan = result.plan
    return {
        "schema": SCHEMA,
        "status": status,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "output": str(output),
        "inputs": {k: (str(v) if isinstance(v, Path) else v) for k, v in inputs.items()},
        "config": resolved(result.config),
        "weights": result.weights,
        "normalization": describe(result.config.normalize),
        "alpha_beta": alpha_beta(result.config),
        "seed": result.config.seed,
        "stop_reason": result.stop_reason,
        "iterations": result.iterations,
        "plan": plan.to_dict() if plan is not None else None,
        "settings_digest": plan.digest if plan is not None else None,
        "position": result.position.to_dict(),
        "scales": result.scales,
        "memory": result.memory,
        "driver": result.driver,
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


def resolved(config: StyleConfig) -> dict:
    """The config with every default written out as the value it had, so a
    later change of a default never changes how this run resumes."""
    return config.replace(beta=config.resolved_beta).to_dict()


def alpha_beta(config: StyleConfig) -> dict:
    """The weights of content and style as used, and where beta came from."""
    beta = config.resolved_beta
    return {"alpha": config.alpha, "beta": beta,
            "ratio": config.alpha / beta if beta else None,
            "beta_from": "set" if config.beta is not None
            else f"default for {config.weights} weights"}


def image_metadata(record: dict) -> dict:
    """The settings (not the history) for the image file's own metadata."""
    keys = ("config", "weights", "normalization", "seed", "inputs", "iterations", "final_loss", "versions")
    return {"tfstyle": {k: record[k] for k in keys if k in record}}


def read_record(path) -> dict:
    try:
        return read_json(path)
    except TfstyleError as error:
        raise RecordError(str(error)) from None


def plan_resume(path, iterations: int | None = None) -> dict:
    """What continuing a transfer's record needs: its config, inputs,
    output, plan, position, iterations done, history and checkpoint, and the
    total to reach (`iterations`, default the plan's)."""
    from ..plan import Position, RunPlan, short_of_final

    record = read_record(path)
    try:
        config = StyleConfig.from_dict(record["config"])
        inputs = {"content": Path(record["inputs"]["content"]),
                  "styles": [Path(p) for p in record["inputs"]["styles"]]}
        output, done = Path(record["output"]), int(record["iterations"])
        history = list(record.get("history", []))
        plan = RunPlan.from_dict(record["plan"]) if record.get("plan") else None
        position = Position(**record["position"]) if record.get("position") else None
        if position is not None and not all(
                type(v) is int for v in (position.scale, position.done_in_scale)):
            raise TypeError("a position holds whole numbers")
    except ConfigError as error:
        raise RecordError(f"{path}: the record's settings are not valid ({error})") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RecordError(f"{path}: not a tfstyle run record") from None
    except RecordError as error:
        raise RecordError(f"{path}: {error}") from None
    total = plan.total if iterations is None and plan is not None else iterations
    if total is None:
        total = config.iterations  # a record from before run plans
    least = done
    if plan is not None and position is not None:
        if not 0 <= position.scale < len(plan.scales) or position.done_in_scale < 0:
            raise RecordError(f"{path}: its position is outside its run plan")
        # Short of the final size, at least one iteration must run there.
        least = done + short_of_final(plan, position)
    if isinstance(total, bool) or not isinstance(total, int) or total < least:
        raise ConfigError("iterations", f"the run already has {done} iterations; ask for at "
                                        f"least {least}")
    return {"config": config, "inputs": inputs, "output": output, "done": done,
            "history": history, "checkpoint": record.get("checkpoint"), "plan": plan,
            "position": position, "total": total, "status": record.get("status"),
            "checkpoints": record.get("checkpoints") or {},
            "checkpoint_image": record.get("checkpoint_image")}
