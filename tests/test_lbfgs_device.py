"""lbfgs-device, the L-BFGS whose state stays in TensorFlow, on plain
functions and against scipy's driver."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.config import StyleConfig
from tfstyle.lbfgs_device import minimize_lbfgs_device
from tfstyle.optim import minimize_lbfgs
from tfstyle.synthesis import stylize

from conftest import smooth_image
from test_optim import rosenbrock


def on_device(numpy_fun):
    """A (value, gradient) NumPy function as lbfgs-device calls it."""
    calls = {"n": 0}

    def fun(x):
        assert isinstance(x, tf.Tensor)  # the driver never hands over NumPy
        calls["n"] += 1
        value, grad = numpy_fun(x.numpy().astype(np.float64))
        return value, tf.constant(np.reshape(grad, x.shape), tf.float32)
    fun.calls = calls
    return fun


def test_descends_and_counts_iterations_as_scipy_does():
    x0 = np.full((4, 5), -1.0, np.float32)
    seen = []
    out = minimize_lbfgs_device(on_device(rosenbrock), x0, (-2.0, 2.0), 25,
                                lambda i, x, v: seen.append((i, v, x)))
    assert out.iterations == 25 and out.stop_reason == "iterations"
    assert [i for i, _, _ in seen] == list(range(1, 26))
    values = [v for _, v, _ in seen]
    # Every accepted step meets the sufficient-decrease condition.
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert out.value < rosenbrock(x0)[0] / 10
    assert out.x.shape == x0.shape and isinstance(out.x, np.ndarray)
    # The callback hears the very point whose value it is told.
    assert seen[-1][1] == pytest.approx(rosenbrock(np.asarray(seen[-1][2]))[0], rel=1e-5)
    # scipy's driver, same budget: the same count of accepted steps.
    scipy_seen = []
    minimize_lbfgs(rosenbrock, x0, (-2.0, 2.0), 25, lambda i, x, v: scipy_seen.append(i))
    assert scipy_seen == [i for i, _, _ in seen]


def test_respects_the_bounds_by_projection():
    def pull_out(x):  # minimum far outside the box
        return float(np.sum((x - 10.0) ** 2)), 2 * (x - 10.0)

    seen = []
    out = minimize_lbfgs_device(on_device(pull_out), np.zeros(6, np.float32), (0.0, 3.0), 10,
                                lambda i, x, v: seen.append(np.asarray(x)))
    assert all(x.min() >= 0.0 and x.max() <= 3.0 for x in seen)
    np.testing.assert_allclose(out.x, 3.0)
    # Held at the bound, the projected gradient is zero: converged, early.
    assert out.stop_reason == "converged" and out.iterations < 10


def test_a_nonfinite_trial_point_is_rejected_not_fatal():
    trials = {"nonfinite": 0}

    def guarded(x):
        if np.abs(x).max() > 1.2:
            trials["nonfinite"] += 1
            return float("nan"), np.full(x.shape, np.nan)
        return rosenbrock(x)

    out = minimize_lbfgs_device(on_device(guarded), np.full(6, -1.0, np.float32), (-2.0, 2.0), 40)
    assert trials["nonfinite"] >= 1 and out.rejected == trials["nonfinite"]
    assert out.stop_reason == "iterations" and out.iterations == 40
    assert np.isfinite(out.value) and np.abs(out.x).max() <= 1.2


def test_stops_when_the_loss_turns_nonfinite_keeping_the_best_point():
    calls = {"n": 0}

    def blows_up(x):
        calls["n"] += 1
        if calls["n"] > 5:
            return float("nan"), np.zeros(x.shape)
        return rosenbrock(x)

    out = minimize_lbfgs_device(on_device(blows_up), np.full(4, -1.0, np.float32), (-2.0, 2.0), 50)
    assert out.stop_reason == "nonfinite" and out.iterations < 50
    assert np.isfinite(out.value) and out.value <= rosenbrock(np.full(4, -1.0))[0]
    assert out.value == pytest.approx(rosenbrock(out.x)[0], rel=1e-5)

    out = minimize_lbfgs_device(on_device(lambda x: (math.nan, np.zeros(x.shape))),
                                np.full(4, -1.0, np.float32), (-2.0, 2.0), 50)
    assert out.stop_reason == "nonfinite" and out.iterations == 0


def test_callback_false_and_interrupt_keep_the_best_point():
    x0 = np.full(6, -1.0, np.float32)
    out = minimize_lbfgs_device(on_device(rosenbrock), x0, (-2.0, 2.0), 50, lambda i, x, v: i < 5)
    assert out.stop_reason == "callback" and out.iterations == 5
    assert out.value == pytest.approx(rosenbrock(out.x)[0], rel=1e-5)

    def interrupting(x):
        if interrupting.n == 8:
            raise KeyboardInterrupt
        interrupting.n += 1
        return rosenbrock(x)
    interrupting.n = 0
    out = minimize_lbfgs_device(on_device(interrupting), x0, (-2.0, 2.0), 50)
    assert out.stop_reason == "interrupted" and out.value < rosenbrock(x0)[0]


def test_the_two_drivers_reach_similar_losses(tiny):
    content, style = smooth_image(32, 32, 1), smooth_image(32, 32, 2)
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         iterations=40, max_size=32, beta=1e2, weights="random", init="noise")
    finals = {}
    for driver in ("lbfgs", "lbfgs-device"):
        result = stylize(content, style, config.replace(optimizer=driver), extractor=tiny)
        assert result.iterations == 40 or result.stop_reason == "converged"
        finals[driver] = result.history[-1]["total"]
        start = result.initial["total"]
    assert finals["lbfgs-device"] < 0.7 * start and finals["lbfgs"] < 0.7 * start
    # Same start, same budget: within 10% of each other (float32 against
    # float64 arithmetic and different line searches).
    assert finals["lbfgs-device"] == pytest.approx(finals["lbfgs"], rel=0.1)
