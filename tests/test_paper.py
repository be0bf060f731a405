"""The paper's experiments: reconstructions, textures and the figure layouts."""

import numpy as np
import pytest

from conftest import smooth_image
from tfstyle.events import Iterate, Panel, only
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.workflows.paper import (FIGURE3_RATIOS, LAYER_SETS, figure1_cells, figure2_cells,
                                     figure3_cells, figure_grid, figure_sheet, psnr, run_cell)
from tfstyle.core.objective import Objective
from tfstyle.preprocess import white_noise
from tfstyle.core.synthesis import reconstruct_content, synthesize_texture

PAPER = StyleConfig(weights="random", init="noise", max_size=64)


def test_psnr_by_hand():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a + 255) == pytest.approx(0.0)
    assert psnr(a, a + 2.55) == pytest.approx(40.0)


@pytest.mark.slow  # hundreds of L-BFGS iterations through VGG19
def test_content_reconstruction_is_near_exact_at_conv1_1_and_looser_deeper(vgg_random):
    image = smooth_image(64, 64, 11)
    scores = {}
    for layer, iterations in (("conv1_1", 300), ("conv4_1", 150), ("conv5_1", 150)):
        result = reconstruct_content(image, layer, PAPER.replace(iterations=iterations),
                                     extractor=vgg_random)
        assert result.config.beta == 0 and result.history[0]["content"] > 0
        # The budget, or an earlier stop that L-BFGS-B calls convergence (it
        # does on some CPUs at conv1_1) with the loss near its floor.
        if result.iterations < iterations:
            assert result.stop_reason == "converged", result.stop_reason
            assert result.history[-1]["content"] < 1e-4 * result.history[0]["content"]
        else:
            assert result.stop_reason == "iterations"
        scores[layer] = psnr(result.final, image)
    assert scores["conv1_1"] > 30.0, scores
    assert scores["conv1_1"] > scores["conv4_1"] + 5 and scores["conv1_1"] > scores["conv5_1"] + 5


@pytest.mark.slow  # hundreds of L-BFGS iterations through VGG19
def test_texture_synthesis_matches_grams_without_copying(vgg_random):
    """From white noise, the Gram-only loss falls by 3 orders of magnitude at
    conv1_1 and by 2 with all five layers (random filters at 64 px converge
    more slowly in the deep layers), and the texture is no copy of the style."""
    style = smooth_image(64, 64, 12)
    style[::8] = 255.0  # sharp lines as well as smooth waves
    noise = white_noise((64, 64), PAPER.seed)
    for layers, iterations, factor in ((LAYER_SETS[0], 100, 1000), (LAYER_SETS[4], 150, 100)):
        result = synthesize_texture(style, layers, PAPER.replace(iterations=iterations),
                                    extractor=vgg_random)
        start = Objective(None, style, result.config, vgg_random).values(noise)["style"]
        assert result.history[-1]["style"] < start / factor, (layers, start, result.history[-1])
        # Not a copy: the pixels are arranged differently from the style image
        # (0.51 under the network's scales at 64 px with random filters).
        assert np.corrcoef(result.final.ravel(), style.ravel())[0, 1] < 0.6
        assert psnr(result.final, style) < 20


def test_figure1_cells():
    cells = figure1_cells(PAPER)
    content = [c for c in cells if c.kind == "content"]
    textures = [c for c in cells if c.kind == "texture"]
    assert [c.config.content_layers for c in content] == [("conv1_1",), ("conv2_1",), ("conv3_1",),
                                                         ("conv4_1",), ("conv5_1",)]
    assert all(c.config.beta == 0 for c in content) and all(c.config.alpha == 0 for c in textures)
    assert [c.config.style_layers for c in textures] == list(LAYER_SETS)
    assert textures[-1].config.style_layer_weights == {n: 0.2 for n in LAYER_SETS[-1]}


def test_figure3_grid_has_each_cell_in_its_place():
    ratios = (1e-5, 1e-4, 1e-3, 1e-2)
    cells = figure3_cells(PAPER, ratios)
    assert len(cells) == 20
    grid = figure_grid("figure3", cells)
    assert len(grid) == 5 and all(len(row) == 5 for row in grid)
    assert grid[0][0] == "content" and grid[1][0] == "style" and grid[4][0] is None
    by_name = {c.name: c for c in cells}
    for r, layers in enumerate(LAYER_SETS):
        for c, ratio in enumerate(ratios):
            cell = by_name[grid[r][c + 1]]
            assert cell.config.style_layers == layers
            assert cell.config.content_layers == ("conv4_2",)
            assert cell.config.alpha / cell.config.beta == pytest.approx(ratio)
    assert grid[2][3] == "C_1e-03"
    assert FIGURE3_RATIOS == ratios


