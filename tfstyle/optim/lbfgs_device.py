"""L-BFGS on the network's device (`--optimizer lbfgs-device`).

scipy's L-BFGS-B (the default, `optim.minimize_lbfgs`) runs on the host in
float64: every evaluation copies the gradient off the device and the next
point back, and the update itself is CPU work (about 0.1 s per iteration at
512 px here). This driver keeps the iterate, the gradient and the curvature
history as float32 tensors where the network runs; only scalars (the loss
and a few dot products) reach Python, which steers the line search.

The method, and where it departs from L-BFGS-B:
- the direction is the two-loop recursion (Nocedal & Wright, Alg. 7.4) over
  the last `history_size` pairs, with H0 = (s.y / y.y) I;
- bounds by projection (Bertsekas' projected quasi-Newton): pixels at a
  bound whose gradient pushes outward are held fixed for the step, the
  direction is computed on the others, and every trial point is clipped
  to the box. L-BFGS-B instead follows the Cauchy point and a subspace
  minimisation;
- the line search brackets a step meeting the weak Wolfe conditions
  (Armijo c1 = 1e-4, curvature c2 = 0.9) along the projected path, by
  doubling and bisection (Lewis & Overton 2013), in place of More-Thuente.
  Should it find only sufficient decrease, that step is taken; a pair with
  s.y <= 0 is not added to the history;
- the first step has length 1/||g||, as scipy's, and may grow by doubling.
An iteration is one accepted step, as with scipy. A trial point with a NaN
or infinite loss counts as too long a step (it is `rejected`); when no step
is found, the history is dropped and the search restarts from the best point,
once per stall, as the scipy driver does.
"""

from __future__ import annotations

import math

import tensorflow as tf

from .drivers import (STOP_CALLBACK, STOP_CONVERGED, STOP_INTERRUPTED, STOP_ITERATIONS,
                      STOP_NONFINITE, Outcome)

ARMIJO = 1e-4  # c1
CURVATURE = 0.9  # c2, the usual value for quasi-Newton methods
MAX_TRIALS = 20  # evaluations per line search


@tf.function(autograph=False)
def _free(x, g, lower, upper):
    """1 where the pixel may move this step, 0 where it sits at a bound and
    the gradient pushes it outward."""
    held = tf.logical_or(tf.logical_and(x <= lower, g > 0), tf.logical_and(x >= upper, g < 0))
    return 1.0 - tf.cast(held, x.dtype)


@tf.function(autograph=False)
def _two_loop(g, free, s_list, y_list, valid):
    """d = -H g on the free pixels, and g.d.

    s_list, y_list: history_size pairs, oldest first; valid[i] is 0 for the
    zero pairs that pad a short history, which then change nothing. Always
    the same number of arguments, so it is traced once per image size.
    """
    q = g * free
    sy = [tf.reduce_sum(s * y) for s, y in zip(s_list, y_list)]
    rhos = [v / (p + (1.0 - v)) for v, p in zip(tf.unstack(valid), sy)]
    alphas = []
    for s, y, rho in reversed(list(zip(s_list, y_list, rhos))):
        alpha = rho * tf.reduce_sum(s * q)
        q = q - alpha * y * free
        alphas.append(alpha)
    newest = valid[-1]
    yy = tf.reduce_sum(y_list[-1] * y_list[-1])
    q = q * (newest * sy[-1] / (yy + (1.0 - newest)) + (1.0 - newest))  # H0 = gamma I
    for (s, y, rho), alpha in zip(zip(s_list, y_list, rhos), reversed(alphas)):
        beta = rho * tf.reduce_sum(y * q)
        q = q + (alpha - beta) * s * free
    d = -q * free
    return d, tf.reduce_sum(g * d)


class _History:
    """The last `size` (s, y) pairs, padded with zero pairs at the old end."""

    def __init__(self, size: int, like):
        self.size, self.zero = size, tf.zeros_like(like)
        self.pairs: list = []

    def __len__(self):
        return len(self.pairs)

    def add(self, s, y):
        self.pairs = (self.pairs + [(s, y)])[-self.size:]

    def clear(self):
        self.pairs = []

    def direction(self, g, free):
        pad = self.size - len(self.pairs)
        s_list = [self.zero] * pad + [s for s, _ in self.pairs]
        y_list = [self.zero] * pad + [y for _, y in self.pairs]
        valid = tf.constant([0.0] * pad + [1.0] * len(self.pairs))
        return _two_loop(g, free, s_list, y_list, valid)


@tf.function(autograph=False)
def _trial(x, d, step, lower, upper):
    return tf.clip_by_value(x + step * d, lower, upper)


@tf.function(autograph=False)
def _slopes(g, g_trial, x, x_trial):
    """g.s and g_trial.s for s = x_trial - x, in one host copy."""
    s = x_trial - x
    return tf.stack([tf.reduce_sum(g * s), tf.reduce_sum(g_trial * s)])


@tf.function(autograph=False)
def _pair(x_new, x, g_new, g):
    s, y = x_new - x, g_new - g
    return s, y, tf.stack([tf.reduce_sum(s * y), tf.reduce_sum(y * y)])


