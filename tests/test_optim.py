"""The optimiser drivers on plain NumPy functions (no TensorFlow)."""

import numpy as np
import pytest

from tfstyle.optim import minimize_adam, minimize_lbfgs


def rosenbrock(x):
    x = x.ravel().astype(np.float64)
    value = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    grad = np.zeros_like(x)
    grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return value, grad


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
    # A quadratic is solved exactly in a few steps; afterwards no step is possible.
    assert out.stop_reason in ("converged", "iterations")
    assert out.value < 1e-10


def test_callback_false_and_interrupt_keep_the_best_point():
    out = minimize_lbfgs(rosenbrock, np.full(6, -1.0), (-2.0, 2.0), 50,
                         lambda i, x, v: i < 5)
    assert out.stop_reason == "callback" and out.iterations == 5
    assert out.value == pytest.approx(rosenbrock(out.x)[0])

    calls = {"n": 0}

    def interrupting(x):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return rosenbrock(x)

    out = minimize_lbfgs(interrupting, np.full(6, -1.0), (-2.0, 2.0), 50)
    assert out.stop_reason == "interrupted"
    assert out.value < rosenbrock(np.full(6, -1.0))[0]
    assert out.value == pytest.approx(rosenbrock(out.x)[0])


def test_nonfinite_loss_stops_with_last_finite_point():
    calls = {"n": 0}

    def blows_up(x):
        calls["n"] += 1
        if calls["n"] > 5:
            return float("nan"), np.zeros(x.size)
        return rosenbrock(x)

    out = minimize_lbfgs(blows_up, np.full(4, -1.0), (-2.0, 2.0), 50)
    assert out.stop_reason == "nonfinite"
    assert np.isfinite(out.value) and np.isfinite(out.x).all()


def test_adam_descends_and_clips():
    def pull_out(x):
        return float(np.sum((x - 10.0) ** 2)), 2 * (x - 10.0).ravel()

    seen = []
    out = minimize_adam(pull_out, np.zeros(4), (0.0, 3.0), 30, lambda i, x, v: seen.append(x.max()),
                        learning_rate=0.5)
    assert out.iterations == 30 and len(seen) == 30
    assert max(seen) <= 3.0
    np.testing.assert_allclose(out.x, 3.0)
