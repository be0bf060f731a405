"""The run plan: every scale a run will optimise, computed once, and where a
run stands in it.

A plan is a value: each scale's (height, width) and iterations, in order,
the last at the final size, and the digest of the settings that change
results. It is printed before any work, written into every record and
checkpoint, and it is what a resume continues. `remaining` is the one
answer to "what is left of this plan": `synthesis.stylize` runs what it
says, so every workflow on top (`tfstyle resume`, batch resumes and Ray
retries through `workflows.resume`, video frames, figure panels, the page)
continues a plan the same way.

    plan = plan_run(config, final_size=(384, 512))
    left = remaining(plan, Position(scale=0, done_in_scale=50), total=plan.total)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from dataclasses import dataclass

from .errors import ConfigError, RecordError
from .preprocess import fit_size

# Settings that change no result: how the objective is evaluated (XLA,
# tiles, the memory that plans them) or how long a run goes on. A resume
# that asks for more iterations, or a machine that races XLA differently,
# keeps the same digest.
NOT_IN_DIGEST = ("iterations", "scale_iterations", "jit", "tile_size", "memory_limit",
                 "device_memory_limit")


@dataclass(frozen=True)
class Scale:
    size: tuple[int, int]  # (height, width)
    iterations: int

    def to_dict(self) -> dict:
        return {"size": list(self.size), "iterations": self.iterations}


@dataclass(frozen=True)
class Position:
    """Where a run stands: `done_in_scale` iterations into scale `scale`. A
    scale that ran to its end hands on: the position is then the next
    scale's start, (scale + 1, 0), except at the final scale."""
    scale: int = 0
    done_in_scale: int = 0

    def to_dict(self) -> dict:
        return {"scale": self.scale, "done_in_scale": self.done_in_scale}


@dataclass
class Start:
    """Where a resumed run picks up: its position in the plan, the iterations
    done, and the optimised pixels there (network space: grey under
    luminance-only transfer), at the scale's size, or at the previous
    scale's when the position is a scale's start."""
    position: Position
    done: int
    x: object  # (H, W, 3) float32 NumPy array


