"""What a run tells whoever watches it: one stream of small typed events.

The core and every workflow report through one callback, `callback(event)`,
and the CLI (cli/progress.py), the page and the notebook render the stream.
A transfer says `Planned` once, then an `Iterate` after every iteration
(returning False from the callback there ends the run), and `TileDone` during a
tiled evaluation. A video wraps each frame's events in `Frame`, a figure
brackets each panel's in `Panel` events, a batch says `JobsPlanned`,
`JobProgress` and `JobFinished`, a benchmark a `Row` per measurement, and
any of them may `Say` a line.

A watcher that wants only some kinds wraps its function: `only(Iterate, fn)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def as_is(x: np.ndarray) -> np.ndarray:
    """The image as optimised (no rendering)."""
    return x


@dataclass
class Iterate:
    """After every iteration of a run."""
    iteration: int  # counted over the whole run, across scales
    total: float  # the weighted sum of the terms
    terms: dict[str, float]  # {term name: unweighted value}, as the Objective names them
    seconds: float  # since the run started
    point: Any = field(repr=False)  # the optimised pixels, NumPy or a device tensor
    size: tuple[int, int]  # (height, width) of the current scale
    scale: int  # index into the coarse-to-fine schedule
    render: Callable[[np.ndarray], np.ndarray] = field(default=as_is, repr=False)
    jit: str = ""  # which path evaluates the objective, and why (JitChoice.description)
    done_in_scale: int = 0  # accepted iterations of this scale, counting a resumed start
    scale_iterations: int = 0  # where this scale ends, in the same count

    @property
    def x(self) -> np.ndarray:
        """The optimised (H, W, 3) pixels; copy them to keep them. Under
        lbfgs-device they leave the device only when someone looks."""
        if not isinstance(self.point, np.ndarray):
            self.point = np.asarray(self.point)
        return self.point

    @property
    def image(self) -> np.ndarray:
        """The image as the run's output would show it now: `x`, or under
        luminance-only transfer `x`'s luminance in the photo's colours.
        Computed on demand, so iterations nobody looks at cost nothing."""
        return self.render(self.x)

    def record(self) -> dict:
        return {"iteration": self.iteration, "total": self.total, **self.terms,
                "seconds": round(self.seconds, 4), "size": list(self.size)}


@dataclass(frozen=True)
class Planned:
    """Once, before any work: every scale the run will optimise, with its
    size, iterations, tiles and memory (core.scales.ScalePlan), and the run
    plan with the optimiser the memory plan chose (plan.RunPlan)."""
    scales: tuple
    plan: Any = None


@dataclass(frozen=True)
class TileDone:
    """A tiled evaluation's progress: pass 1 computes values, pass 2 gradients."""
    tile: int  # 1-based
    tiles: int
    step: int  # 1 or 2


@dataclass(frozen=True)
class Say:
    """A line for the person watching."""
    text: str


@dataclass(frozen=True)
class Frame:
    """An event of one video frame (1-based)."""
    frame: int
    event: Any


@dataclass(frozen=True)
class Panel:
    """A figure's panel starting, finished, or kept from disk; the panel's
    iterations come between its "started" and its "finished"."""
    index: int  # 0-based
    count: int
    cell: Any  # the paper.Cell
    status: str  # "started", "finished" or "kept"
    result: Any = None  # the synthesis.Result once finished
    path: Any = None


@dataclass(frozen=True)
class JobsPlanned:
    """A batch's jobs, before the first starts, and where they run."""
    count: int
    engine: str = "local"  # or "ray"


@dataclass(frozen=True)
class JobProgress:
    """{job id: iterations so far} of the jobs running now: a job that
    starts appears with 0, one that stopped running is left out."""
    iterations: dict


@dataclass(frozen=True)
class JobFinished:
    """A job's end: its status (done, skipped, failed or interrupted), its
    seconds, its error or reason in one line, and its whole outcome (the
    job's batch.json entry)."""
    job_id: str
    status: str
    seconds: float
    detail: str = ""
    outcome: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, outcome: dict) -> "JobFinished":
        detail = outcome.get("error") or outcome.get("reason") or ""
        return cls(outcome["id"], outcome["status"], outcome["seconds"], detail, outcome)


@dataclass(frozen=True)
class Row:
    """One measurement of a benchmark: {heading: value}."""
    values: dict


# What a callback may hear (for type hints: `def callback(event: Event)`).
Event = Iterate | Planned | TileDone | Say | Frame | Panel | JobsPlanned | JobProgress | JobFinished \
    | Row


def only(kinds, function: Callable) -> Callable:
    """A callback that hands `function` the events of `kinds` (a type or a
    tuple of types) and ignores the rest: `only(Iterate, print)`."""

    def callback(event):
        if isinstance(event, kinds):
            return function(event)
        return None

    return callback


def emit(callback: Callable | None, event):
    """Tell the callback, if there is one; its answer (False stops a run at
    an Iterate)."""
    return None if callback is None else callback(event)
