"""Whole runs raced against each other, for `tfstyle bench`'s options:

- `--coarse-to-fine`: how soon coarse-to-fine reaches a single-scale run's
  final loss (coarse_to_fine_race);
- `--drivers`: scipy's L-BFGS-B against lbfgs-device after the same
  iterations (drivers_race);
- `--batch-jobs N`: the same batch on the local engine and on Ray
  (batch_overhead).
"""

from __future__ import annotations

import statistics
import time

from ..config import StyleConfig
from ..events import Iterate, only
from ..workflows.demo import demo_content, demo_style
from ..core.extractor import FeatureExtractor


def coarse_to_fine_race(size: int = 512, iterations: int = 300, coarse: int = 256,
                        config: StyleConfig | None = None, content=None, style=None) -> dict:
    """Wall time for coarse-to-fine (`coarse` then `size`) to reach the final
    total loss of a single-scale run of `iterations` at `size`."""
    from ..core.synthesis import stylize

    config = (config or StyleConfig(weights="random")).replace(max_size=size, iterations=iterations)
    content = demo_content(size) if content is None else content
    style = demo_style(size) if style is None else style
    extractor = FeatureExtractor.for_config(config)
    single = stylize(content, style, config, extractor=extractor)
    target = single.history[-1]["total"]
    reached = {}

    def until_target(it):
        if it.scale == 1 and it.total <= target:
            reached.update(seconds=it.seconds, iteration=it.iteration)
            return False
        return None

    staged = stylize(content, style, config.replace(scales=(coarse, size),
                                                    scale_iterations=(iterations, iterations)),
                     extractor=extractor, callback=only(Iterate, until_target))
    coarse_iterations = sum(1 for h in staged.history if max(h["size"]) == coarse)
    return {"size": size, "coarse": coarse, "iterations": iterations,
            "single_seconds": single.seconds, "single_final_loss": target,
            "coarse_to_fine_seconds": reached.get("seconds"),
            "coarse_to_fine_iterations": reached.get("iteration"),
            "coarse_iterations": coarse_iterations,
            "coarse_to_fine_final_loss": staged.history[-1]["total"],
            "reached": bool(reached)}


def drivers_race(size: int = 192, iterations: int = 200, config: StyleConfig | None = None,
                 extractor=None) -> dict:
    """Final losses and seconds of scipy's L-BFGS-B and lbfgs-device after
    `iterations` on the demo images, from the same start (the photo), with
    the demo's style weight."""
    from ..workflows.demo import demo_beta
    from ..core.synthesis import stylize

    config = (config or StyleConfig(weights="random")).replace(max_size=size,
                                                               iterations=iterations)
    extractor = extractor or FeatureExtractor.for_config(config)
    config = config.replace(beta=demo_beta(config.weights))
    content, style = demo_content(size), demo_style(size)
    row = {"size": size, "iterations": iterations}
    for driver in ("lbfgs", "lbfgs-device"):
        result = stylize(content, style, config.replace(optimizer=driver), extractor=extractor)
        row[driver] = {"final_loss": result.history[-1]["total"], "seconds": result.seconds,
                       "iterations": result.iterations, "stop_reason": result.stop_reason}
    row["loss_ratio"] = row["lbfgs-device"]["final_loss"] / row["lbfgs"]["final_loss"]
    return row


def batch_overhead(jobs: int = 8, size: int = 256, iterations: int = 60,
                   config: StyleConfig | None = None, cpus_per_job: float = 1.0) -> dict:
    """Wall time of the same `jobs` transfers (demo drawings, `size` px,
    `iterations` each) with the local engine and with Ray (a local instance,
    `cpus_per_job` each), and the traces each job made."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from ..workflows.batch import run_batch
    from ..io.images import save_image
    from ..workflows.jobs import cross_product

    config = (config or StyleConfig(weights="random")).replace(max_size=size,
                                                               iterations=iterations)
    row = {"jobs": jobs, "size": size, "iterations": iterations, "cpus_per_job": cpus_per_job}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for k in range(jobs):
            # A different photo per job: the drawing shifted by k eighths.
            photo = demo_content(size)
            save_image(folder / f"photo{k}.png", np.roll(photo, k * photo.shape[1] // 8, axis=1))
        save_image(folder / "painting.png", demo_style(size))
        planned = cross_product(str(folder / "photo*.png"), str(folder / "painting.png"), config)
        for engine in ("local", "ray"):
            start = time.perf_counter()
            record = run_batch(planned, folder / engine, config, engine=engine,
                               cpus_per_job=cpus_per_job)
            row[f"{engine}_s"] = time.perf_counter() - start
            row[f"{engine}_job_s"] = statistics.median(j["seconds"] for j in record["jobs"])
            row[f"{engine}_traces"] = [j.get("traces") for j in record["jobs"]]
            row[f"{engine}_failed"] = record["summary"]["failed"]
    row["ray_overhead"] = row["ray_s"] / row["local_s"] - 1.0
    return row