@dataclass(frozen=True)
class RunPlan:
    scales: tuple[Scale, ...]
    digest: str  # settings_digest of the run's inputs and config
    # The optimiser that runs (memory.plan_memory chooses it from the budget
    # at the start): kept, so a resume under another budget cannot switch it.
    driver: str | None = None

    @property
    def final_size(self) -> tuple[int, int]:
        return self.scales[-1].size

    @property
    def total(self) -> int:
        return sum(s.iterations for s in self.scales)

    def done(self, position: Position) -> int:
        """Iterations done when the run stands at `position`, by the plan."""
        return sum(s.iterations for s in self.scales[:position.scale]) + position.done_in_scale

    def position_after(self, done: int) -> Position:
        """The position `done` iterations into the plan, by its counts (for
        records written before plans had positions)."""
        for index, scale in enumerate(self.scales):
            if done < scale.iterations:
                return Position(index, done)
            done -= scale.iterations
        return Position(len(self.scales) - 1, self.scales[-1].iterations + done)

    def describe(self) -> str:
        return "; ".join(f"scale {k + 1}: {s.size[1]}x{s.size[0]} px, {s.iterations} iterations"
                         for k, s in enumerate(self.scales))

    def to_dict(self) -> dict:
        return {"scales": [s.to_dict() for s in self.scales], "digest": self.digest,
                "driver": self.driver, "final_size": list(self.final_size), "total": self.total}

    @classmethod
    def from_dict(cls, data: dict) -> "RunPlan":
        try:
            scales = tuple(Scale((int(s["size"][0]), int(s["size"][1])), int(s["iterations"]))
                           for s in data["scales"])
            digest = str(data["digest"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise RecordError("the record's run plan is damaged") from None
        if not scales:
            raise RecordError("the record's run plan has no scales")
        return cls(scales, digest, data.get("driver"))


def fit_down(shape, longest: int, upscale: bool = False) -> tuple[int, int]:
    """(height, width) with the longest side at most `longest` (exactly
    `longest` with upscale), the aspect ratio kept."""
    height, width = int(shape[0]), int(shape[1])
    if max(height, width) <= longest and not upscale:
        return (height, width)
    return fit_size((height, width), longest)


def plan_run(config, final_size, inputs: dict | None = None) -> RunPlan:
    """The plan of a run whose output is `final_size` (height, width) px:
    config.schedule_for's scales, each at its size; the digest of the
    config and `inputs` (the files, for the record)."""
    scales = []
    for longest, iterations in config.schedule_for(max(final_size)):
        size = tuple(final_size) if longest is None else fit_down(final_size, longest,
                                                                  upscale=True)
        if iterations > 0:
            scales.append(Scale(size, iterations))
    if not scales:
        raise ConfigError("scale_iterations", "the schedule has no iterations to run")
    return RunPlan(tuple(scales), settings_digest(config, inputs))


def single_scale(config, size, iterations: int, inputs: dict | None = None) -> RunPlan:
    """A plan of one scale at `size`: a later video frame, which starts from
    its warped predecessor at the final size."""
    return RunPlan((Scale(tuple(size), iterations),), settings_digest(config, inputs))


def short_of_final(plan: RunPlan, position: Position) -> bool:
    """Whether a run standing at `position` has yet to run at the final
    size: before the final scale, or at its start (the pixels are then the
    scale before's)."""
    last = len(plan.scales) - 1
    return position.scale < last or (last > 0 and position.done_in_scale == 0)


def remaining(plan: RunPlan, position: Position, total: int | None = None,
              done: int | None = None) -> list:
    """What is left of `plan` from `position`: [(scale index, Scale with the
    iterations still to run)], ending at the final scale.

    total: the iterations the whole run should reach (default the plan's);
    done: the iterations run so far (default the plan's count up to
    `position`; fewer after a scale that converged early).
    More than the plan holds adds the rest to the final scale; fewer takes
    them off the later scales first, but the final scale keeps at least one
    iteration, so a run always ends at the planned final size (with one
    iteration there even when `total` is already reached before it).
    """
    total = plan.total if total is None else total
    budget = total - (plan.done(position) if done is None else done)
    indices = list(range(min(position.scale, len(plan.scales) - 1), len(plan.scales)))
    counts = [max(0, plan.scales[i].iterations
                  - (position.done_in_scale if i == position.scale else 0)) for i in indices]
    last = len(plan.scales) - 1
    if budget <= 0:  # done; but never short of the final size
        return [(last, Scale(plan.final_size, 1))] if short_of_final(plan, position) else []
    if sum(counts) <= budget:
        counts[-1] += budget - sum(counts)  # extra iterations go to the final scale
    else:
        excess = sum(counts) - budget
        for k in reversed(range(len(counts))):  # later scales give theirs up first
            cut = min(excess, max(0, counts[k] - (1 if k == len(counts) - 1 else 0)))
            counts[k] -= cut
            excess -= cut
    return [(i, Scale(plan.scales[i].size, c)) for i, c in zip(indices, counts) if c > 0]


def run_length(config) -> dict:
    """How long a run goes on (NOT_IN_DIGEST's iterations), for the inputs
    of a digest that must tell runs of other lengths apart: a batch job, a
    video's frames or a figure's panels, which are done once finished,
    where a transfer's resume may ask for more."""
    settings = config.to_dict()
    return {"iterations": settings["iterations"], "scale_iterations": settings["scale_iterations"]}


def _named_file(setting: str) -> str:
    """A word as it is; a file as its name and a hash of its bytes."""
    if setting in ("network",):
        return setting
    try:
        return f"{setting} sha1 {hashlib.sha1(Path(setting).read_bytes()).hexdigest()}"
    except OSError:
        return setting


def settings_digest(config, inputs: dict | None = None) -> str:
    """What makes two runs the same run: the inputs and every setting that
    changes the result (NOT_IN_DIGEST excepted), resolved, so that a later
    change of a default gives another digest rather than a silent mix.

    The one digest of a run's settings: batch jobs, videos, figure panels
    and quality-grid cells put what they add (their files, the video's
    settings, run_length) into `inputs`."""
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_DIGEST}
    settings["beta"] = config.resolved_beta
    # pair and off were normalize true and false: their records keep their digest.
    # A scales file is its content, not only its name.
    settings["normalize"] = {"pair": True, "off": False}.get(config.normalize) \
        if config.normalize in ("pair", "off") else _named_file(config.normalize)
    data = json.dumps({"inputs": inputs or {}, "config": settings}, sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()
