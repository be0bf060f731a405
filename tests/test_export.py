"""The SavedModel export: signatures equal the in-process extractor, the CLI
tools read it, and it works as a weights source."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.core.normalization import network_scales
from PIL import Image

from tfstyle_cli.main import main
from conftest import smooth_image
from tfstyle.errors import OutputError, WeightsError
from tfstyle.workflows.export import export_saved_model, read_export_metadata
from tfstyle.core.extractor import FeatureExtractor

LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    extractor = FeatureExtractor("random", seed=0, layers=LAYERS)
    base = tmp_path_factory.mktemp("export") / "vgg19_avg"
    path = export_saved_model(extractor, base, version=1)
    return extractor, base, path


@pytest.fixture(scope="module")
def loaded(exported):
    """The export as TF Serving loads it, once for the module."""
    return tf.saved_model.load(str(exported[2]))


def assert_close_at_scale(got, expected, rel=1e-3):
    """Equal to float32 rounding, scaled to the layer: other CPUs' kernels sum
    hundreds of channels in another order, so elementwise 1e-5 cannot hold."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= rel * scale, (np.abs(got - expected).max(), scale)


def numpy_style(features):
    f = np.asarray(features, np.float64)
    n, h, w, c = f.shape
    flat = f.reshape(n, h * w, c)
    return np.einsum("nmc,nmd->ncd", flat, flat) / (h * w)


@pytest.mark.parametrize("size", [(32, 48), (64, 40)])
def test_signatures_equal_the_in_process_extractor(exported, loaded, size):
    extractor, _, path = exported
    images = np.stack([smooth_image(*size, seed=s) for s in (1, 2)])
    reference = extractor(images)
    # The export carries the network's scales, the very ones a run uses.
    scales = network_scales(extractor, LAYERS)
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    assert sorted(served) == sorted(LAYERS)
    normalized = loaded.signatures["normalized"](images=tf.constant(images))
    styles = loaded.signatures["style"](images=tf.constant(images))
    for name in LAYERS:
        assert_close_at_scale(served[name].numpy(), reference[name].numpy())  # raw
        scaled = reference[name].numpy() * scales[name]
        assert_close_at_scale(normalized[name].numpy(), scaled)
        assert styles[name].shape == (2, reference[name].shape[-1], reference[name].shape[-1])
        for k in range(2):  # each image's own Gram, not one over the batch
            assert_close_at_scale(styles[name].numpy()[k], numpy_style(scaled)[k])
    # encoded: PNG bytes decoded in the graph (lossless, under 512 px: no resize).
    blobs = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(np.rint(image).astype(np.uint8)).save(buffer, "PNG")
        blobs.append(buffer.getvalue())
    rounded = np.rint(images).astype(np.float32)
    encoded = loaded.signatures["encoded"](image_bytes=tf.constant(blobs))
    sized = loaded.signatures["encoded_sized"](image_bytes=tf.constant(blobs),
                                               max_size=tf.constant(512))
    for name in LAYERS:
        expected = numpy_style(extractor(rounded, (name,))[name].numpy() * scales[name])
        assert_close_at_scale(encoded[name].numpy(), expected)
        assert_close_at_scale(sized[name].numpy(), expected)


def test_metadata_asset(exported):
    extractor, _, path = exported
    meta = read_export_metadata(path)
    assert meta["weights"] == "random (seed 0)" and meta["pooling"] == "avg"
    assert meta["layers"] == list(LAYERS) and meta["preprocessing"]["mean_bgr"][0] == 103.939
    assert len(meta["weights_sha256"]) == 64 and meta["tfstyle_version"]


