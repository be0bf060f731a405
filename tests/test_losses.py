"""The paper's losses against hand-computed NumPy values, and the objective's
terms against them: the functions tested are the ones that run."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.core.losses import (content_loss, gram_matrix, gram_per_position, guided_style_loss,
                                 layer_style_loss, style_loss, temporal_loss, total_variation_loss)
from tfstyle.core.terms import ContentTerm, GuidedStyleTerm, StyleTerm, TemporalTerm
from tfstyle.core.tiled import add


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


def paper_layer_loss(f, a) -> float:
    """E_l in NumPy, float64: sum (G/M - A/M_a)^2 / (4 N^2)."""
    n = f.shape[-1]
    f, a = f.reshape(-1, n).astype(np.float64), a.reshape(-1, n).astype(np.float64)  # (M, N)
    return np.sum((f.T @ f / len(f) - a.T @ a / len(a)) ** 2) / (4 * n**2)


class Rows:
    """A window whose core is rows [start, stop) of every map, as a tile's
    core is (see tiled.TileWindow): (1, H, W, C) maps, (H, W) guides."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def features(self, name, maps):
        return maps[:, self.start:self.stop]

    def target(self, name, full):
        return full[:, self.start:self.stop] if full.shape.rank == 4 else full[self.start:self.stop]


def split_in_rows(term, maps, state, row):
    """The term's value from the partial sums of rows [0, row) and [row, H)."""
    sums = [term.partial(maps, None, state, Rows(*r)) for r in ((0, row), (row, None))]
    return float(term.finish(add(*sums), state)), float(term.finish(sums[0], state))


def test_style_loss_is_weighted_sum_of_layers():
    """The objective's StyleTerm, whole and from two windows' partial sums
    (as tiles give them), and style_loss: all are sum_l w_l E_l."""
    fs = {"conv1_1": features(4, 4, 2, 7), "conv2_1": features(2, 3, 3, 8)}
    paintings = {"conv1_1": features(5, 4, 2, 9), "conv2_1": features(2, 2, 3, 10)}
    weights = {"conv1_1": 0.25, "conv2_1": 0.75}
    expected = sum(w * paper_layer_loss(fs[k], paintings[k]) for k, w in weights.items())
    targets = {k: gram_per_position(tf.constant(a)) for k, a in paintings.items()}
    term = StyleTerm(1.0, weights, targets, scales={})
    state, maps = term.state(), {k: tf.constant(f) for k, f in fs.items()}
    assert float(term(maps, None, state)) == pytest.approx(expected, rel=1e-5)
    assert float(style_loss(maps, targets, weights)) == pytest.approx(expected, rel=1e-5)
    split, top_alone = split_in_rows(term, maps, state, 1)
    assert split == pytest.approx(expected, rel=1e-5)
    assert top_alone != pytest.approx(expected, rel=1e-2)


def test_guided_style_loss_is_what_the_guided_term_computes():
    """GuidedStyleTerm against sum_l w_l sum_r b_r E_l,r in NumPy, whole and
    from two windows' sums (the guides' masses are split too)."""
    rng = np.random.default_rng(13)
    f = features(4, 5, 3, 14)
    guides = [rng.uniform(0, 1, (4, 5)).astype(np.float32) for _ in range(2)]
    targets = [gram_per_position(tf.constant(a)) for a in (features(3, 4, 3, 15),
                                                          features(4, 4, 3, 16))]
    blend = (0.3, 0.7)
    expected = 0.0
    for t, a, b in zip(guides, targets, blend):
        flat = f.reshape(-1, 3).astype(np.float64) * t.reshape(-1, 1)  # (M, N)
        g = flat.T @ flat / np.sum(t.astype(np.float64) ** 2)
        expected += b * np.sum((g - a.numpy()) ** 2) / (4 * 3**2)
    layer = {"conv1_1": 1.0}
    term = GuidedStyleTerm(1.0, layer, {"conv1_1": targets}, {},
                           {"conv1_1": [tf.constant(t) for t in guides]}, blend)
    state, maps = term.state(), {"conv1_1": tf.constant(f)}
    assert float(term(maps, None, state)) == pytest.approx(expected, rel=1e-5)
    assert float(guided_style_loss(maps, {"conv1_1": targets}, state["guides"], layer,
                                   blend)) == pytest.approx(expected, rel=1e-5)
    split, top_alone = split_in_rows(term, maps, state, 3)
    assert split == pytest.approx(expected, rel=1e-5)
    assert top_alone != pytest.approx(expected, rel=1e-2)


def test_content_and_temporal_terms_are_their_pure_functions():
    f, p = features(4, 4, 3, 17), features(4, 4, 3, 18)
    term = ContentTerm(1.0, {"conv4_2": 2.0}, {"conv4_2": tf.constant(p)}, {})
    maps = {"conv4_2": tf.constant(f)}
    expected = 2.0 * 0.5 * np.sum((f.astype(np.float64) - p) ** 2)
    assert float(term(maps, None, term.state())) == pytest.approx(expected, rel=1e-5)
    assert split_in_rows(term, maps, term.state(), 2)[0] == pytest.approx(expected, rel=1e-5)
    x, w = features(4, 5, 3, 19)[0] * 100, features(4, 5, 3, 20)[0] * 100  # (H, W, 3)
    c = np.random.default_rng(21).uniform(0, 1, (4, 5)).astype(np.float32)
    temporal = TemporalTerm(1.0, w, c)
    expected = np.sum(c[..., None] * (x.astype(np.float64) - w) ** 2) / x.size
    assert float(temporal({}, tf.constant(x), temporal.state())) == pytest.approx(expected, rel=1e-5)
    assert float(temporal_loss(tf.constant(x), tf.constant(w), tf.constant(c))) == \
        pytest.approx(expected, rel=1e-5)


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
