"""The paper's loss terms as pure functions of feature maps.

Notation follows Gatys et al. (2015): a layer has N_l filters and M_l
positions (height x width); F is the generated image's (M_l, N_l) feature
matrix, P the photo's, G = F^T F the Gram matrix and A the painting's.
Nothing here knows about VGG: any (H, W, C) or (1, H, W, C) maps will do.

Every loss is a function of sums over positions, so each is written as its
sums (`*_sums`, over whichever positions it is given) and a finish from
them (`*_from_sums`): the tiled objective adds the sums of every tile's
core and finishes once (tfstyle.core.tiled), and the loss of one whole image is
the finish of its own sums, e.g. style_loss(F) = style_loss_from_sums(gram
sums of F). The objective's terms call these very functions, tiled or not.
"""

from __future__ import annotations

import tensorflow as tf


@tf.custom_gradient
def _outer(flat: tf.Tensor):
    """F^T F for an (M, N) matrix, with the symmetric gradient F (dG + dG^T).

    TensorFlow's own gradient of matmul(F, F, transpose_a=True) treats the
    two operands apart and spends two (M, N, N) matmuls where one will do:
    a third less Gram time, about 13 ms of each 256 px evaluation (bench).
    """
    def grad(upstream):
        return tf.matmul(flat, upstream + tf.transpose(upstream))
    return tf.matmul(flat, flat, transpose_a=True), grad


def weighted_sum(values: dict, weights: dict) -> tf.Tensor:
    """sum_l w_l values[l] over the layers in `weights`."""
    return tf.add_n([w * values[name] for name, w in weights.items()])


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """L_content = 1/2 sum (F - P)^2: a sum over positions, so over a part
    of the map it is that part's share and the shares add up."""
    return 0.5 * tf.reduce_sum(tf.square(features - target))


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """G = F^T F over all positions: (..., H, W, C) -> (C, C)."""
    channels = tf.shape(features)[-1]
    return _outer(tf.reshape(features, [-1, channels]))  # (M, N): positions x filters


def positions(features: tf.Tensor) -> tf.Tensor:
    """M_l, the number of positions, as a float32 scalar."""
    shape = tf.shape(features)
    return tf.cast(tf.reduce_prod(shape[:-1]), tf.float32)


def gram_sums(features: tf.Tensor) -> dict:
    """A layer's Gram as sums over positions: {"gram": G, "positions": M_l}."""
    return {"gram": gram_matrix(features), "positions": positions(features)}


def gram_per_position(features: tf.Tensor) -> tf.Tensor:
    """G / M_l: the Gram matrix averaged over positions, (C, C).

    Dividing by M_l makes Grams of images of different sizes comparable; the
    paper only compares images of one size, where this changes nothing.
    """
    return _per_position(gram_sums(features))


def _per_position(sums: dict) -> tf.Tensor:
    return sums["gram"] / sums["positions"]


def scale_gram(gram: tf.Tensor, channel_scale: tf.Tensor | None) -> tf.Tensor:
    """diag(s) G diag(s), the Gram of the features F diag(s): N^2 multiplies
    instead of the M N of scaling the features. None leaves G as it is."""
    if channel_scale is None:
        return gram
    return gram * channel_scale[:, None] * channel_scale[None, :]


def gram_distance(gram: tf.Tensor, target: tf.Tensor,
                  channel_scale: tf.Tensor | None = None) -> tf.Tensor:
    """sum (G - A)^2 / (4 N^2) for Grams already divided by their positions,
    G that of the features F diag(channel_scale) (see scale_gram)."""
    n = tf.cast(tf.shape(gram)[-1], tf.float32)
    return tf.reduce_sum(tf.square(scale_gram(gram, channel_scale) - target)) / (4.0 * n * n)


def layer_style_loss_from_sums(sums: dict, target_gram_per_position: tf.Tensor,
                               channel_scale: tf.Tensor | None = None) -> tf.Tensor:
    """E_l from a layer's gram_sums (see layer_style_loss)."""
    return gram_distance(_per_position(sums), target_gram_per_position, channel_scale)


def layer_style_loss(features: tf.Tensor, target_gram_per_position: tf.Tensor,
                     channel_scale: tf.Tensor | None = None) -> tf.Tensor:
    """E_l = sum (G/M - A/M_a)^2 / (4 N^2).

    With M = M_a this is the paper's sum (G - A)^2 / (4 N^2 M^2); the target
    is passed as A / M_a, computed once per style image.
    """
    return layer_style_loss_from_sums(gram_sums(features), target_gram_per_position,
                                      channel_scale)


def style_loss_from_sums(sums: dict, targets: dict, weights: dict,
                         scales: dict | None = None) -> tf.Tensor:
    """L_style = sum_l w_l E_l from each layer's gram_sums."""
    scales = scales or {}
    return weighted_sum({name: layer_style_loss_from_sums(sums[name], targets[name],
                                                          scales.get(name))
                         for name in weights}, weights)