def test_figure_sheet_puts_panels_where_the_grid_says():
    """Each panel (the results and the two inputs) is pasted whole, once, at
    its grid cell: the sheet's rows and columns of panels, in order, are the
    grid's, and the pixels there are that panel's own image."""
    ratios = (1e-4, 1e-3)
    cells = figure3_cells(PAPER, ratios)
    grid = figure_grid("figure3", cells)

    def panel(k):
        # Unique in its top-left pixel; graded, so a flipped or shifted
        # panel differs too. Red and green are never equal: no grey caption pixel.
        y, x = np.mgrid[0:8, 0:8]
        return np.stack([np.full((8, 8), 30 + 7 * k), 100 + 16 * y, 110 + 16 * x],
                        -1).astype(np.uint8)
    images = {c.name: panel(k) for k, c in enumerate(cells)}
    content, style = panel(len(cells)), panel(len(cells) + 1)
    sheet = figure_sheet("figure3", cells, images, content, [style], ratios=ratios)
    assert sheet.dtype == np.uint8 and sheet.shape[1] > sheet.shape[0] // 3
    shown = {**images, "content": content, "style": style}
    where = {}
    for name, image in shown.items():
        corners = np.argwhere((sheet == image[0, 0]).all(axis=2))
        found = [(y, x) for y, x in corners
                 if np.array_equal(sheet[y:y + 8, x:x + 8], image)]
        assert len(found) == 1, (name, len(found))
        where[name] = found[0]
    # The sheet's panel rows and columns, top to bottom and left to right.
    rows = sorted({y for y, _ in where.values()})
    columns = sorted({x for _, x in where.values()})
    assert len(rows) == len(grid) and len(columns) == len(grid[0])
    placed = [[None] * len(columns) for _ in rows]
    for name, (y, x) in where.items():
        placed[rows.index(y)][columns.index(x)] = name
    assert placed == grid
    assert grid[0][0] == "content" and grid[1][0] == "style"  # the inputs, column 0
    # Evenly spaced, as a grid is.
    assert len(set(np.diff(rows))) == 1 and len(set(np.diff(columns))) == 1


def test_run_cell_texture_takes_the_content_size(tiny):
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1",), weights="random",
                         jit=False, iterations=3, init="noise")
    cell = figure1_cells(config)[5]
    cell = type(cell)(cell.name, "texture", 1, 1, "", config.replace(alpha=0.0))
    result = run_cell(cell, smooth_image(20, 28, 1), [smooth_image(32, 32, 2)], tiny)
    assert result.image.shape == (20, 28, 3)


# End to end (10 figure1 panels through VGG19): the fast lane keeps the library's
# figure resume and noise start below.
@pytest.mark.slow
def test_cli_reconstruct_texture_and_figure_resume(tmp_path, capsys):
    import json

    from tfstyle_cli.main import main
    from conftest import write_image
    from tfstyle.io.images import load_image

    photo = write_image(tmp_path / "photo.png", 32, 48, 1)
    painting = write_image(tmp_path / "painting.png", 40, 40, 2)
    fast = ["--weights", "random", "--iterations", "3", "-q", "--jit", "off"]
    assert main(["reconstruct", str(photo), "--layer", "conv2_1", "-o", str(tmp_path / "r.png"),
                 "--max-size", "48", *fast]) == 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["config"]["content_layers"] == ["conv2_1"] and record["config"]["beta"] == 0
    assert record["config"]["init"] == "noise"
    assert main(["texture", str(painting), "--layers", "conv1_1,conv2_1", "--size", "24x56",
                 "-o", str(tmp_path / "t.png"), *fast]) == 0
    assert load_image(tmp_path / "t.png").shape == (24, 56, 3)
    assert main(["texture", str(painting), "--size", "big", "-o", str(tmp_path / "u.png"), *fast]) == 2
    assert "--size" in capsys.readouterr().err

    folder = tmp_path / "fig1"
    assert main(["figure1", str(photo), str(painting), "-o", str(folder), "--size", "32", *fast]) == 0
    panels = sorted(p.name for p in folder.glob("*.png"))
    assert len(panels) == 11 and "figure1.png" in panels  # 10 panels and the sheet
    assert json.loads((folder / "content_conv1_1.json").read_text())["psnr_db"] > 0
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("content_*.png")}
    (folder / "figure1.png").unlink()
    # --resume rebuilds the sheet from the panels on disk without new optimisation.
    assert main(["figure1", str(photo), str(painting), "-o", str(folder), "--size", "32",
                 "--resume", *fast]) == 0
    assert (folder / "figure1.png").exists()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # Without --resume or --overwrite, finished panels are not replaced.
    assert main(["figure1", str(photo), str(painting), "-o", str(folder), *fast]) == 2
    assert "--resume" in capsys.readouterr().err


