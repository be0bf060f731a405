"""The tfstyle command: a real small transfer, and one clear line per bad input.

The command runs in this process (conftest.cli); only the test of what a
fresh process prints starts one."""

import json

import pytest

from conftest import cli, cli_process, write_image
from tfstyle.weights import sources as weights_module
from tfstyle.io.images import load_image, read_metadata


@pytest.fixture
def images(tmp_path):
    return (write_image(tmp_path / "content.png", 48, 64, 1),
            write_image(tmp_path / "style.jpg", 64, 64, 2))


def test_transfer_writes_image_record_and_plot(images, tmp_path, capsys):
    content, style = images
    out = tmp_path / "result.png"
    code = cli("transfer", content, style, "-o", out, "--weights", "random",
               "--iterations", 6, "--max-size", 48, "--save-every", 3)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    image = load_image(out)
    assert image.shape == (36, 48, 3)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "finished" and record["iterations"] == 6
    assert record["weights"] == "random (seed 0)" and record["seed"] == 0
    # No --beta: the default for random weights, written as resolved (so a
    # later change of the default cannot change a resume), and said so.
    assert record["config"]["beta"] == 7e5 and record["config"]["max_size"] == 48
    assert record["alpha_beta"] == {"alpha": 1.0, "beta": 7e5, "ratio": 1 / 7e5,
                                    "beta_from": "default for random weights"}
    assert record["normalization"] == "network (reference set v1)"
    assert set(record["quality"]) >= {"speckle", "strokes"}
    assert len(record["history"]) == 6 and record["versions"]["tensorflow"]
    assert record["inputs"]["content"] == str(content)
    # Which path ran at this size, and why: --jit off, as the tests pin it
    # (--jit auto's race and cache are test_jit's).
    (choice,) = record["jit"]
    assert choice == {"size": [36, 48], "xla": False, "reason": "set", "seconds": {}}
    assert record["config"]["jit"] == "off" and record["config"]["precision"] == "float32"
    meta = json.loads(read_metadata(out)["tfstyle"])
    assert meta["config"]["style_layers"] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert (tmp_path / "result.loss.png").exists()
    assert (tmp_path / "result.0003.png").exists() and (tmp_path / "result.0006.png").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def one_error_line(capsys, code, *args):
    assert cli(*args) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("tfstyle: error: ")
    return err[0]


def test_bad_inputs_give_exit_2_and_one_line(images, tmp_path, capsys):
    content, style = images
    out = tmp_path / "o.png"
    base = ["transfer", content, style, "-o", out, "--weights", "random", "-q"]
    assert "no such file" in one_error_line(capsys, 2, "transfer", tmp_path / "nope.png", style, "-o", out)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert "corrupt.jpg" in one_error_line(capsys, 2, "transfer", content, corrupt, "-o", out,
                                           "--weights", "random", "-q")
    assert "--beta" in one_error_line(capsys, 2, *base, "--beta", "-1")
    assert "--pooling" in one_error_line(capsys, 2, *base, "--pooling", "median")
    assert "--iterations" in one_error_line(capsys, 2, *base, "--iterations", "0")
    assert "conv6_1" in one_error_line(capsys, 2, *base, "--style-layers", "conv1_1,conv6_1")
    assert "--style-weights" in one_error_line(capsys, 2, *base, "--style-weights", "1,2")
    assert "does not exist" in one_error_line(capsys, 2, "transfer", content, style, "-o",
                                              tmp_path / "missing" / "o.png")
    assert "use .png or .jpg" in one_error_line(capsys, 2, "transfer", content, style, "-o",
                                                tmp_path / "o.bmp")
    assert "is an input" in one_error_line(capsys, 2, "transfer", content, style, "-o", content,
                                           "--overwrite")
    out.write_bytes(b"precious")
    assert "--overwrite" in one_error_line(capsys, 2, *base)
    assert out.read_bytes() == b"precious"


def test_unavailable_weights_give_one_line(images, tmp_path, capsys, monkeypatch, offline):
    content, style = images
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    line = one_error_line(capsys, 2, "transfer", content, style, "-o", tmp_path / "o.png", "-q")
    assert "--weights procedural" in line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_errors_from_a_fresh_process_are_one_line_without_tensorflow_noise(images, tmp_path):
    """TensorFlow's start-up chatter goes to stderr only in a fresh process."""
    content, style = images
    corrupt = tmp_path / "truncated.png"
    corrupt.write_bytes(content.read_bytes()[:80])
    proc = cli_process("transfer", content, corrupt, "-o", tmp_path / "o.png", "--weights", "random")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "truncated.png" in proc.stderr
