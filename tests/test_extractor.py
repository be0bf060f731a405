"""VGG19's wiring: average pooling, Keras's weights, names, sizes, weights sources."""

import socket
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import shared_extractor, smooth_image
from tfstyle.weights import sources as weights_module
from tfstyle.errors import ImageError, WeightsError
from tfstyle.core.extractor import FeatureExtractor, vgg_preprocess
from tfstyle.layers import CONV_LAYERS, keras_name, min_input_size


def test_paper_names_map_to_keras_names():
    assert keras_name("conv4_2") == "block4_conv2"
    assert keras_name("pool3") == "block3_pool"
    assert len(CONV_LAYERS) == 16
    assert min_input_size("conv5_1") == 16 and min_input_size("conv1_1") == 1


def test_every_max_pool_is_replaced_by_average_pooling(vgg_random):
    kinds = [type(layer).__name__ for layer in vgg_random.model.layers]
    assert "MaxPooling2D" not in kinds
    assert kinds.count("AveragePooling2D") == 4  # pool1-4 lie before conv5_4
    assert kinds.count("Conv2D") == 16
    max_model = FeatureExtractor("random", pooling="max", seed=0, layers=("conv2_1",))
    assert [type(l).__name__ for l in max_model.model.layers].count("MaxPooling2D") == 1


