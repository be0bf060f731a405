"""lbfgs-device, the L-BFGS whose state stays in TensorFlow, on plain
functions and against scipy's driver (what both drivers share, NaN handling,
callback and interrupt, is checked on each in test_optim)."""


import numpy as np
import pytest

from tfstyle.config import StyleConfig
from tfstyle.optim.lbfgs_device import minimize_lbfgs_device
from tfstyle.optim.drivers import minimize_lbfgs
from tfstyle.core.synthesis import stylize

from conftest import smooth_image
from test_optim import on_device, rosenbrock


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


def test_the_two_drivers_reach_similar_losses(tiny):
    content, style = smooth_image(32, 32, 1), smooth_image(32, 32, 2)
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         iterations=40, max_size=32, beta=1e2, weights="random", init="noise",
                         jit="off", precision="float32")
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
