"""`tfstyle bench`'s own work, with the measurements faked: which library
function each option calls with which sizes, the lines and the table it
prints, and its refusals. The measurements themselves are too slow here."""

import json

import pytest

from tfstyle.events import Row
from tfstyle_cli.main import main


@pytest.fixture
def measured(monkeypatch):
    """The calls the command made, {function name: [args, ...]}."""
    from tfstyle.bench import speed as bench, runs as bench_runs, tiles as bench_tiles

    calls = {}

    def fake(module, name, make):
        def record(*args, **kwargs):
            calls.setdefault(name, []).append(args)
            return make(*args, **kwargs)
        monkeypatch.setattr(module, name, record)

    def iteration_rows(sizes, modes, repeats, iterations, config, callback=None,
                       compare_torch=False):
        rows = [{"size": s, "jit": "on" if j else "off", "floor_s": 0.1, "objective_s": 0.2,
                 "iteration_s": 0.3, "optimizer_s": 0.01, "device_iteration_s": 0.25,
                 "device_optimizer_s": 0.02, "floor_gflops": 50.0, "objective_ratio": 2.0,
                 "iteration_ratio": 3.0, "evaluations_per_iteration": 1.5, "traces": 2,
                 "peak_rss_mb": 400.0, "auto": "XLA off"} for s in sorted(sizes) for j in modes]
        for row in rows:
            if callback:
                callback(Row(row))
        return rows

    fake(bench, "run_bench", iteration_rows)
    fake(bench, "masks_overhead", lambda size, repeats, config: {
        "size": size, "blended_s": 0.2, "masked_s": 0.3, "masked_ratio": 1.5})
    fake(bench_runs, "coarse_to_fine_race", lambda size, iterations, coarse, config: {
        "size": size, "coarse": coarse, "single_final_loss": 10.0, "single_seconds": 9.0,
        "coarse_to_fine_seconds": 4.0, "coarse_iterations": 100,
        "coarse_to_fine_iterations": 150, "reached": True})
    fake(bench_runs, "drivers_race", lambda size, iterations, config: {
        "lbfgs": {"final_loss": 2.0, "seconds": 1.0},
        "lbfgs-device": {"final_loss": 2.1, "seconds": 0.9}, "loss_ratio": 1.05})
    fake(bench_tiles, "tiled_exactness", lambda width, height, tiles, config: [
        {"size": f"{width}x{height}", "tile_size": t, "plan": "2x2", "loss_error": 1e-7,
         "gradient_error": 1e-6} for t in tiles])
    return calls


def test_the_iteration_table_and_each_extra_measurement(measured, capsys):
    assert main(["bench", "--sizes", "64,32", "--jit", "off", "--masks", "--coarse-to-fine",
                 "--drivers"]) == 0
    out = capsys.readouterr().out
    assert "measured 32 px, XLA off; --jit auto picks XLA off" in out
    assert "coarse-to-fine 32->64 px: reached the single-scale final loss 10 in 4.0 s " \
           "(100 + 50 iterations)" in out
    assert "drivers, 200 iterations on the demo images at 192 px: lbfgs final loss 2 " in out
    assert "masks 64 px: two styles blended 0.200 s, masked 0.300 s" in out
    assert "tfstyle bench (medians;" in out and "floor s" in out
    [(sizes, modes, *_)] = measured["run_bench"]
    assert sizes == (64, 32) and modes == (False,)
    assert [args[:3] for args in measured["coarse_to_fine_race"]] == [(64, 300, 32)]
    assert [args[0] for args in measured["masks_overhead"]] == [64, 32]


def test_json_rows_in_the_order_measured(measured, capsys):
    assert main(["bench", "--sizes", "32", "--jit", "on", "--drivers", "--masks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row.get("jit") for row in rows] == ["on", None, None]
    assert "loss_ratio" in rows[1] and "masked_ratio" in rows[2]


def test_exactness_per_size_by_an_odd_height(measured, capsys):
    assert main(["bench", "--sizes", "100", "--tile-size", "64,96", "--exactness"]) == 0
    assert measured["tiled_exactness"][0][:3] == (100, 77, (64, 96))
    assert "100x77 px, --tile-size 96 (2x2): loss relative error 1.0e-07" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--sizes", ""], "--sizes: at least one size is needed"),
    (["--jit", "maybe"], "--jit: expected both, on or off, received 'maybe'"),
    (["--repeats", "0"], "--repeats: too small"),
    (["--iterations", "1"], "--iterations: too small"),
    (["--init", "style"], "--init: expected content or noise, received 'style'"),
    (["--tile-size", "0"], "--tile-size: give a tile size (or auto) to compare with untiled"),
])
def test_refusals_are_one_line_before_any_measurement(measured, capsys, args, message):
    assert main(["bench", *args]) == 2
    assert capsys.readouterr().err.strip() == f"tfstyle: error: {message}"
    assert not measured


def test_the_coarse_to_fine_race_runs_for_real():
    """The race itself, not a stand-in: its callback hears the whole event
    stream (a Planned first) and stops the staged run at the target."""
    from conftest import smooth_image
    from tfstyle.bench.runs import coarse_to_fine_race
    from tfstyle.config import StyleConfig

    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                         weights="random", beta=1e2, jit="off", precision="float32")
    row = coarse_to_fine_race(32, 6, 16, config, smooth_image(32, 32, 1), smooth_image(32, 32, 2))
    assert row["coarse_iterations"] > 0 and row["single_final_loss"] > 0
    if row["reached"]:
        assert row["coarse_to_fine_iterations"] > row["coarse_iterations"]