def test_conv2_1_is_computed_from_the_average_of_conv1_2(vgg_random):
    """conv2_1 = relu(conv(avgpool(conv1_2)) + b), checked by hand in TF ops."""
    images = smooth_image(16, 16, 1)[None]
    features = vgg_random(images, ("conv1_2", "conv2_1"))
    kernel, bias = vgg_random.kernels()["conv2_1"]
    pooled = tf.nn.avg_pool2d(features["conv1_2"], 2, 2, "VALID")
    expected = tf.nn.relu(tf.nn.conv2d(pooled, kernel, 1, "SAME") + bias)
    np.testing.assert_allclose(features["conv2_1"].numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    # And it is not what max pooling would give.
    maxed = tf.nn.relu(tf.nn.conv2d(tf.nn.max_pool2d(features["conv1_2"], 2, 2, "VALID"),
                                    kernel, 1, "SAME") + bias)
    assert np.abs(features["conv2_1"].numpy() - maxed.numpy()).max() > 1e-2


def test_first_layer_sees_bgr_minus_imagenet_mean(vgg_random):
    images = smooth_image(8, 8, 2)[None]
    kernel, bias = vgg_random.kernels()["conv1_1"]
    bgr = images[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    expected = tf.nn.relu(tf.nn.conv2d(bgr, kernel, 1, "SAME") + bias)
    np.testing.assert_allclose(vgg_random(images, ("conv1_1",))["conv1_1"].numpy(),
                               expected.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(vgg_preprocess(tf.constant(images)).numpy(), bgr, atol=1e-4)


def test_outputs_are_named_after_the_paper_and_shaped_by_pooling(vgg_random):
    features = vgg_random(smooth_image(32, 48, 3)[None])
    assert tuple(features) == CONV_LAYERS
    assert features["conv1_1"].shape == (1, 32, 48, 64)
    assert features["conv4_2"].shape == (1, 4, 6, 512)
    assert features["conv5_1"].shape == (1, 2, 3, 512)
    assert min(float(tf.reduce_min(f)) for f in features.values()) >= 0.0  # after ReLU


def test_network_is_built_only_to_the_deepest_layer():
    extractor = shared_extractor("random", layers=("conv1_1", "conv3_1"))
    names = [layer.name for layer in extractor.model.layers]
    assert names[-1] == "block3_conv1" and "block3_conv2" not in names


def test_conv_weights_equal_keras_vgg19_from_a_weights_file(tmp_path):
    """Load a Keras VGG19 (include_top=False) weights file in both formats."""
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    new_format, legacy = tmp_path / "vgg.weights.h5", tmp_path / "vgg_notop.h5"
    vgg.save_weights(new_format)
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(legacy, "w") as handle:  # the layout of Keras's *_notop.h5 download
        legacy_h5_format.save_weights_to_hdf5_group(handle, vgg)
    for path in (new_format, legacy):
        extractor = FeatureExtractor(str(path))
        for name, (kernel, bias) in extractor.kernels().items():
            ref_kernel, ref_bias = vgg.get_layer(keras_name(name)).get_weights()
            np.testing.assert_array_equal(kernel, ref_kernel)
            np.testing.assert_array_equal(bias, ref_bias)
    # Features equal Keras's own model with its pools swapped (conv1_2: before any pool).
    images = smooth_image(16, 16, 4)[None]
    keras_features = keras.Model(vgg.input, vgg.get_layer("block1_conv2").output)(
        keras.applications.vgg19.preprocess_input(images.copy()))
    np.testing.assert_allclose(extractor(images, ("conv1_2",))["conv1_2"].numpy(),
                               np.asarray(keras_features), rtol=1e-4, atol=1e-3)


def test_random_weights_are_seeded():
    a = FeatureExtractor("random", seed=3, layers=("conv1_1",)).kernels()["conv1_1"][0]
    b = FeatureExtractor("random", seed=3, layers=("conv1_1",)).kernels()["conv1_1"][0]
    c = FeatureExtractor("random", seed=4, layers=("conv1_1",)).kernels()["conv1_1"][0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_too_small_images_are_rejected(vgg_random):
    with pytest.raises(ImageError, match="too small for layer conv5_1.*16x16"):
        vgg_random(np.zeros((1, 12, 40, 3), np.float32), ("conv5_1",))
    vgg_random(np.zeros((1, 12, 12, 3), np.float32), ("conv4_2",))  # needs only 8 px


def test_imagenet_weights_fail_at_once_offline(tmp_path, monkeypatch, offline):
    """A name that does not resolve: the error names the host and the way out."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    with pytest.raises(WeightsError, match="--weights procedural") as error:
        FeatureExtractor("imagenet")
    assert "are not cached" in str(error.value) and "weights.invalid" in str(error.value)


def test_a_server_that_never_answers_costs_only_the_connect_timeout(tmp_path, monkeypatch):
    """Fail fast, without a clock: the connection (name resolution included)
    hangs until the test ends, and the run still fails, after
    CONNECT_TIMEOUT (made short here), saying it waited that long. Without
    the timeout the test would hang instead of failing."""
    released = threading.Event()
    tried = []

    def hangs(address, timeout=None, *args, **kwargs):
        tried.append((address, timeout))
        released.wait()
        raise OSError("released")
    monkeypatch.setattr(socket, "create_connection", hangs)
    monkeypatch.setattr(weights_module, "CONNECT_TIMEOUT", 0.2)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    try:
        with pytest.raises(WeightsError, match="no answer from weights.invalid within 0.2 s"):
            FeatureExtractor("imagenet")
    finally:
        released.set()
    assert tried == [(("weights.invalid", 443), 0.2)]


def test_damaged_cached_imagenet_file_is_reported(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "IMAGENET_URL", "https://weights.invalid/vgg19.h5")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / weights_module.IMAGENET_FILE).write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="damaged"):
        FeatureExtractor("imagenet")


def test_bad_weights_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(WeightsError, match="corrupt.h5"):
        FeatureExtractor(str(corrupt))
    other = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c")])
    wrong = tmp_path / "other.weights.h5"
    other.save_weights(wrong)
    with pytest.raises(WeightsError, match="other.weights.h5"):
        FeatureExtractor(str(wrong))
    partial = keras.Sequential([keras.Input((None, None, 3)),
                                keras.layers.Conv2D(64, 3, padding="same", name="block1_conv1")])
    partial.save_weights(tmp_path / "partial.weights.h5")
    with pytest.raises(WeightsError, match="partial.weights.h5"):
        FeatureExtractor(str(tmp_path / "partial.weights.h5"))
    with pytest.raises(WeightsError, match="no such weights file"):
        FeatureExtractor(str(tmp_path / "missing.h5"))
