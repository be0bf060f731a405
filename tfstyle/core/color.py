"""Colour preservation (Gatys, Bethge, Hertzmann, Shechtman 2016).

Two ways to keep the photo's colours while taking the painting's style:
luminance-only transfer, where the network sees grey images and the
result's luminance is recombined with the photo's chroma (YIQ), and colour
histogram matching, where the painting's colours are first moved to the
photo's mean and covariance. Arrays are RGB (H, W, 3) in [0, 255].
"""

from __future__ import annotations

import numpy as np


def _ntsc_yiq() -> np.ndarray:
    """RGB -> YIQ as NTSC defines it (rows Y, I, Q; SMPTE 170M): Y the
    luma, U = 0.492111 (B - Y) and V = 0.877283 (R - Y) the colour
    differences, and (I, Q) the (V, U) axes turned by 33 degrees.

    Built from the definition rather than from rounded tables, so the I and
    Q rows sum to zero: grey stays grey, and a change of Y alone moves R, G
    and B alike.
    """
    y = np.array([0.299, 0.587, 0.114])
    r_y, b_y = np.array([1.0, 0, 0]) - y, np.array([0, 0, 1.0]) - y  # R - Y, B - Y
    u, v = 0.492111 * b_y, 0.877283 * r_y
    turn = np.deg2rad(33.0)
    i = v * np.cos(turn) - u * np.sin(turn)
    q = v * np.sin(turn) + u * np.cos(turn)
    return np.stack([y, i, q])  # (3, 3)


RGB_TO_YIQ = _ntsc_yiq()
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 3) YIQ in float64, in the units of the input."""
    return np.asarray(image, np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    return image @ YIQ_TO_RGB.T


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) luminance Y in [0, 255]."""
    return rgb_to_yiq(image)[..., 0]


def grey(y: np.ndarray) -> np.ndarray:
    """(H, W) luminance -> (H, W, 3) grey RGB, what the network is shown."""
    return np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=2).astype(np.float32)


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """Shift and scale the style's luminance to the content's mean and std.

    The 2016 paper does this so the luminance histograms of the two images
    agree before the transfer.
    """
    std = style_y.std()
    scale = content_y.std() / std if std > 1e-6 else 1.0
    return (style_y - style_y.mean()) * scale + content_y.mean()


def recombine(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's I and Q channels."""
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = luminance(result)
    return np.clip(yiq_to_rgb(yiq), 0, 255).astype(np.float32)


def match_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Affine colour transfer: the style's pixels get the content's mean and
    covariance, x' = A (x - mu_s) + mu_c with A = Sigma_c^(1/2) Sigma_s^(-1/2).
    """
    s = style.reshape(-1, 3).astype(np.float64)  # (M, 3)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    transform = _sqrtm(np.cov(c, rowvar=False)) @ _inv_sqrtm(np.cov(s, rowvar=False))
    matched = (s - mu_s) @ transform.T + mu_c
    return np.clip(matched, 0, 255).reshape(style.shape).astype(np.float32)


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _inv_sqrtm(cov: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors / np.sqrt(np.clip(values, 0, None) + eps)) @ vectors.T
