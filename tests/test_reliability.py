"""Hostile and odd inputs through the real CLI: a correct result or one clear
line and exit 2; never a traceback, never a damaged input."""

import json
import multiprocessing
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import cli, smooth_image
from tfstyle.io.images import load_image, save_image

RUN = ["--weights", "random", "--iterations", "2", "--max-size", "32", "-q", "--no-plot"]


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.png"
    Image.fromarray(smooth_image(32, 32, 1).astype(np.uint8)).save(path)
    return path


def png_claiming(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def write_bad(tmp_path, name):
    """The corpus of bad inputs, made here rather than committed."""
    path = tmp_path / name
    buffer = tmp_path / "whole.jpg"
    Image.fromarray(smooth_image(64, 64, 2).astype(np.uint8)).save(buffer)
    whole_png = tmp_path / "whole.png"
    Image.fromarray(smooth_image(64, 64, 2).astype(np.uint8)).save(whole_png)
    content = {
        "empty.png": b"",
        "random.jpg": os.urandom(3000),
        "random.png": os.urandom(3000),
        "truncated.jpg": buffer.read_bytes()[:300],
        "truncated.png": whole_png.read_bytes()[:100],
        "notes.png": b"just some text\n" * 20,
        "paper.pdf": b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "bomb.png": png_claiming(100_000, 100_000),
    }[name]
    path.write_bytes(content)
    return path


def one_line(capsys, code, args):
    assert cli(*args) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("name", ["empty.png", "random.jpg", "random.png", "truncated.jpg",
                                  "truncated.png", "notes.png", "paper.pdf", "bomb.png"])
def test_bad_images_give_one_line_and_exit_2(tmp_path, good, capsys, name):
    bad = write_bad(tmp_path, name)
    before = bad.read_bytes()
    for args in (["transfer", bad, good], ["transfer", good, bad]):
        line = one_line(capsys, 2, [*args, "-o", tmp_path / "out.png", *RUN])
        assert name in line and line.startswith("tfstyle: error: ")
    assert bad.read_bytes() == before  # inputs are never touched
    assert not (tmp_path / "out.png").exists()


def test_folder_small_and_extreme_images(tmp_path, good, capsys):
    line = one_line(capsys, 2, ["transfer", tmp_path, good, "-o", tmp_path / "o.png", *RUN])
    assert "is a folder" in line
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tiny)
    assert "too small" in one_line(capsys, 2, ["transfer", tiny, good, "-o", tmp_path / "o.png", *RUN])
    strip = tmp_path / "strip.png"
    Image.fromarray(np.zeros((16, 4000, 3), np.uint8)).save(strip)
    line = one_line(capsys, 2, ["transfer", strip, good, "-o", tmp_path / "o.png", *RUN])
    assert "too small" in line and "16x16" in line
    limited = one_line(capsys, 2, ["transfer", good, good, "-o", tmp_path / "o.png", *RUN,
                                   "--max-pixels", "100"])
    assert "over the limit" in limited


def test_odd_but_valid_images_work(tmp_path, good, capsys):
    folder = tmp_path / "mes images été"
    folder.mkdir()
    frames = [Image.new("RGB", (32, 32), (200, 30, 30)), Image.new("RGB", (32, 32), (30, 30, 200))]
    gif = folder / "animé.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    cmyk = folder / "cmyk photo.jpg"
    Image.fromarray(smooth_image(32, 32, 3).astype(np.uint8)).convert("CMYK").save(cmyk)
    grey16 = folder / "grey16.png"
    Image.fromarray((smooth_image(32, 32, 4)[..., 0] * 257).astype(np.uint16)).save(grey16)
    la = folder / "la.png"
    Image.fromarray(smooth_image(32, 32, 5)[..., :2].astype(np.uint8), "LA").save(la)
    out = folder / "résultat.png"
    assert cli("transfer", gif, cmyk, "-o", out, *RUN) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "first" in err and "Traceback" not in err
    assert load_image(out).shape == (32, 32, 3)
    for content in (grey16, la):
        out = folder / f"{content.stem} out.png"
        assert cli("transfer", content, good, "-o", out, *RUN) == 0
        assert out.exists()