@pytest.mark.slow  # saved_model_cli in a fresh process
def test_saved_model_cli_shows_and_runs_the_signatures(exported, tmp_path):
    _, _, path = exported
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    shown = subprocess.run([*cli, "show", "--dir", str(path), "--all"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    for signature in ("serving_default", "style", "encoded", "encoded_sized"):
        assert f"signature_def['{signature}']" in text
    assert "inputs['images'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, -1, -1, 3)" in text
    assert "inputs['image_bytes'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in text
    assert "outputs['conv5_1'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 512, 512)" in text
    np.save(tmp_path / "x.npy", smooth_image(32, 32, 3)[None])
    ran = subprocess.run([*cli, "run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                          "style", "--inputs", f"images={tmp_path / 'x.npy'}", "--outdir",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert np.load(tmp_path / "out" / "conv1_1.npy").shape == (1, 64, 64)


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_export_as_weights_gives_the_same_transfer(exported, tmp_path, capsys):
    _, base, _ = exported
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(smooth_image(36, 48, 1).astype(np.uint8)).save(content)
    Image.fromarray(smooth_image(48, 48, 2).astype(np.uint8)).save(style)
    common = ["transfer", str(content), str(style), "--iterations", "5", "--max-size", "48", "-q",
              "--no-plot", "--jit", "off"]  # not auto: no XLA race per weights source
    assert main([*common, "-o", str(tmp_path / "a.png"), "--weights", "random"]) == 0
    assert main([*common, "-o", str(tmp_path / "b.png"), "--weights", str(base)]) == 0
    a = np.asarray(Image.open(tmp_path / "a.png"))
    b = np.asarray(Image.open(tmp_path / "b.png"))
    np.testing.assert_array_equal(a, b)
    record = json.loads((tmp_path / "b.json").read_text())
    assert record["weights"].startswith("savedmodel") and "random (seed 0)" in record["weights"]


def test_an_export_that_stops_short_is_rejected(tmp_path):
    shallow = export_saved_model(FeatureExtractor("random", layers=("conv1_1", "conv2_1")),
                                 tmp_path / "shallow", version=3)
    FeatureExtractor(str(shallow), layers=("conv2_1",))
    with pytest.raises(WeightsError, match="up to conv2_1.*needs conv5_1"):
        FeatureExtractor(str(tmp_path / "shallow"), layers=("conv5_1",))


def test_bad_export_paths_and_versions(exported, tmp_path, capsys):
    _, base, _ = exported
    for args, expected in (
        (["-o", str(base)], "already exists"),
        (["-o", str(tmp_path / "x"), "--version", "0"], "--version"),
        (["-o", str(tmp_path / "x"), "--version", "two"], "--version"),
        (["-o", str(tmp_path / "x"), "--layers", "conv1_1,conv9_9"], "conv9_9"),
    ):
        assert main(["export", "--weights", "random", "-q", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["export", "--weights", "random", "-q", "-o", str(blocker / "m")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(OutputError, match="version"):
        export_saved_model(FeatureExtractor("random", layers=("conv1_1",)), tmp_path / "v", version=-1)


def _png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def test_encoded_prepares_images_as_load_image_does(exported, loaded, tmp_path):
    """Above 512 px the encoded signature shrinks as load_image does
    (antialiased Lanczos-3); transparency goes on white; thin images keep a
    pixel. Bicubic resampling, as before, was 7-11% off at this scale."""
    from tfstyle.workflows.export import prepare_encoded
    from tfstyle.io.images import load_image

    extractor, _, path = exported
    rng = np.random.default_rng(0)
    detailed = smooth_image(700, 610, 3)
    detailed[::7] = 255.0
    detailed = np.clip(detailed + rng.normal(0, 20, detailed.shape), 0, 255).astype(np.uint8)
    big = tmp_path / "big.png"
    big.write_bytes(_png_bytes(detailed))
    reference = load_image(big, max_size=512)
    assert reference.shape == (512, 446, 3)
    served = loaded.signatures["encoded"](image_bytes=tf.constant([big.read_bytes()]))
    for name in ("conv1_1", "conv2_1", "conv3_1"):
        assert_close_at_scale(served[name].numpy()[0],
                              numpy_style(extractor(reference[None], (name,))[name].numpy()
                                          * network_scales(extractor, (name,))[name])[0])

    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[..., :3] = (200, 30, 10)
    rgba[:20, :, 3] = 255  # top half opaque red, bottom half transparent
    (tmp_path / "rgba.png").write_bytes(_png_bytes(rgba, "RGBA"))
    grey = (np.arange(40 * 30, dtype=np.uint32).reshape(40, 30) % 256).astype(np.uint8)
    (tmp_path / "grey.png").write_bytes(_png_bytes(grey, "L"))
    thin = np.full((1, 1200, 3), 90, np.uint8)
    (tmp_path / "thin.png").write_bytes(_png_bytes(thin))
    for name, size in (("rgba.png", 512), ("grey.png", 512), ("thin.png", 512)):
        prepared = prepare_encoded(tf.constant((tmp_path / name).read_bytes()), size).numpy()
        expected = load_image(tmp_path / name, max_size=size)
        assert prepared.shape == expected.shape, name
        np.testing.assert_allclose(prepared, expected, atol=1.0, err_msg=name)
    assert load_image(tmp_path / "rgba.png")[30, 5].tolist() == [255.0, 255.0, 255.0]


def test_an_export_of_an_export_keeps_the_first_sources_default_beta(exported, tmp_path):
    """An export made from an export once read "savedmodel" as its source and
    took ImageNet's default beta (1e3) instead of random weights' (1e6)."""
    from tfstyle.beta import DEFAULT_BETA, default_beta
    from tfstyle.io.exports import METADATA_FILE

    _, base, _ = exported
    second = export_saved_model(FeatureExtractor(str(base), layers=("conv1_1", "conv2_1")),
                                tmp_path / "again", version=1)
    meta = read_export_metadata(second)
    assert meta["weights"].startswith("savedmodel") and meta["weights"].endswith("random (seed 0)")
    assert default_beta(str(second)) == DEFAULT_BETA["random"]
    assert default_beta(str(tmp_path / "again")) == DEFAULT_BETA["random"]  # the base folder
    assert meta["made_from"] == "random" and meta["default_beta"] == DEFAULT_BETA["random"]
    # An older export without the recorded beta: its description still names the origin.
    asset = second / "assets" / METADATA_FILE
    asset.write_text(json.dumps({k: v for k, v in meta.items() if k != "default_beta"}))
    assert default_beta(str(second)) == DEFAULT_BETA["random"]
    third = export_saved_model(FeatureExtractor(str(second), layers=("conv1_1",)),
                               tmp_path / "third", version=1)
    assert default_beta(str(third)) == DEFAULT_BETA["random"]