def minimize_lbfgs_device(fun, x0, bounds, iterations, callback=None, history_size=10) -> Outcome:
    """Projected L-BFGS for `iterations` accepted steps, on x0's device.

    fun(x) takes a float32 tensor shaped like x0 and returns (value as a
    float, gradient as a tensor like x); callback(step, x, value) hears each
    accepted iterate as that tensor (returning False stops the run). The
    Outcome's x is the best point seen, as a NumPy array.
    """
    lower, upper = (float(b) for b in bounds)
    x = tf.clip_by_value(tf.convert_to_tensor(x0, tf.float32), lower, upper)
    state = _State(fun)
    history = _History(history_size, x)
    done, restarts, stalled_at = 0, 0, None
    try:
        f, g = state.evaluate(x)
        if not math.isfinite(f):
            return state.outcome(x0, 0, STOP_NONFINITE)
        while done < iterations:
            free = _free(x, g, lower, upper)
            d, slope = history.direction(g, free)
            if not float(slope) < 0:  # not a descent direction: drop the history
                if not history:
                    return state.outcome(x0, done, STOP_CONVERGED, "projected gradient is zero",
                                         restarts)
                history.clear()
                continue
            first = 1.0 / max(math.sqrt(-float(slope)), 1e-12) if not history else 1.0
            found = _line_search(state, x, f, g, d, first, lower, upper)
            if found is None:  # no step: restart from the best point, once per stall
                if stalled_at == done or not history:
                    reason = STOP_NONFINITE if state.last_rejected else STOP_CONVERGED
                    return state.outcome(x0, done, reason, "line search found no step", restarts)
                stalled_at, restarts = done, restarts + 1
                x, f, g = state.best_x, state.best_value, state.best_grad
                history.clear()
                continue
            x_new, f_new, g_new = found
            s, y, (sy, yy) = _pair(x_new, x, g_new, g)
            if float(sy) > 1e-10 * float(yy):
                history.add(s, y)
            x, f, g = x_new, f_new, g_new
            done += 1
            if callback is not None and callback(done, x, f) is False:
                return state.outcome(x0, done, STOP_CALLBACK, restarts=restarts)
    except KeyboardInterrupt:
        return state.outcome(x0, done, STOP_INTERRUPTED, restarts=restarts)
    return state.outcome(x0, done, STOP_ITERATIONS, restarts=restarts)


def _line_search(state, x, f, g, d, step, lower, upper):
    """(x, f, g) at a step meeting the weak Wolfe conditions along the
    projected path, or at one with sufficient decrease; None if neither
    turned up in MAX_TRIALS evaluations."""
    low, high, armijo_point = 0.0, math.inf, None
    for _ in range(MAX_TRIALS):
        x_trial = _trial(x, d, tf.constant(step, tf.float32), lower, upper)
        f_trial, g_trial = state.evaluate(x_trial)
        if not math.isfinite(f_trial):
            high = step  # too far: the loss overflowed
        else:
            decrease, curvature = (float(v) for v in _slopes(g, g_trial, x, x_trial))
            if decrease >= 0:
                return armijo_point  # the clipped step no longer descends
            if f_trial > f + ARMIJO * decrease:
                high = step
            else:
                armijo_point = (x_trial, f_trial, g_trial)
                if curvature >= CURVATURE * decrease:
                    return armijo_point
                low = step
        step = 2.0 * step if math.isinf(high) else 0.5 * (low + high)
    return armijo_point


class _State:
    """Counts evaluations and keeps the best finite point (on the device)."""

    def __init__(self, fun):
        self.fun = fun
        self.evaluations = self.rejected = 0
        self.best_x = self.best_grad = None
        self.best_value = math.inf
        self.last_rejected = False

    def evaluate(self, x):
        value, grad = self.fun(x)
        value = float(value)
        self.evaluations += 1
        # A NaN anywhere in the gradient makes the loss unusable too.
        if math.isfinite(value) and not bool(tf.reduce_all(tf.math.is_finite(grad))):
            value = math.nan
        self.last_rejected = not math.isfinite(value)
        if self.last_rejected:
            if self.best_x is not None:
                self.rejected += 1
            return value, grad
        if value < self.best_value:
            self.best_value, self.best_x, self.best_grad = value, x, grad
        return value, grad

    def outcome(self, x0, iterations, reason, message="", restarts=0) -> Outcome:
        x = self.best_x if self.best_x is not None else tf.convert_to_tensor(x0, tf.float32)
        return Outcome(x.numpy(), self.best_value, iterations, self.evaluations, reason,
                       message, restarts, self.rejected)


def minimize_lbfgs_host(fun, x0, bounds, iterations, callback=None, history_size=10) -> Outcome:
    """The same projected L-BFGS with its state in host memory and the
    evaluations where the network runs: what `--optimizer lbfgs` becomes for
    images whose scipy bounds would not fit (optim.driver_for), since scipy
    builds a Python tuple for every pixel value on every start."""
    gpus = tf.config.list_logical_devices("GPU")
    compute = gpus[0].name if gpus else "/CPU:0"

    def on_host(x):
        with tf.device(compute):
            value, grad = fun(x)
        with tf.device("/CPU:0"):
            return value, tf.identity(grad)

    with tf.device("/CPU:0"):
        return minimize_lbfgs_device(on_host, x0, bounds, iterations, callback, history_size)
