"""Image IO: every Pillow mode to RGB, EXIF, resizing, bad files, atomic writes."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from tfstyle.errors import ImageError, OutputError
from tfstyle.io.images import ImageWarning, load_image, read_metadata, save_image
from tfstyle.io.files import write_json

RGB = (np.arange(12 * 16 * 3).reshape(12, 16, 3) % 251).astype(np.uint8)


def write(tmp_path, name, image, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_rgb_png_round_trip_is_exact(tmp_path):
    path = save_image(tmp_path / "a.png", RGB.astype(np.float32), {"k": "v", "n": {"x": 1}})
    back = load_image(path)
    assert back.dtype == np.float32 and back.shape == (12, 16, 3)
    np.testing.assert_array_equal(back, RGB)
    meta = read_metadata(path)
    assert meta["k"] == "v" and meta["n"] == '{"x": 1}'


def test_jpeg_save_keeps_metadata(tmp_path):
    path = save_image(tmp_path / "a.jpg", RGB, {"tfstyle": {"alpha": 1}})
    assert read_metadata(path) == {"tfstyle": {"alpha": 1}}
    assert np.abs(load_image(path) - RGB).mean() < 20


@pytest.mark.parametrize("mode", ["L", "P", "1", "I;16", "CMYK"])
def test_modes_become_rgb(tmp_path, mode):
    grey = Image.fromarray(RGB[..., 0])
    if mode == "I;16":
        image = Image.fromarray(RGB[..., 0].astype(np.uint16) * 257)
        name = "a.png"
    elif mode == "CMYK":
        image = Image.fromarray(RGB).convert("CMYK")
        name = "a.jpg"
    else:
        image = grey.convert(mode)
        name = "a.png"
    out = load_image(write(tmp_path, name, image))
    assert out.shape == (12, 16, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    if mode in ("L", "I;16"):
        np.testing.assert_allclose(out[..., 1], RGB[..., 0], atol=1.0)
    if mode == "CMYK":
        assert np.abs(out - RGB).mean() < 25


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    out = load_image(write(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[3, 0], [255, 255, 255])
    la = Image.fromarray(np.dstack([np.full((4, 4), 10, np.uint8), rgba[..., 3]]), "LA")
    out = load_image(write(tmp_path, "la.png", la))
    np.testing.assert_array_equal(out[0, 0], [10, 10, 10])
    np.testing.assert_array_equal(out[3, 0], [255, 255, 255])
    palette = Image.fromarray(rgba, "RGBA").convert("P")
    palette.info["transparency"] = palette.getpixel((0, 3))
    out = load_image(write(tmp_path, "p.png", palette, transparency=palette.getpixel((0, 3))))
    np.testing.assert_array_equal(out[3, 0], [255, 255, 255])


def test_exif_orientation_is_applied(tmp_path):
    tall = np.zeros((20, 10, 3), np.uint8)
    tall[:5] = 255  # a white band at the top of the upright image
    stored = Image.fromarray(tall).transpose(Image.Transpose.ROTATE_90)  # stored sideways (10x20)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = write(tmp_path, "r.jpg", stored, exif=exif, quality=100)
    out = load_image(path)
    assert out.shape == (20, 10, 3)  # upright
    assert out[:4].mean() > 200 and out[-4:].mean() < 50


def test_resize_to_max_size_keeps_aspect(tmp_path):
    big = Image.fromarray(np.zeros((300, 400, 3), np.uint8))
    out = load_image(write(tmp_path, "b.png", big), max_size=100)
    assert out.shape == (75, 100, 3)
    small = load_image(write(tmp_path, "s.png", Image.fromarray(RGB)), max_size=100)
    assert small.shape == (12, 16, 3)  # never enlarged


def test_animated_gif_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(ImageWarning, match="2 frames"):
        out = load_image(path)
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def png_header_claiming(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data
                                + struct.pack(">I", zlib.crc32(kind + data)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + chunk(b"IEND", b"")


def jpeg_bytes():
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, "JPEG")
    return buffer.getvalue()


def png_bytes():
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, "PNG")
    return buffer.getvalue()


BAD_FILES = {
    "empty.png": b"",
    "random.jpg": bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)),
    "truncated.jpg": jpeg_bytes()[:200],
    "truncated.png": png_bytes()[:60],
    "text.png": b"hello, I am not an image\n",
    "doc.pdf": b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_files_raise_image_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    with pytest.raises(ImageError, match=name):
        load_image(path)


def test_missing_folder_and_bomb(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_claiming(100_000, 100_000))
    with pytest.raises(ImageError, match="over the limit"):
        load_image(bomb)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(write(tmp_path, "ok.png", Image.fromarray(RGB)), max_pixels=100)


def test_odd_paths_work(tmp_path):
    folder = tmp_path / "my photos ünï 写真"
    folder.mkdir()
    path = save_image(folder / "bild mit leerzeichen é.png", RGB)
    np.testing.assert_array_equal(load_image(path), RGB)


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    save_image(tmp_path / "a.png", RGB)
    save_image(tmp_path / "a.png", RGB[::-1])  # replaces
    write_json(tmp_path / "a.json", {"x": np.float32(1.5)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.png"]
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), RGB[::-1])


def test_failed_save_keeps_the_old_file(tmp_path):
    save_image(tmp_path / "a.png", RGB)

    with pytest.raises(OutputError):
        save_image(tmp_path / "a.gif", RGB)
    with pytest.raises(OutputError, match="does not exist"):
        save_image(tmp_path / "missing" / "a.png", RGB)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), RGB)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_unwritable_folder_and_full_disk_leave_nothing_behind(tmp_path, monkeypatch):
    import errno
    import tempfile

    save_image(tmp_path / "a.png", RGB)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", denied)
        with pytest.raises(OutputError, match="cannot write here"):
            save_image(tmp_path / "b.png", RGB)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full)
        with pytest.raises(OutputError, match="No space left"):
            save_image(tmp_path / "a.png", RGB[::-1])
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), RGB)  # old file intact


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(["png", "jpg"]))
def test_mutated_images_give_an_array_or_image_error(tmp_path, data, kind):
    original = bytearray(png_bytes() if kind == "png" else jpeg_bytes())
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)),
                               max_size=8))
    for position, value in edits:
        original[position] = value
    cut = data.draw(st.integers(0, len(original)))
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(bytes(original[:cut]))
    try:
        out = load_image(path, max_size=64)
    except ImageError as error:
        assert str(path) in str(error) and "\n" not in str(error)
    else:
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 255


def test_check_disk_refuses_with_the_figures_and_passes_when_it_fits(tmp_path, monkeypatch):
    from collections import namedtuple

    from tfstyle.io import files
    from tfstyle.errors import OutputError

    usage = namedtuple("usage", "total used free")
    seen = []
    monkeypatch.setattr(files.shutil, "disk_usage",
                        lambda p: seen.append(p) or usage(10e9, 9e9, 1e9))
    files.check_disk(tmp_path / "not" / "made", {"outputs": 0.5e9, "checkpoints": 0.4e9})
    assert seen[-1] == tmp_path  # the nearest folder that exists
    with pytest.raises(OutputError, match=r"needs about 1\.20 GB of disk \(outputs 0\.50, "
                                          r"checkpoints 0\.70\), but only 1\.00 GB is free"):
        files.check_disk(tmp_path, {"outputs": 0.5e9, "checkpoints": 0.7e9})
    with pytest.raises(OutputError):
        files.check_disk(tmp_path, {"outputs": 0.5e9}, reserve_bytes=0.6e9)


def test_read_json_raises_a_record_error_naming_the_file(tmp_path):
    """A run record or job outcome that is missing or damaged is a record's
    problem, not an image's: RecordError, one line naming the file."""
    from tfstyle.errors import RecordError
    from tfstyle.io.files import read_json

    with pytest.raises(RecordError, match="missing.json: no such file"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "torn.json").write_text('{"status": "runn')
    with pytest.raises(RecordError, match="torn.json: not a readable JSON file") as error:
        read_json(tmp_path / "torn.json")
    assert "\n" not in str(error.value)
