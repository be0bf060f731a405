"""The tiled objective equals the untiled one: values, gradients, targets.

Small odd-sized images (not multiples of any pooling grid), small tiles, the
stand-in extractor, and the real VGG19 (random weights) up to conv3_1.
"""

import numpy as np
import pytest

from conftest import TinyExtractor, smooth_image
from tfstyle.core import memory, tiling
from tfstyle.config import StyleConfig
from tfstyle.events import Iterate, Planned, TileDone
from tfstyle.errors import ConfigError
from tfstyle.core.objective import Objective
from tfstyle.core.synthesis import stylize
from tfstyle.core.tiling import halo, min_tile_size, plan_tiles, receptive_radius

TINY = dict(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"), jit="off")


def noise(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (*shape, 3)).astype(np.float32)


def compare(make, x, tile_sizes):
    """[(plan, loss rel. error, gradient max-abs error / gradient max, terms)]."""
    reference = make(0)
    total0, grad0, terms0 = reference.evaluate(x)
    assert not reference.plan.tiled
    out = []
    for size in tile_sizes:
        objective = make(size)
        total, grad, terms = objective.evaluate(x)
        assert objective.plan.tiled, f"tile size {size} did not tile"
        for name, value in terms0.items():
            assert terms[name] == pytest.approx(value, rel=1e-5, abs=1e-6 * abs(total0))
        out.append((objective.plan, abs(total - total0) / abs(total0),
                    np.abs(grad - grad0).max() / np.abs(grad0).max()))
    return out


def test_halo_is_the_receptive_field_on_the_pooling_grid():
    # By hand: each 3x3 conv reads one position further at its own stride.
    assert receptive_radius("conv1_1") == 1
    assert receptive_radius("conv3_1") == 1 + 1 + 2 + 2 + 4
    assert receptive_radius("conv4_2") == 10 + 4 * 3 + 8 * 2
    assert receptive_radius("conv5_1") == 38 + 8 * 2 + 16
    assert (halo(["conv3_1"]), halo(["conv4_2"]), halo(["conv5_1", "conv1_1"])) == (12, 40, 80)
    assert min_tile_size(["conv5_1"]) == 2 * 80 + 16


@pytest.mark.parametrize("shape", [(37, 29), (50, 61)])
def test_plan_cores_partition_the_image_and_windows_fit(shape):
    layers = ("conv1_1", "conv2_1", "conv3_1")
    plan = plan_tiles(shape, layers, 32)
    owner = np.zeros(shape, int)
    for tile in plan.tiles:
        top, bottom, left, right = tile.core
        owner[top:bottom, left:right] += 1
        wt, wb, wl, wr = tile.window
        assert (wb - wt) * (wr - wl) <= 32 * 32
        assert wt % 4 == 0 and wl % 4 == 0  # on conv3_1's pooling grid
        assert wt == max(0, top - plan.halo) and wb == min(shape[0], bottom + plan.halo)
    assert (owner == 1).all()
    assert plan.overhead > 1


def test_tiled_equals_untiled_with_the_stand_in_extractor():
    """Content, two blended styles of other sizes (their Grams tiled too), TV."""
    tiny = TinyExtractor()
    content = smooth_image(37, 29, 1)
    styles = [smooth_image(41, 33, 2), smooth_image(30, 45, 3)]
    config = StyleConfig(**TINY, beta=1e3, tv_weight=3.0, style_blend=(0.7, 0.3))
    rows = compare(lambda t: Objective(content, styles, config.replace(tile_size=t), tiny),
                   noise((37, 29)), [12, 24])  # 80 tiles and 4
    for plan, loss_error, grad_error in rows:
        assert loss_error <= 1e-5 and grad_error <= 1e-4, plan.describe()
    assert len(rows[0][0].tiles) > 50  # the smallest tiles really are small


def test_tiled_equals_untiled_with_masks_and_a_temporal_term():
    tiny = TinyExtractor()
    content = smooth_image(33, 27, 4)
    styles = [smooth_image(30, 30, 5), smooth_image(26, 35, 6)]
    left = np.zeros((33, 27), np.float32)
    left[:, :13] = 1.0
    masks = [left, 1.0 - left]
    temporal = (0.02, smooth_image(33, 27, 7), np.linspace(0, 1, 33 * 27).reshape(33, 27))
    config = StyleConfig(**TINY, beta=1e3)
    rows = compare(lambda t: Objective(content, styles, config.replace(tile_size=t), tiny,
                                       masks=masks, temporal=temporal),
                   noise((33, 27), 1), [12, 20])
    for plan, loss_error, grad_error in rows:
        assert loss_error <= 1e-5 and grad_error <= 1e-4, plan.describe()


def test_tiled_equals_untiled_through_vgg19_to_conv3_1(vgg_random):
    content = smooth_image(75, 61, 8)
    style = smooth_image(70, 83, 9)
    config = StyleConfig(content_layers=("conv3_1",), style_layers=("conv1_1", "conv2_1", "conv3_1"),
                         weights="random", beta=1e4, tv_weight=1.0, jit="off")
    rows = compare(lambda t: Objective(content, style, config.replace(tile_size=t), vgg_random),
                   noise((75, 61), 2), [40])  # 14 tiles, inner ones too
    # The least tile that works (its core a few px inside the halo) on a
    # smaller photo and painting: 20 tiles rather than 300, the same boundary case.
    small, painting = smooth_image(37, 29, 8), smooth_image(35, 41, 9)
    rows += compare(lambda t: Objective(small, painting, config.replace(tile_size=t), vgg_random),
                    noise((37, 29), 2), [min_tile_size(["conv3_1"])])
    assert len(rows[-1][0].tiles) > 9
    for plan, loss_error, grad_error in rows:
        assert loss_error <= 1e-5 and grad_error <= 1e-4, plan.describe()


def test_a_halo_one_grid_step_short_breaks_exactness(monkeypatch):
    """The comparison can fail: with too small a halo the gradient is wrong."""
    tiny = TinyExtractor()
    content, style = smooth_image(37, 29, 1), smooth_image(41, 33, 2)
    config = StyleConfig(**TINY, beta=1e3)
    reference = Objective(content, style, config.replace(tile_size=0), tiny)
    x = noise((37, 29))
    _, grad0, _ = reference.evaluate(x)
    monkeypatch.setattr(tiling, "halo", lambda layers: 2)
    objective = Objective(content, style, config.replace(tile_size=16), tiny)
    _, grad, _ = objective.evaluate(x)
    assert np.abs(grad - grad0).max() / np.abs(grad0).max() > 1e-3


def test_tile_settings_parse_from_text():
    from tfstyle.config import parse_field

    assert parse_field("tile_size", "512") == 512 and parse_field("tile_size", "auto") == "auto"
    assert StyleConfig(tile_size="0").tile_size == 0
    assert StyleConfig(memory_limit="6.5").memory_limit == 6.5
    with pytest.raises(ConfigError, match="memory_limit"):
        StyleConfig(memory_limit=0)


def test_lbfgs_device_drives_a_tiled_objective():
    tiny = TinyExtractor()
    content, style = smooth_image(35, 31, 1), smooth_image(40, 36, 3)
    config = StyleConfig(**TINY, beta=1e3, iterations=3, optimizer="lbfgs-device")
    untiled = stylize(content, style, config.replace(tile_size=0), tiny)
    tiled = stylize(content, style, config.replace(tile_size=16), tiny)
    assert tiled.iterations == untiled.iterations
    # The gradients agree to ~1e-6 of their max, so the steps agree to a
    # small fraction of a grey level (0-255).
    assert np.abs(tiled.final - untiled.final).max() < 1.0


def test_tiled_texture_synthesis_follows_the_untiled_run():
    """A texture (no content) sizes its tiles from `size`; three L-BFGS steps
    tiled and untiled land on the same image, up to float rounding."""
    tiny = TinyExtractor()
    style = smooth_image(40, 36, 3)
    config = StyleConfig(**TINY, alpha=0.0, beta=1e3, iterations=3, init="noise", max_size=64)
    events = []
    untiled = stylize(None, style, config.replace(tile_size=0), tiny, size=(35, 31))
    tiled = stylize(None, style, config.replace(tile_size=16), tiny, size=(35, 31),
                    callback=events.append)
    # One stream: the plan first, then each tile of each evaluation, and an
    # Iterate after every iteration.
    assert isinstance(events[0], Planned)
    assert "tiles" in events[0].scales[0].tiles and events[0].scales[0].iterations == 3
    assert [e.iteration for e in events if isinstance(e, Iterate)] == [1, 2, 3]
    steps = [(e.tile, e.tiles, e.step) for e in events[1:] if not isinstance(e, Iterate)]
    assert all(isinstance(e, (TileDone, Iterate)) for e in events[1:])
    n = steps[0][1]
    first = steps[:2 * n - 1]  # the first evaluation: n tiles in pass 1, n - 1 in pass 2
    assert n > 1 and first == [(k, n, 1) for k in range(1, n + 1)] + [(k, n, 2) for k in range(1, n)]
    assert np.abs(tiled.final - untiled.final).max() < 1.0
    assert tiled.history[-1]["total"] == pytest.approx(untiled.history[-1]["total"], rel=1e-3)


def test_refusals_name_the_least_that_works():
    config = StyleConfig(**TINY, weights="random")
    content = smooth_image(40, 40, 1)
    with pytest.raises(ConfigError, match=r"the least is 10 px"):
        Objective(content, content, config.replace(tile_size=8), TinyExtractor())
    with pytest.raises(ConfigError, match=r"the least that works here is \d+\.\d GB"):
        memory.auto_tile_size((4096, 4096), ("conv1_1", "conv5_1"), budget=1.05e9)
    with pytest.raises(ConfigError, match=r"needs \d+\.\d+ GB for the optimiser's buffers"):
        memory.check_optimizer_memory((8000, 8000), config.replace(memory_limit=2.0))
    with pytest.raises(ConfigError, match="tile_size"):
        StyleConfig(tile_size="big")


def test_auto_tiles_only_beyond_the_budget():
    layers = StyleConfig().layers
    assert memory.auto_tile_size((512, 512), layers, budget=8e9) is None
    reserved = memory.lbfgs_bytes(4096 * 4096, 10)  # 14.5 GB of float64 vectors
    side = memory.auto_tile_size((4096, 4096), layers, budget=20e9, reserved=reserved)
    assert side is not None and side % 16 == 0
    assert memory.evaluation_bytes(side * side, layers) + reserved + memory.BASELINE_BYTES \
        <= memory.PLAN_SHARE * 20e9
    plan = plan_tiles((4096, 4096), layers, side)
    assert plan.tiled and all(t.pixels <= side * side for t in plan.tiles)


def test_print_sizes_go_coarse_to_fine_by_default():
    assert StyleConfig().schedule_for(1024) == ((None, 500),)
    schedule = StyleConfig().schedule_for(4096)
    assert [s for s, _ in schedule] == [512, 1024, 2048, None]
    counts = [n for _, n in schedule]
    assert sum(counts) == 500 and counts == sorted(counts, reverse=True) and counts[-1] >= 1
    assert StyleConfig(scales=(256, 4096)).schedule_for(4096) == ((256, 250), (4096, 250))


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_cli_tiled_transfer_prints_its_plan_and_records_it(tmp_path, capsys):
    from conftest import cli, write_image

    content = write_image(tmp_path / "photo.png", 53, 71, 1)
    style = write_image(tmp_path / "painting.png", 60, 60, 2)
    out = tmp_path / "print.png"
    code = cli("transfer", content, style, "-o", out, "--weights", "random",
               "--content-layers", "conv3_1", "--style-layers", "conv1_1,conv2_1,conv3_1",
               "--iterations", 2, "--max-size", 71, "--tile-size", 40)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "schedule: scale 1: 71x53 px, 2 iterations," in err.replace("\n", " ")
    record = __import__("json").loads(out.with_suffix(".json").read_text())
    assert record["config"]["tile_size"] == 40 and "tiles (" in record["schedule"][0]


def test_cli_refuses_tiles_and_budgets_too_small_in_one_line(tmp_path, capsys):
    from test_cli import one_error_line
    from conftest import write_image

    content = write_image(tmp_path / "photo.png", 40, 40, 1)
    base = ["transfer", content, content, "-o", tmp_path / "o.png", "--weights", "random", "-q"]
    line = one_error_line(capsys, 2, *base, "--tile-size", 100)
    assert "--tile-size" in line and "the least is 176 px" in line
    line = one_error_line(capsys, 2, *base, "--memory-limit", "0.5")
    assert "--max-size" in line and "optimiser's buffers" in line
    line = one_error_line(capsys, 2, *base, "--tile-size", "big")
    assert "--tile-size" in line


@pytest.mark.slow  # XLA compiles every tile window's shape: ~12 s per Objective on 2 cores
def test_tiled_jit_auto_races_one_tile_and_stays_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSTYLE_CACHE_DIR", str(tmp_path / "cache"))  # no earlier choice
    tiny = TinyExtractor()
    content, style = smooth_image(37, 29, 1), smooth_image(41, 33, 2)
    config = StyleConfig(**{**TINY, "jit": "auto"}, beta=1e3)
    made = []

    def make(t):
        made.append(Objective(content, style, config.replace(
            tile_size=t, jit="off" if t == 0 else "auto"), tiny))
        return made[-1]
    rows = compare(make, noise((37, 29)), [16])
    (plan, loss_error, grad_error), = rows
    assert loss_error <= 1e-5 and grad_error <= 1e-4
    first = made[-1].jit_choice
    objective = Objective(content, style, config.replace(tile_size=16), tiny)
    objective.evaluate(noise((37, 29)))
    # The first tiled Objective raced and stored its choice, which the second
    # takes; where XLA cannot compile here, XLA lost, nothing was stored (no
    # fair race) and the second finds so again: both reasons the code gives.
    if first.reason.startswith("XLA failed"):
        assert not first.xla and objective.jit_choice.reason == first.reason
        assert not objective.jit_choice.xla
    else:
        assert first.reason == "raced"
        assert objective.jit_choice.reason == "cached" and objective.jit_choice.xla == first.xla