def test_exif_rotated_input_comes_out_upright(tmp_path, good):
    tall = np.zeros((48, 32, 3), np.uint8)
    tall[:12] = 255
    stored = Image.fromarray(tall).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    stored.save(rotated, exif=exif, quality=100)
    out = tmp_path / "upright.png"
    assert cli("transfer", rotated, good, "-o", out, *RUN, "--max-size", "48") == 0
    assert load_image(out).shape == (48, 32, 3)


@pytest.mark.parametrize("option, value, named", [
    ("--alpha", "nan", "--alpha"), ("--beta", "-2", "--beta"), ("--tv-weight", "inf", "--tv-weight"),
    ("--style-weights", "1,1,1,1,-1", "--style-weights"), ("--content-weights", "x", "--content-weights"),
    ("--iterations", "0", "--iterations"), ("--iterations", "-5", "--iterations"),
    ("--max-size", "0", "--max-size"), ("--max-size", "-1", "--max-size"),
    ("--style-layers", "conv1_1,conv7_1", "conv7_1"), ("--content-layers", "pool4", "pool4"),
    ("--scales", "128,big", "--scales"), ("--scales", "0", "--scales"),
    ("--style-blend", "0.5,0.5,0.5", "--style-blend"), ("--style-scale", "0", "--style-scale"),
    ("--preserve-color", "sepia", "--preserve-color"), ("--optimizer", "sgd", "--optimizer"),
    ("--learning-rate", "-1", "--learning-rate"), ("--save-every", "-1", "--save-every"),
    ("--precision", "float8", "--precision"),
])
def test_bad_options_name_the_option(tmp_path, good, capsys, option, value, named):
    line = one_line(capsys, 2, ["transfer", good, good, "-o", tmp_path / "o.png", *RUN, option, value])
    assert named in line, line


def test_nonfinite_loss_keeps_last_finite_image(tmp_path, good, capsys, monkeypatch):
    from tfstyle.core.objective import Objective

    evaluate = Objective.evaluate
    calls = {"n": 0}

    def poisoned(self, image):
        calls["n"] += 1
        total, grad, terms = evaluate(self, image)
        return (float("nan") if calls["n"] > 3 else total), grad, terms

    monkeypatch.setattr(Objective, "evaluate", poisoned)
    style = tmp_path / "style.png"
    Image.fromarray(smooth_image(32, 32, 9).astype(np.uint8)).save(style)
    out = tmp_path / "o.png"
    line = one_line(capsys, 2, ["transfer", good, style, "-o", out, *RUN, "--iterations", "50"])
    assert "NaN" in line and "beta" in line
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "failed" and record["stop_reason"] == "nonfinite"
    assert np.isfinite(load_image(out)).all()


def _writer(path, value, rounds):
    for _ in range(rounds):
        save_image(path, np.full((64, 64, 3), value, np.float32))


@pytest.mark.slow
def test_two_writers_never_mix(tmp_path):
    """Two processes (spawned: each a fresh interpreter) write one file."""
    path = tmp_path / "shared.png"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, v, 30)) for v in (40, 220)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    image = load_image(path)
    assert len(np.unique(image)) == 1 and image[0, 0, 0] in (40, 220)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.png"]


def test_corrupt_and_wrong_weights_files_name_the_file(tmp_path, good, capsys):
    corrupt = tmp_path / "vgg19 weights.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(500))
    line = one_line(capsys, 2, ["transfer", good, good, "-o", tmp_path / "o.png",
                                "--weights", corrupt, "-q", "--iterations", "1", "--max-size", "32"])
    assert "vgg19 weights.h5" in line
