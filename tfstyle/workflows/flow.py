"""Optical flow between video frames, and where it can be trusted, after
Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos" (2016).

The flow is OpenCV's DIS flow (Kroeger et al. 2016), in
opencv-python-headless: it installs with pip and runs on any CPU, where the
paper used DeepFlow binaries. Conventions, for frames a (earlier) and b:

    forward  w = flow(a, b):  a(p) ~ b(p + w(p))
    backward w^ = flow(b, a): b(p) ~ a(p + w^(p))

so `warp(a, w^)` carries frame a (or its stylised image) onto frame b.
"""

from __future__ import annotations

import numpy as np

from ..errors import TfstyleError
from ..preprocess import to_uint8


def _cv2():
    try:
        import cv2
    except ImportError:
        raise TfstyleError("video needs OpenCV: pip install 'tfstyle[video]'") from None
    return cv2


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 flow (x, y) from RGB frame a to frame b."""
    cv2 = _cv2()
    grey = [cv2.cvtColor(to_uint8(f), cv2.COLOR_RGB2GRAY)
            for f in (a, b)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(grey[0], grey[1], None).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image(p + flow(p)) for every p, bilinear; (H, W, C) or (H, W)."""
    cv2 = _cv2()
    height, width = flow.shape[:2]
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(np.asarray(image, np.float32), x + flow[..., 0], y + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(H, W) weights c over frame b: 0 where the flow from a cannot be
    trusted, 1 elsewhere (Ruder et al., Sec. 3.2).

    Disoccluded: the forward flow, warped to b, does not undo the backward
    flow, |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5.
    Motion boundary: |grad w^_x|^2 + |grad w^_y|^2 > 0.01 |w^|^2 + 0.002.
    Pixels whose source lies outside frame a count as disoccluded too.
    """
    carried = warp(forward, backward)  # w~(p) = w(p + w^(p))
    both = carried + backward
    disoccluded = (np.sum(both ** 2, -1)
                   > 0.01 * (np.sum(carried ** 2, -1) + np.sum(backward ** 2, -1)) + 0.5)
    gradients = sum(g ** 2 for channel in (0, 1) for g in np.gradient(backward[..., channel]))
    boundary = gradients > 0.01 * np.sum(backward ** 2, -1) + 0.002
    height, width = backward.shape[:2]
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    sx, sy = x + backward[..., 0], y + backward[..., 1]
    outside = (sx < 0) | (sx > width - 1) | (sy < 0) | (sy > height - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def temporal_error(x: np.ndarray, x_prev: np.ndarray, backward: np.ndarray,
                   weights: np.ndarray) -> float:
    """(1/D) sum c (x - w(x_prev))^2 over the D = H W C values of frame x."""
    warped = warp(x_prev, backward)
    return float(np.sum(weights[..., None] * (np.asarray(x, np.float32) - warped) ** 2)
                 / np.size(x))
