"""Choosing XLA by measurement (`StyleConfig.jit = "auto"`).

Which is faster, TensorFlow's own kernels (oneDNN on the CPU) or XLA, is
not a property of the code: on a 2-core Intel AVX-512 machine oneDNN won by
10-15%, on a 2-core AMD EPYC XLA won by 1.5x at 512 px. So `auto` times both
paths at the first evaluation of a size (one warm-up, then two timed
evaluations each, in the run's own time) and keeps the faster one. The
choice is cached per machine (CPU or GPU model, TensorFlow version,
precision, network depth) and size bucket, so later runs skip the race.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

from ..io.cache import read_table, store_entry

CACHE_FILE = "jit.json"
TIMED_RUNS = 2  # per path, after one warm-up


@dataclass(frozen=True)
class JitChoice:
    """Whether the objective of one size runs under XLA, and why."""
    xla: bool
    reason: str  # "set", "raced", "cached" or "XLA failed"
    seconds: dict = field(default_factory=dict)  # {"on"/"off": seconds per evaluation}

    @functools.cached_property
    def description(self) -> str:
        """For the progress line, e.g. "no XLA (raced: XLA 2.1 s, no XLA 1.88 s)"."""
        path = "XLA" if self.xla else "no XLA"
        if self.seconds:
            timed = ", ".join(f"{'XLA' if k == 'on' else 'no XLA'} {v:.3g} s"
                              for k, v in sorted(self.seconds.items(), reverse=True))
            return f"{path} ({self.reason}: {timed})"
        return f"{path} ({self.reason})"

    def to_dict(self) -> dict:
        return {"xla": self.xla, "reason": self.reason,
                "seconds": {k: float(f"{v:.4g}") for k, v in self.seconds.items()}}


def size_bucket(height: int, width: int) -> int:
    """Images whose pixel counts are within a factor of about 1.4 of each
    other share a bucket, named by the side of a square of that area."""
    return int(round(2 ** (round(2 * math.log2(max(height * width, 1))) / 4)))


def cache_key(network: str, precision: str, height: int, width: int) -> str:
    import tensorflow as tf

    from .device import device_name

    return (f"{device_name()} | TF {tf.__version__} | {precision} | {network} | "
            f"{size_bucket(height, width)} px")


def cached(key: str) -> JitChoice | None:
    entry = read_table(CACHE_FILE).get(key)
    try:
        return JitChoice(bool(entry["xla"]), "cached",
                         {k: float(v) for k, v in entry.get("seconds", {}).items()})
    except (TypeError, KeyError, ValueError, AttributeError):
        return None  # no entry, or one this version cannot read


def store(key: str, choice: JitChoice) -> None:
    """Add one choice to the cache; one that cannot be written costs a race
    next time, never the run."""
    store_entry(CACHE_FILE, key, {"xla": choice.xla, "seconds": choice.to_dict()["seconds"]})


def race(run_without, run_with, timed: int = TIMED_RUNS) -> JitChoice:
    """Time two evaluations (after a warm-up that traces and compiles) of
    each path; the faster, by its quicker timing, wins. A path that fails to
    compile under XLA loses by default."""
    seconds = {"off": _best_of(run_without, timed)}
    try:
        seconds["on"] = _best_of(run_with, timed)
    except Exception as error:  # XLA can refuse an op or a device
        reason = f"XLA failed: {type(error).__name__}"
        return JitChoice(False, reason, seconds)
    return JitChoice(seconds["on"] < seconds["off"], "raced", seconds)


def _best_of(run, timed: int) -> float:
    run()  # trace and compile
    times = []
    for _ in range(timed):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