def style_loss(features: dict, targets: dict, weights: dict, scales: dict | None = None) -> tf.Tensor:
    """L_style = sum_l w_l E_l over the layers in `weights` (with optional
    per-channel feature scales, see layer_style_loss)."""
    return style_loss_from_sums({name: gram_sums(features[name]) for name in weights},
                                targets, weights, scales)


def guided_sums(features: tf.Tensor, guide: tf.Tensor) -> dict:
    """One region's guided Gram as sums over positions:
    {"gram": (T_r o F)^T (T_r o F), "mass": sum_p T_r(p)^2}, for (..., H, W, C)
    maps and the region's (H, W) guidance channel at the layer's resolution."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, [-1, channels])  # (M, N)
    weights = tf.reshape(tf.cast(guide, flat.dtype), [-1, 1])  # (M, 1)
    return {"gram": _outer(flat * weights), "mass": tf.reduce_sum(tf.square(weights))}


def _guided_gram_from_sums(sums: dict) -> tf.Tensor:
    # The mass is floored so an empty region divides by no zero.
    return sums["gram"] / tf.maximum(sums["mass"], 1e-12)


def guided_gram(features: tf.Tensor, guide: tf.Tensor) -> tf.Tensor:
    """The guided Gram of one region (Gatys et al. 2017, spatial control):

        G_r = (T_r o F)^T (T_r o F) / sum_p T_r(p)^2,   (..., H, W, C), (H, W) -> (C, C)

    where T_r is the region's guidance channel at the layer's resolution.
    The paper's guided Gram has no denominator; dividing by the guide's mass
    sum_p T_r(p)^2, in place of the M_l of gram_per_position, makes G_r a
    weighted mean of outer products, so a small region weighs as much as a
    large one. With T_r = 1 everywhere it equals gram_per_position.
    """
    return _guided_gram_from_sums(guided_sums(features, guide))  # (N, N)


def guided_style_loss_from_sums(sums: dict, targets: dict, weights: dict, region_weights,
                                scales: dict | None = None) -> tf.Tensor:
    """L_style = sum_l w_l sum_r b_r E_l,r from sums[l][r], region r's
    guided_sums at layer l (see guided_style_loss)."""
    scales = scales or {}
    return tf.add_n([w * b * gram_distance(_guided_gram_from_sums(sums[name][r]),
                                           targets[name][r], scales.get(name))
                     for name, w in weights.items() for r, b in enumerate(region_weights)])


def guided_style_loss(features: dict, targets: dict, guides: dict, weights: dict,
                      region_weights, scales: dict | None = None) -> tf.Tensor:
    """L_style = sum_l w_l sum_r b_r E_l,r, each region's guided Gram against
    its own target (Gatys et al. 2017).

    targets[l][r] and guides[l][r]: region r's target Gram and guide at
    layer l; region_weights: b_r, the styles' blend weights.
    """
    sums = {name: [guided_sums(features[name], guide) for guide in guides[name]]
            for name in weights}
    return guided_style_loss_from_sums(sums, targets, weights, region_weights, scales)


def total_variation_loss(image: tf.Tensor, height=None, width=None) -> tf.Tensor:
    """Sum of squared differences between neighbouring pixels, in [0, 1] units.

    Not in the paper (its results have none); offered as an optional
    smoothness prior, as most implementations do. A sum over pixel pairs,
    so it is its own partial sum:

    height, width: count only the pairs that start in the top-left
    (height, width) pixels of an (H, W, 3) image, whose last row and column
    may be the neighbours of the next tile; all pairs by default.
    """
    x = image / 255.0
    columns = x if width is None else x[..., :, :width, :]
    rows = x if height is None else x[..., :height, :, :]
    down = columns[..., 1:, :, :] - columns[..., :-1, :, :]
    right = rows[..., :, 1:, :] - rows[..., :, :-1, :]
    return tf.reduce_sum(tf.square(down)) + tf.reduce_sum(tf.square(right))


def temporal_sums(image: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> dict:
    """The temporal loss as sums over pixels: {"sum": sum c (x - w)^2,
    "values": D}, for (H, W, 3) images and (H, W) weights c."""
    return {"sum": tf.reduce_sum(tf.square(image - target) * weights[..., None]),  # (H, W, 3)
            "values": tf.cast(tf.size(image), tf.float32)}


def temporal_loss_from_sums(sums: dict) -> tf.Tensor:
    return sums["sum"] / sums["values"]


def temporal_loss(image: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Ruder et al. (2016): (1/D) sum c (x - w)^2 over the D = H W C values,
    with w the previous stylised frame warped onto this one and c in [0, 1]
    per pixel, (H, W), where the flow can be trusted."""
    return temporal_loss_from_sums(temporal_sums(image, target, weights))
