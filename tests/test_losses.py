"""The paper's losses against hand-computed NumPy values."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.losses import (content_loss, gram_matrix, gram_per_position, layer_style_loss,
                            style_loss, total_variation_loss)


def features(h, w, c, seed):
    return np.random.default_rng(seed).uniform(0, 2, (1, h, w, c)).astype(np.float32)


def test_gram_matrix_is_f_transpose_f():
    f = features(5, 4, 3, 0)
    flat = f.reshape(-1, 3).astype(np.float64)  # (M, N)
    expected = flat.T @ flat
    np.testing.assert_allclose(gram_matrix(tf.constant(f)).numpy(), expected, rtol=1e-5)
    # A hand-checked 2x1 case: positions (1, 2) and (3, 4).
    tiny = tf.constant([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    np.testing.assert_array_equal(gram_matrix(tiny).numpy(), [[10.0, 14.0], [14.0, 20.0]])


def test_content_loss_is_half_sum_of_squares():
    f, p = features(4, 4, 3, 1), features(4, 4, 3, 2)
    expected = 0.5 * np.sum((f.astype(np.float64) - p) ** 2)
    assert content_loss(tf.constant(f), tf.constant(p)).numpy() == pytest.approx(expected, rel=1e-5)


def test_style_layer_loss_matches_paper_formula_for_equal_sizes():
    f, a = features(6, 5, 4, 3), features(6, 5, 4, 4)
    n, m = 4, 30
    g = f.reshape(-1, n).T.astype(np.float64) @ f.reshape(-1, n)
    big_a = a.reshape(-1, n).T.astype(np.float64) @ a.reshape(-1, n)
    expected = np.sum((g - big_a) ** 2) / (4 * n**2 * m**2)  # E_l of the paper
    target = gram_per_position(tf.constant(a))
    assert layer_style_loss(tf.constant(f), target).numpy() == pytest.approx(expected, rel=1e-4)


def test_style_layer_loss_for_a_style_image_of_another_size():
    f, a = features(6, 5, 4, 5), features(9, 7, 4, 6)
    n, m, m_a = 4, 30, 63
    g = f.reshape(-1, n).T.astype(np.float64) @ f.reshape(-1, n)
    big_a = a.reshape(-1, n).T.astype(np.float64) @ a.reshape(-1, n)
    expected = np.sum((g / m - big_a / m_a) ** 2) / (4 * n**2)
    target = gram_per_position(tf.constant(a))
    assert layer_style_loss(tf.constant(f), target).numpy() == pytest.approx(expected, rel=1e-4)


def test_style_loss_is_weighted_sum_of_layers():
    fs = {"a": tf.constant(features(4, 4, 2, 7)), "b": tf.constant(features(2, 2, 3, 8))}
    targets = {"a": gram_per_position(tf.constant(features(4, 4, 2, 9))),
               "b": gram_per_position(tf.constant(features(2, 2, 3, 10)))}
    weights = {"a": 0.25, "b": 0.75}
    expected = sum(w * layer_style_loss(fs[k], targets[k]).numpy() for k, w in weights.items())
    assert style_loss(fs, targets, weights).numpy() == pytest.approx(expected, rel=1e-6)


def test_total_variation_loss_by_hand():
    image = np.zeros((1, 2, 3, 3), np.float32)
    image[0, 0, 0, 0] = 255.0  # one bright pixel: 1 down and 1 right neighbour differ by 1
    assert total_variation_loss(tf.constant(image)).numpy() == pytest.approx(2.0)


def test_channel_scale_in_the_gram_equals_scaling_the_features():
    f, a = features(6, 5, 4, 11), features(6, 5, 4, 12)
    scale = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    target = gram_per_position(tf.constant(a))
    folded = layer_style_loss(tf.constant(f), target, tf.constant(scale)).numpy()
    scaled = layer_style_loss(tf.constant(f * scale), target).numpy()
    assert folded == pytest.approx(scaled, rel=1e-5)
    assert folded != pytest.approx(layer_style_loss(tf.constant(f), target).numpy(), rel=1e-2)
