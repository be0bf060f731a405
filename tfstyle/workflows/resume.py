"""`tfstyle resume`: a transfer continued from its run record, the rest of
its plan from the exact pixels of its last checkpoint.

    picked = tfstyle.workflows.resume.resume("out.json", iterations=800)
    result = picked.run()

Batch reruns and Ray retries resume their jobs through here too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import StyleConfig
from ..errors import ImageError, OutputError, RecordError
from ..io.files import load_array
from ..io.images import ImageWarning, load_image
from ..plan import Position, Start, fit_down, plan_run, settings_digest
from .record import plan_resume
from .runs import TransferRun, digest_inputs


@dataclass
class Resume:
    """A run picked up from its record: call `run()` to continue it."""
    run_files: TransferRun
    config: StyleConfig
    plan: object  # plan.RunPlan
    start: object  # synthesis.Start
    total: int  # the iterations the whole run reaches

    @property
    def start_iteration(self) -> int:
        return self.start.done

    def run(self, callback=None, extractor=None):
        return self.run_files.run(self.config, callback=callback, extractor=extractor,
                                  plan=self.plan, start=self.start, total=self.total)


def resume(record_file, iterations: int | None = None, plot: bool = True) -> Resume:
    """Continue an earlier transfer: the rest of its plan, from where its
    checkpoint stands, up to `iterations` in all (default the plan's total;
    more adds them to the final scale).

    It starts from the exact pixels of the checkpoint (or, for a finished
    run, from its image); L-BFGS starts with an empty curvature history,
    which the new record says (`resumed_from`, `note`).
    """
    picked = plan_resume(record_file, iterations)
    kept = picked["checkpoints"]
    files = TransferRun(picked["inputs"]["content"], picked["inputs"]["styles"],
                        picked["output"], overwrite=True, plot=plot,
                        save_every=int(kept.get("snapshots_every", 0)),
                        checkpoint_every=int(kept.get("every", 0)),
                        checkpoint_seconds=float(kept.get("seconds", 60.0)))
    config, plan, position = picked["config"], picked["plan"], picked["position"]
    if plan is None:  # a record from before run plans: its config's plan, at the photo's size
        photo = load_image(files.inputs["content"], max_size=max((config.max_size,
                                                                    *config.scales)))
        plan = plan_run(config, fit_down(photo.shape, config.max_size),
                        digest_inputs(files.inputs))
        position = plan.position_after(picked["done"])
    if settings_digest(config, digest_inputs(files.inputs)) != plan.digest:
        raise RecordError(f"{record_file}: its settings do not match its plan's digest; was "
                          "the record edited?")
    x = _start_pixels(picked, config)
    _check_start(record_file, plan, position, x)
    files.history, done = picked["history"], picked["done"]
    files.extra = {"resumed_from": done,
                   "note": f"L-BFGS restarted its curvature history at iteration {done}"}
    return Resume(files, config, plan, Start(position, done, x), picked["total"])


def _check_start(record_file, plan, position, x):
    """The pixels must be those of the position: its scale's size mid-scale,
    or at a scale's start that of the scale before (or its own)."""
    index = min(position.scale, len(plan.scales) - 1)
    sizes = {plan.scales[index].size}
    if position.done_in_scale == 0 and index > 0:
        sizes.add(plan.scales[index - 1].size)
    if tuple(x.shape[:2]) not in sizes and position != Position():
        raise RecordError(f"{record_file}: its checkpoint is {x.shape[1]}x{x.shape[0]} px, not "
                          f"the size of scale {index + 1} of its plan; cannot resume")


def _start_pixels(picked: dict, config: StyleConfig) -> np.ndarray:
    """The pixels a resume starts from: the exact checkpoint, else the image
    (in network space: grey under luminance-only transfer)."""
    from ..core import color

    checkpoint = picked["checkpoint"]
    if checkpoint and Path(checkpoint).suffix == ".npy":
        try:
            return load_array(checkpoint)
        except ImageError as error:  # the 8-bit image of the same pixels will do
            warnings.warn(ImageWarning(f"{error}; resuming from the checkpoint's 8-bit image"))
            checkpoint = picked.get("checkpoint_image")
    start = Path(checkpoint or picked["output"])
    if not start.exists():
        raise OutputError(f"{start}: the run's image is missing; cannot resume")
    image = load_image(start)
    if config.preserve_color == "luminance":
        image = color.grey(color.luminance(image))
    return image