def test_figure2_sheet_shows_each_result_above_its_own_painting():
    """Results are cells style1..N; the paintings must not take their places."""
    cells = figure2_cells(PAPER, 2)
    colours = {"result 1": (250, 0, 0), "result 2": (0, 250, 0), "painting 1": (0, 0, 250),
               "painting 2": (250, 250, 0), "photo": (0, 250, 250)}
    solid = {k: np.full((8, 8, 3), v, np.uint8) for k, v in colours.items()}
    images = {cells[0].name: solid["result 1"], cells[1].name: solid["result 2"]}
    sheet = figure_sheet("figure2", cells, images, solid["photo"],
                         [solid["painting 1"], solid["painting 2"]])
    columns = {}
    for name, colour in colours.items():
        ys, xs = np.nonzero((sheet == colour).all(axis=2))
        assert len(xs) > 0, f"{name} is missing from the sheet"
        columns[name] = (xs.mean(), ys.mean())
    # Each result stands in the column of its own painting, above it.
    for k in (1, 2):
        (rx, ry), (px, py) = columns[f"result {k}"], columns[f"painting {k}"]
        assert abs(rx - px) < 2 and ry < py


def test_reconstruction_and_texture_start_from_noise_unless_told(tiny):
    """A config without an explicit start (StyleConfig's init=None) gives the
    paper's white noise; only a named init changes that."""
    image = smooth_image(24, 24, 3)
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1",),
                         weights="random", iterations=4)
    result = reconstruct_content(image, "conv1_1", config, extractor=tiny)
    assert result.config.init == "noise" and result.iterations == 4
    assert result.initial["content"] > 0
    texture = synthesize_texture(image, ["conv1_1"], config, size=(24, 24), extractor=tiny)
    assert texture.config.init == "noise"
    told = reconstruct_content(image, "conv1_1", config.replace(init="content", iterations=2),
                               extractor=tiny)
    assert told.config.init == "content"
    assert told.initial["content"] < 1e-6 * result.initial["content"]
    for cell in figure1_cells(StyleConfig()) + figure3_cells(StyleConfig()):
        assert cell.config.init == "noise"


def test_a_bad_ratio_is_a_config_error():
    with pytest.raises(ConfigError, match="ratio"):
        figure2_cells(PAPER, 1, ratio=-1.0)
    with pytest.raises(ConfigError, match="ratios"):
        figure3_cells(PAPER, ())


# --resume keeps a panel only when it finished with the same settings ----------

FIGURE = StyleConfig(weights="random", max_size=32, iterations=2, jit="off", precision="float32")


def _figure2(tmp_path, config, extractor, callback=None):
    from tfstyle.workflows.paper import run_figure

    heard = {}

    def listen(event):  # the panels' statuses, and the rest to `callback`
        if isinstance(event, Panel):
            heard.setdefault(event.cell.name, []).append(event.status)
        return callback(event) if callback is not None else None
    run = run_figure("figure2", tmp_path / "photo.png",
                     [tmp_path / "p1.png", tmp_path / "p2.png"], tmp_path / "fig", config,
                     resume=True, extractor=extractor, callback=listen)
    return run, {name: statuses[-1] for name, statuses in heard.items()}


def _stamps(folder):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("style*.png")}


def test_figure_resume_reruns_unfinished_panels_and_panels_of_other_settings(tmp_path, vgg_random):
    import json

    from conftest import write_image

    write_image(tmp_path / "photo.png", 32, 32, 1)
    for k in (1, 2):
        write_image(tmp_path / f"p{k}.png", 32, 32, k + 1)
    folder = tmp_path / "fig"

    def stop(iterate):  # Ctrl-C in the first panel
        raise KeyboardInterrupt

    run, heard = _figure2(tmp_path, FIGURE, vgg_random, callback=only(Iterate, stop))
    assert run.interrupted and heard == {"style1": "finished"}
    assert json.loads((folder / "style1.json").read_text())["status"] == "interrupted"
    # The interrupted panel is run again, not kept.
    run, heard = _figure2(tmp_path, FIGURE, vgg_random)
    assert not run.interrupted and heard == {"style1": "finished", "style2": "finished"}
    # Unchanged and finished: kept, its file untouched.
    stamps = _stamps(folder)
    _, heard = _figure2(tmp_path, FIGURE, vgg_random)
    assert heard == {"style1": "kept", "style2": "kept"} and _stamps(folder) == stamps
    # A record edited to say interrupted: only that panel runs again.
    record = json.loads((folder / "style2.json").read_text())
    (folder / "style2.json").write_text(json.dumps({**record, "status": "interrupted"}))
    _, heard = _figure2(tmp_path, FIGURE, vgg_random)
    assert heard == {"style1": "kept", "style2": "finished"}
    assert _stamps(folder)["style1.png"] == stamps["style1.png"]
    # Other settings: every panel runs again, and records them.
    for other in (FIGURE.replace(seed=7), FIGURE.replace(iterations=3)):
        _, heard = _figure2(tmp_path, other, vgg_random)
        assert heard == {"style1": "finished", "style2": "finished"}, other
    assert json.loads((folder / "style1.json").read_text())["config"]["iterations"] == 3
    # Another painting under the same name is another input.
    write_image(tmp_path / "p2.png", 32, 32, 9)
    _, heard = _figure2(tmp_path, FIGURE.replace(iterations=3), vgg_random)
    assert heard == {"style1": "kept", "style2": "finished"}
