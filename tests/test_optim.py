"""The optimiser drivers on plain NumPy functions; the behaviour both
L-BFGS drivers share is checked on each (lbfgs-device through `on_device`)."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.optim.lbfgs_device import minimize_lbfgs_device
from tfstyle.optim import drivers as optim
from tfstyle.optim.drivers import minimize_adam, minimize_lbfgs


def rosenbrock(x):
    x = x.ravel().astype(np.float64)
    value = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    grad = np.zeros_like(x)
    grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return value, grad


def on_device(numpy_fun):
    """A (value, gradient) NumPy function as lbfgs-device calls it."""
    def fun(x):
        assert isinstance(x, tf.Tensor)  # the driver never hands over NumPy
        value, grad = numpy_fun(x.numpy().astype(np.float64))
        return value, tf.constant(np.reshape(grad, x.shape), tf.float32)
    return fun


def _lbfgs_device(fun, x0, bounds, iterations, callback=None):
    return minimize_lbfgs_device(on_device(fun), np.asarray(x0, np.float32), bounds, iterations,
                                 callback)


@pytest.fixture(params=["lbfgs", "lbfgs-device"])
def lbfgs(request):
    """Either L-BFGS driver, called as minimize_lbfgs is."""
    return {"lbfgs": minimize_lbfgs, "lbfgs-device": _lbfgs_device}[request.param]


def test_lbfgs_runs_exactly_the_requested_iterations():
    seen = []
    x0 = np.full((4, 5), -1.0)
    out = minimize_lbfgs(rosenbrock, x0, (-2.0, 2.0), 25, lambda i, x, v: seen.append((i, v)))
    assert out.iterations == 25 and out.stop_reason == "iterations"
    assert [i for i, _ in seen] == list(range(1, 26))
    assert out.value < rosenbrock(x0)[0]
    assert out.x.shape == x0.shape


def test_lbfgs_respects_bounds():
    def pull_out(x):  # minimum far outside the box
        return float(np.sum((x - 10.0) ** 2)), 2 * (x - 10.0).ravel()

    out = minimize_lbfgs(pull_out, np.zeros(6), (0.0, 3.0), 10)
    assert out.x.max() <= 3.0 and out.x.min() >= 0.0
    np.testing.assert_allclose(out.x, 3.0)


def test_lbfgs_restarts_when_line_search_gives_up_and_stops_at_a_minimum():
    def quadratic(x):
        return float(np.sum(x**2)), 2 * x.ravel()

    out = minimize_lbfgs(quadratic, np.ones(3), (-5.0, 5.0), 100)
    # A quadratic is solved exactly in a few steps; a restart then finds no step.
    assert out.stop_reason == "converged" and out.iterations < 100
    assert out.restarts >= 1
    assert out.value < 1e-10


def test_lbfgs_restarts_and_goes_on_when_rounding_breaks_the_line_search():
    """A float32-rounded loss on a large offset makes L-BFGS-B's line search
    give up again and again; each restart makes progress, so the budget is
    reached."""
    weights = np.arange(1, 9)

    def rounded(x):
        value = np.float32(1e5) + np.float32(np.sum((x - 0.3) ** 2 * weights))
        return float(value), 2 * (x - 0.3).ravel() * weights

    seen = []
    out = minimize_lbfgs(rounded, np.ones(8), (-5.0, 5.0), 40, lambda i, x, v: seen.append(i))
    assert out.restarts >= 1 and out.stop_reason == "iterations" and out.iterations == 40
    assert seen == list(range(1, 41))
    assert np.abs(out.x - 0.3).max() < np.abs(np.ones(8) - 0.3).max()


def test_a_nonfinite_trial_point_is_rejected_not_fatal(lbfgs):
    """NaN beyond |x| > 1.2 (as a long trial step can overflow under
    mixed_float16): the line search backs off and the run goes on."""
    trials = {"nonfinite": 0}

    def guarded(x):
        if np.abs(x).max() > 1.2:
            trials["nonfinite"] += 1
            return float("nan"), np.full(x.size, np.nan)
        return rosenbrock(x)

    out = lbfgs(guarded, np.full(6, -1.0), (-2.0, 2.0), 40)
    assert trials["nonfinite"] >= 1 and out.rejected == trials["nonfinite"]
    assert out.stop_reason == "iterations" and out.iterations == 40
    assert np.isfinite(out.value) and out.value < rosenbrock(np.full(6, -1.0))[0]
    assert np.abs(out.x).max() <= 1.2


def test_callback_false_and_interrupt_keep_the_best_point(lbfgs):
    out = lbfgs(rosenbrock, np.full(6, -1.0), (-2.0, 2.0), 50, lambda i, x, v: i < 5)
    assert out.stop_reason == "callback" and out.iterations == 5
    assert out.value == pytest.approx(rosenbrock(out.x)[0], rel=1e-5)

    calls = {"n": 0}

    def interrupting(x):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return rosenbrock(x)

    out = lbfgs(interrupting, np.full(6, -1.0), (-2.0, 2.0), 50)
    assert out.stop_reason == "interrupted"
    assert out.value < rosenbrock(np.full(6, -1.0))[0]
    assert out.value == pytest.approx(rosenbrock(out.x)[0], rel=1e-5)


def test_nonfinite_loss_stops_with_last_finite_point(lbfgs):
    calls = {"n": 0}

    def blows_up(x):
        calls["n"] += 1
        if calls["n"] > 5:
            return float("nan"), np.zeros(x.size)
        return rosenbrock(x)

    out = lbfgs(blows_up, np.full(4, -1.0), (-2.0, 2.0), 50)
    assert out.stop_reason == "nonfinite" and out.iterations < 50
    assert np.isfinite(out.value) and np.isfinite(out.x).all()
    assert out.value <= rosenbrock(np.full(4, -1.0))[0]
    assert out.value == pytest.approx(rosenbrock(out.x)[0], rel=1e-5)

    def nan_at_start(x):
        return float("nan"), np.zeros(x.size)

    out = lbfgs(nan_at_start, np.full(4, -1.0), (-2.0, 2.0), 50)
    assert out.stop_reason == "nonfinite" and out.iterations == 0


def test_adam_descends_and_clips():
    def pull_out(x):
        return float(np.sum((x - 10.0) ** 2)), 2 * (x - 10.0).ravel()

    seen = []
    out = minimize_adam(pull_out, np.zeros(4), (0.0, 3.0), 30, lambda i, x, v: seen.append(x.max()),
                        learning_rate=0.5)
    assert out.iterations == 30 and len(seen) == 30
    assert max(seen) <= 3.0
    np.testing.assert_allclose(out.x, 3.0)


def test_scipy_bounds_fit_flips_at_a_tenth_of_the_host_budget():
    # 10 GB: a tenth is 1 GB, 1e9 / 195 bytes = 5,128,205 values (a 1307 px square).
    assert optim.bounds_bytes(5_128_205) <= 1e9 < optim.bounds_bytes(5_128_206)
    assert optim.scipy_bounds_fit(5_128_205, 10e9) and not optim.scipy_bounds_fit(5_128_206, 10e9)
    assert optim.scipy_bounds_fit(3 * 1024 ** 2, 10e9)
    assert not optim.scipy_bounds_fit(3 * 2048 ** 2, 10e9)
    assert optim.scipy_bounds_fit(3 * 2048 ** 2, 40e9)  # the rule scales with the budget
    assert optim.driver_for("lbfgs", 3 * 2048 ** 2, 10e9) == "lbfgs-projected"
    assert optim.driver_for("lbfgs", 3 * 1024 ** 2, 10e9) == "lbfgs"
    assert optim.driver_for("adam", 3 * 2048 ** 2, 10e9) == "adam"  # it clips: no bounds


def test_scipy_still_builds_python_objects_per_bounded_value():
    """The constant behind bounds_bytes: scipy's Bounds cost tracemalloc
    (Python's own allocations, without pymalloc's arenas, which RSS adds)
    0.70 x BOUNDS_BYTES_PER_VALUE here. Should scipy stop converting bounds
    per value, this fails, and the constant and the driver rule can go."""
    import tracemalloc

    import scipy.optimize

    def quadratic(x):
        return float(np.sum((x - 128.0) ** 2)), 2 * (x - 128.0)

    def peak(bounds):
        x0 = np.full(30_000, 100.0)
        tracemalloc.start()
        try:
            scipy.optimize.minimize(quadratic, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 1})
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    per_value = (peak(scipy.optimize.Bounds(0.0, 255.0)) - peak(None)) / 30_000
    assert 0.6 * optim.BOUNDS_BYTES_PER_VALUE <= per_value <= optim.BOUNDS_BYTES_PER_VALUE
