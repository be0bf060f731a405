"""tfstyle.core.quality on images built to have known band energies, and
`tfstyle quality` on files."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfstyle.io.images import load_image
from tfstyle.core.color import yiq_to_rgb
from tfstyle.core.quality import WIDTH, at_width, band_energy, quality
from tfstyle_cli.main import main


def gaussian_gain(period: float) -> float:
    """What gaussian_filter(sigma=1 px) keeps of a cosine of this period:
    the sampled, normalised Gaussian (scipy cuts it at 4 sigma) at that
    frequency, summed here by hand."""
    k = np.arange(-4, 5)
    w = np.exp(-0.5 * k ** 2)  # sigma = 1 px
    return float(np.sum(w * np.cos(2 * np.pi * k / period)) / np.sum(w))


def stripes(period: int, amplitude: float, axis: int, height=128) -> np.ndarray:
    """(height, WIDTH) cosine stripes, symmetric about each border's half
    pixel, so scipy's 'reflect' border continues them exactly."""
    n = np.arange(WIDTH if axis == 1 else height) + 0.5
    wave = amplitude * np.cos(2 * np.pi * n / period)
    return np.broadcast_to(wave[None, :] if axis == 1 else wave[:, None], (height, WIDTH))


def energy(period, amplitude) -> float:
    """Band energy of those stripes: (1 - gain)^2 times the mean square."""
    return (1 - gaussian_gain(period)) ** 2 * amplitude ** 2 / 2


def from_yiq(y, i, q) -> np.ndarray:
    """(H, W, 3) RGB in [0, 255] from YIQ planes in [0, 1] units."""
    yiq = np.stack([0.5 + y, i, q], axis=-1)
    return (yiq_to_rgb(yiq) * 255.0).astype(np.float32)


def test_band_energy_of_stripes_is_the_gaussians_complement():
    flat = np.zeros((128, WIDTH))
    image = from_yiq(stripes(4, 0.1, 1), stripes(8, 0.05, 0), flat)
    y, i, q = band_energy(image)
    assert y == pytest.approx(energy(4, 0.1), rel=1e-4)
    assert i == pytest.approx(energy(8, 0.05), rel=1e-4)
    assert q == pytest.approx(0.0, abs=1e-12)
    # A slow wave is nearly all kept by the Gaussian: almost no band.
    slow = band_energy(from_yiq(stripes(128, 0.2, 1), flat, flat))[0]
    assert slow < 1e-3 * energy(4, 0.2)


