"""Optimiser drivers: minimise f(x) within pixel bounds for a set number of
iterations, keeping the best point seen.

This module knows nothing of TensorFlow or of style transfer: `fun(x)`
returns `(value, gradient)` for an array `x`, and `callback(step, x, value)`
is told of every accepted iterate (returning False stops the run).
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
