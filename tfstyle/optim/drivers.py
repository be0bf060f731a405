"""Optimiser drivers: minimise f(x) within pixel bounds for a set number of
iterations, keeping the best point seen.

This module knows nothing of TensorFlow or of style transfer: `fun(x)`
returns `(value, gradient)` for an array `x`, and `callback(step, x, value)`
is told of every accepted iterate (returning False stops the run). It also
says what each driver holds, for tiling's memory plan (driver_bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize

STOP_ITERATIONS = "iterations"
STOP_CALLBACK = "callback"
STOP_INTERRUPTED = "interrupted"
STOP_NONFINITE = "nonfinite"
STOP_CONVERGED = "converged"

# scipy (1.17) turns `Bounds(lower, upper)` into one Python (lower, upper)
# tuple per value (`standardize_bounds` -> `new_bounds_to_old`), back into
# arrays (`old_bound_to_new`), and walks them in a Python loop, on every
# `minimize` call, so again at every restart. `minimize` keeps the tuples
# until it returns, so they sit beside every evaluation. RSS of a bounded
# call over an unbounded one, Intel(R) Xeon(R) Processor, AVX-512 yes, scipy
# 1.17.1: peak 171 bytes a value at 3 x 1024^2 values and 181 at 3 x 2048^2,
# 162-194 during the evaluations (tracemalloc sees 136: the rest is
# pymalloc's arenas).
BOUNDS_BYTES_PER_VALUE = 195.0

# The share of the host's budget scipy's bounds objects may take; beyond
# it, large images go to the projected L-BFGS (lbfgs_device, on the host),
# which makes no per-value Python objects. Why a tenth: they are the
# least certain charge (RSS 162-194 bytes a value against tracemalloc's 136,
# and scipy's version decides it), and at a tenth even twice the estimate
# stays inside the headroom tiles leave (tiling.PLAN_SHARE); and its Python
# loops cost 3-13 us a value per call here (9-40 s at 1024 px, 81 s at
# 2048 px, again at every restart), against seconds for an evaluation.
SCIPY_BOUNDS_SHARE = 0.10


@dataclass
class Outcome:
    x: np.ndarray  # the best point seen, shaped like x0
    value: float  # f at x
    iterations: int  # accepted iterates
    evaluations: int  # calls of fun
    stop_reason: str
    message: str = ""
    restarts: int = 0  # fresh L-BFGS-B starts after its line search gave up
    rejected: int = 0  # trial points whose value or gradient was NaN or infinite


class _Stop(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Tracker:
    """Wraps fun: counts calls and keeps the best point.

    A NaN or infinite value at a point the driver must accept (the start, or
    any Adam step) stops the run. With `reject_nonfinite`, such a value at a
    line-search trial point is answered with a value far above the best one
    and a zero gradient, so the line search backs off to a shorter step
    instead of ending the run (it happens under mixed_float16, where a long
    trial step can overflow).
    """

    def __init__(self, fun, shape, reject_nonfinite=False):
        self.fun, self.shape = fun, shape
        self.reject_nonfinite = reject_nonfinite
        self.best_x, self.best_value = None, math.inf
        self.evaluations = 0
        self.rejected = 0
        self.last_rejected = False

    def __call__(self, x):
        value, grad = self.fun(x.reshape(self.shape))
        self.evaluations += 1
        self.last_rejected = not (math.isfinite(value) and np.isfinite(grad).all())
        if self.last_rejected:
            if not self.reject_nonfinite or self.best_x is None:
                raise _Stop(STOP_NONFINITE)
            self.rejected += 1
            penalty = abs(self.best_value) * 1e6 + 1e6
            return penalty, np.zeros_like(grad)
        if value < self.best_value:
            self.best_value, self.best_x = value, np.array(x, copy=True)
        return value, grad

    def outcome(self, x0, iterations, reason, message="", restarts=0):
        x = self.best_x if self.best_x is not None else np.asarray(x0, np.float64).ravel()
        return Outcome(x.reshape(self.shape), self.best_value, iterations, self.evaluations,
                       reason, message, restarts, self.rejected)


def bounds_bytes(values: int) -> float:
    """The memory scipy's L-BFGS-B holds for the bounds of `values`
    variables through each minimize call (see BOUNDS_BYTES_PER_VALUE)."""
    return BOUNDS_BYTES_PER_VALUE * int(values)


def scipy_bounds_fit(values: int, budget_bytes: float) -> bool:
    """Whether scipy's bounds objects for `values` variables stay within
    SCIPY_BOUNDS_SHARE of a host budget of `budget_bytes`; when it does not,
    run the projected L-BFGS instead (at 10 GB: up to 5.1 million values,
    a 1307 px square)."""
    return bounds_bytes(values) <= SCIPY_BOUNDS_SHARE * float(budget_bytes)


def scipy_lbfgs_bytes(values: int, history_size: int) -> float:
    """scipy's L-BFGS-B over `values` variables, in float64 vectors: the
    work array's 2 x history_size + 5 (scipy 1.17, `_lbfgsb_py`), the point,
    gradient and two bounds, the integer arrays (two vectors' worth), and
    the driver's best point, float64 gradient, scipy's copies of the point
    and gradient and the float32 image and gradient: 2 x history_size + 16.
    The bounds' Python objects come on top, per call (bounds_bytes)."""
    return (2 * history_size + 16) * 8.0 * values


def projected_lbfgs_bytes(values: int, history_size: int) -> float:
    """lbfgs_device's projected L-BFGS, in float32 vectors, at its peak (the
    line search): the history's 2 x history_size and its zero pad, the
    point, gradient, direction and free mask, the trial point and gradient,
    the sufficient-decrease point and gradient, and x0, plus two for
    tensors TensorFlow frees late: 2 x history_size + 12. (The two-loop
    recursion's temporaries come when no trial point is alive.)"""
    return (2 * history_size + 12) * 4.0 * values


def adam_bytes(values: int) -> float:
    """minimize_adam in float32 NumPy: the point, gradient, two moments and
    their corrected copies, the best point, three temporaries of the update."""
    return 10 * 4.0 * values


def driver_for(optimizer: str, values: int, host_budget: float) -> str:
    """The driver that runs `optimizer`: lbfgs (scipy) becomes
    lbfgs-projected (the projected L-BFGS, on the host) where scipy's bounds
    would not fit (scipy_bounds_fit)."""
    if optimizer == "lbfgs" and not scipy_bounds_fit(values, host_budget):
        return "lbfgs-projected"
    return optimizer


def driver_bytes(driver: str, values: int, history_size: int) -> dict[str, float]:
    """What `driver` holds over `values` variables: {"optimizer": on the
    host, "bounds": scipy's bounds objects, "device": on the network's device}."""
    held = {"optimizer": 0.0, "bounds": 0.0, "device": 0.0}
    if driver == "lbfgs":
        held.update(optimizer=scipy_lbfgs_bytes(values, history_size), bounds=bounds_bytes(values))
    elif driver == "lbfgs-projected":
        held["optimizer"] = projected_lbfgs_bytes(values, history_size)
    elif driver == "lbfgs-device":
        held["device"] = projected_lbfgs_bytes(values, history_size)
    else:
        held["optimizer"] = adam_bytes(values)
    return held


def minimize_lbfgs(fun, x0, bounds, iterations, callback=None, history_size=10) -> Outcome:
    """scipy's L-BFGS-B for exactly `iterations` accepted steps.

    scipy's default tolerances end a style transfer after a dozen steps;
    they are set to zero so the budget decides. If the line search still
    gives up early, L-BFGS-B restarts from the best point with a fresh
    curvature history, as long as the last restart made progress. A trial
    point with a non-finite loss is rejected (see _Tracker); the run stops as
    "nonfinite" only when no finite step can be found.
    """
    shape = np.shape(x0)
    tracker = _Tracker(lambda x: _as_float64(fun(x)), shape, reject_nonfinite=True)
    lower, upper = bounds
    done, reason, restarts = 0, None, -1
    x = np.asarray(x0, np.float64).ravel()

    def on_iterate(intermediate_result):
        nonlocal done, reason
        done += 1
        if callback is not None and callback(done, intermediate_result.x.reshape(shape),
                                             float(intermediate_result.fun)) is False:
            reason = STOP_CALLBACK
        elif done >= iterations:
            reason = STOP_ITERATIONS
        if reason:
            raise StopIteration  # scipy ends the run cleanly

    try:
        while done < iterations:
            start, restarts = done, restarts + 1
            result = scipy.optimize.minimize(
                tracker, x, jac=True, method="L-BFGS-B",
                bounds=scipy.optimize.Bounds(lower, upper),
                callback=on_iterate,
                options={"maxiter": iterations - done, "maxfun": 50 * (iterations - done) + 50,
                         "ftol": 0.0, "gtol": 0.0, "maxcor": history_size},
            )
            if reason:
                return tracker.outcome(x0, done, reason, restarts=restarts)
            if done == start:  # no step possible from here
                # Every trial ended non-finite: the loss blew up, not converged.
                stop = STOP_NONFINITE if tracker.last_rejected else STOP_CONVERGED
                return tracker.outcome(x0, done, stop, str(result.message), restarts)
            x = tracker.best_x
    except _Stop as stop:
        return tracker.outcome(x0, done, stop.reason, restarts=max(restarts, 0))
    except KeyboardInterrupt:
        return tracker.outcome(x0, done, STOP_INTERRUPTED, restarts=max(restarts, 0))
    return tracker.outcome(x0, done, STOP_ITERATIONS, restarts=restarts)


def minimize_adam(fun, x0, bounds, iterations, callback=None, learning_rate=2.0,
                  beta1=0.9, beta2=0.999, epsilon=1e-8) -> Outcome:
    """Adam steps, each followed by clipping to the bounds.

    The callback hears each evaluated point with its own value, as with
    L-BFGS-B, so reported losses always belong to the image reported.
    """
    shape = np.shape(x0)
    tracker = _Tracker(fun, shape)
    lower, upper = bounds
    x = np.asarray(x0, np.float32).ravel().copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    done = 0
    try:
        for step in range(1, iterations + 1):
            value, grad = tracker(x)
            evaluated = x
            grad = np.asarray(grad, np.float32).ravel()
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            x = np.clip(x - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), lower, upper)
            done = step
            if callback is not None and callback(done, evaluated.reshape(shape), value) is False:
                return tracker.outcome(x0, done, STOP_CALLBACK)
        # The last step's result has not been evaluated; score it so it can win.
        tracker(x)
    except _Stop as stop:
        return tracker.outcome(x0, done, stop.reason)
    except KeyboardInterrupt:
        return tracker.outcome(x0, done, STOP_INTERRUPTED)
    return tracker.outcome(x0, done, STOP_ITERATIONS)


def _as_float64(value_grad):
    value, grad = value_grad
    # L-BFGS-B's Fortran core works in float64 on a flat vector.
    return float(value), np.asarray(grad, np.float64).ravel()