def test_speckle_and_strokes_divide_by_the_larger_source():
    flat = np.zeros((128, WIDTH))
    result = from_yiq(stripes(4, 0.10, 1), stripes(4, 0.06, 0), stripes(8, 0.04, 1))
    painting = from_yiq(stripes(8, 0.20, 0), stripes(8, 0.02, 1), flat)
    photo = from_yiq(stripes(4, 0.05, 0), flat, stripes(4, 0.03, 0))
    numbers = quality(result, [painting], photo)
    luminance = max(energy(8, 0.20), energy(4, 0.05))
    chroma = max(energy(8, 0.02), energy(4, 0.03))
    assert numbers["strokes"] == pytest.approx(energy(4, 0.10) / luminance, rel=1e-4)
    assert numbers["speckle"] == pytest.approx((energy(4, 0.06) + energy(8, 0.04)) / chroma,
                                               rel=1e-4)
    # The photo is the larger chroma source here; without it, the painting is.
    alone = quality(result, [painting])
    assert alone["speckle"] == pytest.approx((energy(4, 0.06) + energy(8, 0.04))
                                             / energy(8, 0.02), rel=1e-4)
    # Blurring the result lowers strokes; colour noise raises speckle.
    blurred = np.stack([np.asarray(Image.fromarray(result[..., c], mode="F").resize(
        (WIDTH // 4, 32)).resize((WIDTH, 128), Image.BILINEAR)) for c in range(3)], -1)
    assert quality(blurred, [painting], photo)["strokes"] < 0.2 * numbers["strokes"]
    noise = np.random.default_rng(0).normal(0, 0.05, (128, WIDTH))
    noisy = result + from_yiq(flat - 0.5, noise, noise)
    assert quality(noisy, [painting], photo)["speckle"] > 2 * numbers["speckle"]


def test_every_image_is_compared_at_256_px_wide():
    big = np.full((300, 1024, 3), 90.0, np.float32)
    small = at_width(big)
    assert small.shape == (75, WIDTH, 3)
    np.testing.assert_allclose(small, 90.0, atol=1e-3)
    # The same picture at two sizes reads about the same.
    flat = np.zeros((128, WIDTH))
    picture = from_yiq(stripes(32, 0.2, 1), stripes(64, 0.1, 0), flat)
    twice = np.stack([np.asarray(Image.fromarray(picture[..., c], mode="F").resize(
        (2 * WIDTH, 256), Image.LANCZOS)) for c in range(3)], -1)
    assert band_energy(at_width(twice)) == pytest.approx(band_energy(picture), rel=0.05)


def save(path, rgb):
    Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)).save(path)
    return path


def test_the_command_prints_the_numbers_of_the_files(tmp_path, capsys):
    flat = np.zeros((128, WIDTH))
    result = save(tmp_path / "out.png", from_yiq(stripes(4, 0.1, 1), stripes(4, 0.06, 0), flat))
    painting = save(tmp_path / "painting.png", from_yiq(stripes(8, 0.2, 0), stripes(8, 0.05, 1), flat))
    photo = save(tmp_path / "photo.png", from_yiq(stripes(16, 0.2, 1), flat, flat))
    expected = quality(load_image(result), [load_image(painting)], load_image(photo))
    assert main(["quality", str(result), str(painting), "--photo", str(photo), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["speckle"] == pytest.approx(expected["speckle"], rel=1e-9)
    assert printed["strokes"] == pytest.approx(expected["strokes"], rel=1e-9)
    # Without --photo, the photo comes from the result's run record.
    (tmp_path / "out.json").write_text(json.dumps({"inputs": {"content": str(photo)}}))
    assert main(["quality", str(result), str(painting)]) == 0
    line = capsys.readouterr().out.strip()
    assert line == (f"speckle {expected['speckle']:.2f}  strokes {expected['strokes']:.2f}  "
                    f"(out.png against painting.png and photo.png)")


def test_the_command_refuses_bad_files_in_one_line(tmp_path, capsys):
    painting = save(tmp_path / "painting.png", np.full((32, 32, 3), 100.0))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    for args in (["quality", str(tmp_path / "missing.png"), str(painting)],
                 ["quality", str(tmp_path / "broken.png"), str(painting)]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("tfstyle: error: "), err


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_quality_bench_scores_each_cell_and_keeps_finished_ones(tmp_path, capsys):
    from conftest import write_image

    photo = write_image(tmp_path / "photo.png", 36, 48, 1)
    paintings = [write_image(tmp_path / f"p{k}.png", 40, 40, k + 2) for k in range(2)]
    args = ["quality-bench", str(photo), "--paintings", ",".join(map(str, paintings)),
            "-o", str(tmp_path / "grid"), "--weights", "random,procedural", "--iterations", "2",
            "--max-size", "32", "--json", "-q", "--jit", "off"]  # not auto: no XLA race per cell
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert [(r["weights"], r["painting"]) for r in first["rows"]] == [
        ("random", "p0"), ("random", "p1"), ("procedural", "p0"), ("procedural", "p1")]
    for row in first["rows"]:
        assert Path(row["path"]).parent == tmp_path / "grid" / row["weights"]
        record = json.loads(Path(row["path"]).with_suffix(".json").read_text())
        assert record["quality"]["speckle"] == pytest.approx(row["speckle"], rel=1e-9)
        assert record["alpha_beta"]["beta_from"] == f"default for {row['weights']} weights"
        assert not row["kept"]
    assert first["summary"]["procedural"]["worst_speckle"] == max(
        r["speckle"] for r in first["rows"] if r["weights"] == "procedural")
    assert main(args) == 0  # again: every cell is read back, with the same scores
    second = json.loads(capsys.readouterr().out)
    assert all(r["kept"] for r in second["rows"])
    assert [r["speckle"] for r in second["rows"]] == pytest.approx([r["speckle"] for r in first["rows"]])


# quality_grid's cells: one name per (photo, painting, weights), reused only
# when finished with the same settings.

GRID = dict(max_size=32, iterations=2, weights="random", jit="off", precision="float32")


def grid_inputs(tmp_path, names):
    from conftest import write_image

    paths = {}
    for k, name in enumerate(names):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        paths[name] = write_image(path, 32, 32, k + 1)
    return paths


def test_quality_grid_cells_of_like_stems_do_not_collide(tmp_path):
    from tfstyle.config import StyleConfig
    from tfstyle.workflows.quality_grid import cell_path, quality_grid

    files = grid_inputs(tmp_path, ["one/x.png", "two/x.png", "a_b.png", "a.png", "c.png",
                                   "b_c.png"])
    # The same stem in two folders.
    assert cell_path("g", "random", files["one/x.png"], files["c.png"]) != \
        cell_path("g", "random", files["two/x.png"], files["c.png"])
    # "a_b" + "c" against "a" + "b_c", in a grid that makes both.
    photos, paintings = [files["a_b.png"], files["a.png"]], [files["c.png"], files["b_c.png"]]
    rows = quality_grid(photos, paintings, tmp_path / "grid", StyleConfig(**GRID))
    assert len({r["path"] for r in rows}) == 4
    for row, (photo, painting) in zip(rows, [(p, q) for p in photos for q in paintings]):
        record = json.loads(Path(row["path"]).with_suffix(".json").read_text())
        assert record["inputs"]["content"] == str(photo.absolute())
        assert record["inputs"]["styles"] == [str(painting.absolute())]
        assert Path(row["path"]).name.startswith(f"{photo.stem}_{painting.stem}-")
    # An export as the source keeps its cells under the grid folder.
    assert cell_path(tmp_path / "grid", str(tmp_path / "exports" / "vgg"), photos[0],
                     paintings[0]).parent == tmp_path / "grid" / "vgg"


def test_quality_grid_reuses_a_cell_only_if_finished_with_the_same_settings(tmp_path):
    from tfstyle.config import StyleConfig
    from tfstyle.workflows.quality_grid import quality_grid

    files = grid_inputs(tmp_path, ["photo.png", "painting.png"])
    photos, paintings = [files["photo.png"]], [files["painting.png"]]
    config = StyleConfig(**GRID)

    def grid(config):
        (row,) = quality_grid(photos, paintings, tmp_path / "grid", config)
        return row

    first = grid(config)
    out = Path(first["path"])
    stamp = out.stat().st_mtime_ns, out.read_bytes()
    again = grid(config)
    assert again["kept"] and again["path"] == first["path"]
    assert (out.stat().st_mtime_ns, out.read_bytes()) == stamp
    for other in (config.replace(iterations=3), config.replace(beta=1e5)):
        assert not grid(other)["kept"], other
    record = out.with_suffix(".json")
    assert json.loads(record.read_text())["config"]["beta"] == 1e5
    assert grid(config.replace(beta=1e5))["kept"]
    # A cell whose record says it did not finish is run again.
    edited = json.loads(record.read_text())
    edited["status"] = "interrupted"
    record.write_text(json.dumps(edited))
    assert not grid(config.replace(beta=1e5))["kept"]
    assert json.loads(record.read_text())["status"] == "finished"
    # So is one its callback stopped short of its plan.
    from tfstyle.events import Iterate, only

    with pytest.raises(KeyboardInterrupt):
        quality_grid(photos, paintings, tmp_path / "grid", config.replace(iterations=4),
                     callback=only(Iterate, lambda it: it.iteration < 2))
    assert not grid(config.replace(iterations=4))["kept"]


def test_quality_of_decodes_the_sources_at_the_measuring_size(tmp_path, monkeypatch):
    """After every run the paintings and the photo are measured at 256 px
    wide: they are decoded about that size, landscape or portrait, not at
    their own, and the numbers are those of the full-size images."""
    from conftest import smooth_image
    from tfstyle.workflows import inputs

    painting, photo = tmp_path / "painting.png", tmp_path / "photo.png"
    Image.fromarray(smooth_image(900, 1200, 1).astype(np.uint8)).save(painting)
    Image.fromarray(smooth_image(1000, 600, 2).astype(np.uint8)).save(photo)
    result = smooth_image(192, 256, 3)
    decoded, load = [], inputs.load_image

    def recorded(*args, **kwargs):
        array = load(*args, **kwargs)
        decoded.append(array.shape[:2])
        return array
    monkeypatch.setattr(inputs, "load_image", recorded)
    numbers = inputs.quality_of(result, [painting], photo)
    assert decoded[0] == (192, 256)  # the landscape painting: once, 256 wide
    assert all(max(shape) <= 430 for shape in decoded)  # the portrait: 256 wide, 1000/600 tall
    assert 256 <= decoded[-1][1] <= 258
    whole = quality(result, [load_image(painting)], load_image(photo))
    assert numbers["speckle"] == pytest.approx(whole["speckle"], rel=0.05)
    assert numbers["strokes"] == pytest.approx(whole["strokes"], rel=0.05)


def test_quality_without_any_source_is_a_config_error():
    from tfstyle.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a painting or a photo") as error:
        quality(np.zeros((8, 8, 3), np.float32), [])
    assert isinstance(error.value, ValueError) and error.value.option is None
