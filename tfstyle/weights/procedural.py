"""Filters made from a seed, offline: seeded He-normal ones
(`random_kernels`, `--weights random`) and the procedural network
(`procedural_kernels`, `--weights procedural`; see "Procedural filters"
below for what each layer is and why).

Both are {paper_name: (kernel HWIO, bias)}, the same on every machine
from the same seed; `weights.load_kernels` serves them by name.
"""

from __future__ import annotations

import functools

import numpy as np

from ..layers import CONV_LAYERS, LAYERS

# The last conv of each block, where a pooling follows.
LAST_IN_BLOCK = tuple(LAYERS[i - 1] for i, n in enumerate(LAYERS) if n.startswith("pool"))


def random_kernels(shapes: dict[str, tuple], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Seeded He-normal kernels and zero biases, {layer: (kernel HWIO, bias)}.

    He scaling keeps the activations' size roughly constant through the
    ReLU stack, so deep layers of a random VGG19 still carry signal. NumPy's
    generator makes the numbers the same on every platform and TF version.
    """
    rng = np.random.default_rng(seed)
    return {name: (he_normal(rng, shape).astype(np.float32), np.zeros(shape[-1], np.float32))
            for name, shape in shapes.items()}


def he_normal(rng, shape) -> np.ndarray:
    """A (3, 3, in, out) kernel with He's variance, 2 / fan-in."""
    return rng.normal(0.0, np.sqrt(2.0 / (shape[0] * shape[1] * shape[2])), size=shape)


# Procedural filters ---------------------------------------------------------
#
# Random He-normal filters give a stylisation covered in colour speckle.
# Each random conv1_1 filter mixes every colour with every spatial pattern,
# and block 1 passes pixel-level noise on as readily as a stroke. Trained
# early filters (and the receptive fields of V1) are ordered instead: each
# sees one colour axis at one scale and orientation, and the next layers
# pool their energy. The procedural network is built that way, from a seed:
#
# - conv1_1: 32 filters, each with its negative (ReLU keeps one sign of
#   each; the pair keeps both). Each filter is one spatial pattern on one
#   colour axis: luminance, or one of two opponent axes (red-green and
#   blue-yellow, turned by a seeded angle). The patterns are a binomial blob,
#   its first derivatives (seven orientations on luminance, two on each
#   opponent axis), its second derivatives (three orientations) and the three
#   finest separable patterns. On each axis they span every 3x3 kernel, so
#   the bank sees every 3x3 colour patch, evenly (its singular values are
#   within a factor of about 3).
#   That evenness is what removes the speckle. Tried and measured
#   (Tübingen x Starry Night, 256 px, 500 iterations):
#   - Leaving fine colour out, and adding a small white kernel so that a
#     conv1_1 reconstruction still converges, gave speckle 1.98.
#   - Leaving the opponent derivatives out too gave 5.9.
#   - The complete, even bank gave 1.07 to 1.61 from one variant of it to
#     another (the speckle of a single run varies that much).
#   A direction the network sees only weakly is cheap to move, and L-BFGS,
#   which scales each direction by its inverse curvature, moves it most. A
#   direction seen as well as any other is held by the painting's Gram
#   matrix, so fine colour stays at the painting's level. The objective
#   divides each channel by its mean activation, which scales the fine
#   channels up (a photo has little fine detail) and holds them harder
#   still.
#   The price is paid by the paper's reconstructions from white noise: the
#   same scaling makes them badly conditioned (20 dB from conv1_1 at 256 px
#   after 200 iterations). Mixing a tenth of the blob into every pattern
#   gave 34 dB (at 128 px), but the speckle rose to 9.1 on Tübingen x The
#   Scream (from 1.6), so the filters favour the transfer.
# - conv1_2 and block 2: smooth random filters: per channel pair a random
#   blend of a binomial blob and its two derivatives, scaled by a random
#   channel mix, plus a little white He-normal kernel (SMOOTH_RESIDUAL). These
#   layers pool energy over a few pixels, like complex cells, rather than
#   pass pixel noise on (a quarter of their spectral energy lies above half
#   Nyquist, against three quarters for He-normal filters).
# - blocks 3-5: He-normal, as `random_kernels`.
#
# Every layer is then rescaled so that a seeded 1/f noise image (the
# spectrum of natural images) leaves each layer with the RMS activation of
# its input. The structured layers are not He-scaled, and this keeps every
# layer's activations in range, half precision included (LSUV-style,
# Mishkin & Matas 2016). The scales are rounded to two significant digits,
# so the BLAS summation order of another CPU cannot change a bit.

SMOOTH_RESIDUAL = 0.3  # white He-normal share in the smooth layers
SMOOTH_LAYERS = ("conv1_2", "conv2_1", "conv2_2")
REFERENCE_SIZE = 64  # px of the 1/f image the layer scales are set on

_BINOMIAL = np.array([1.0, 2.0, 1.0]) / 4.0  # smoothing
_DERIVATIVE = np.array([-1.0, 0.0, 1.0]) / 2.0  # first derivative
_SECOND = np.array([1.0, -2.0, 1.0]) / 4.0  # second derivative


def _outer(a, b) -> np.ndarray:
    """(3, 3) separable kernel: a along rows (y), b along columns (x)."""
    return np.outer(a, b)


def _unit(kernel: np.ndarray) -> np.ndarray:
    return kernel / np.sqrt(np.sum(kernel ** 2))


def _steered(angle: float, order: int) -> np.ndarray:
    """A binomial-smoothed derivative of the given order along `angle`."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = _outer(_BINOMIAL, _DERIVATIVE), _outer(_DERIVATIVE, _BINOMIAL)
    if order == 1:
        return c * dx + s * dy
    dxx, dyy = _outer(_BINOMIAL, _SECOND), _outer(_SECOND, _BINOMIAL)
    dxy = _outer(_DERIVATIVE, _DERIVATIVE)
    return c * c * dxx + s * s * dyy + 2 * c * s * dxy


def colour_axes(rng) -> np.ndarray:
    """(3, 3) rows: luminance and two opponent axes, in RGB, orthonormal;
    the opponent plane is turned by a seeded angle."""
    luminance = np.ones(3) / np.sqrt(3.0)
    red_green = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
    blue_yellow = np.array([-1.0, -1.0, 2.0]) / np.sqrt(6.0)
    turn = rng.uniform(0.0, np.pi)
    first = np.cos(turn) * red_green + np.sin(turn) * blue_yellow
    second = -np.sin(turn) * red_green + np.cos(turn) * blue_yellow
    return np.stack([luminance, first, second])


def first_layer_bank(rng) -> np.ndarray:
    """conv1_1's (3, 3, 3, 64) kernel in RGB: 32 filters and their negatives."""
    axes = colour_axes(rng)
    luminance, opponents = axes[0], axes[1:]
    blob = _outer(_BINOMIAL, _BINOMIAL)
    turn = rng.uniform(0.0, np.pi / 7)
    # The nine separable patterns {smooth, first, second derivative} in y
    # times the same in x span every 3x3 kernel.
    fine = [_outer(_SECOND, _DERIVATIVE), _outer(_DERIVATIVE, _SECOND), _outer(_SECOND, _SECOND)]
    second = [_steered(turn + k * np.pi / 3, 2) for k in range(3)]
    spatial_colour = [(blob, luminance)]
    spatial_colour += [(_steered(turn + k * np.pi / 7, 1), luminance) for k in range(7)]
    spatial_colour += [(space, luminance) for space in second + fine]
    for axis in opponents:
        first = [_steered(turn, 1), _steered(turn + np.pi / 2, 1)]
        spatial_colour += [(space, axis) for space in [blob, *first, *second, *fine]]
    bank = np.stack([_unit(np.einsum("yx,c->yxc", space, colour))
                     for space, colour in spatial_colour], axis=-1)  # (3, 3, 3, 32)
    return np.concatenate([bank, -bank], axis=-1)  # (3, 3, 3, 64)


def smooth_random(rng, shape) -> np.ndarray:
    """(3, 3, in, out): per in/out pair a random blend of a blob and its
    two derivatives, scaled by a random channel mix, plus white noise."""
    _, _, n_in, n_out = shape
    basis = np.stack([_unit(_outer(_BINOMIAL, _BINOMIAL)), _unit(_outer(_BINOMIAL, _DERIVATIVE)),
                      _unit(_outer(_DERIVATIVE, _BINOMIAL))])  # (3 shapes, 3, 3)
    blend = rng.normal(size=(3, n_in, n_out)) * np.array([1.0, 0.5, 0.5])[:, None, None]
    smooth = np.einsum("kyx,kio->yxio", basis, blend)
    white = rng.normal(size=shape) / 3.0  # a unit-variance 3x3 kernel per pair
    return smooth + SMOOTH_RESIDUAL * white


def pink_noise(size: int, seed: int) -> np.ndarray:
    """(size, size, 3) seeded noise with natural images' 1/f amplitude
    spectrum, centred, with the RMS of a photo (~60 grey levels)."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / size)
    spectrum = amplitude[..., None] * np.fft.fft2(rng.normal(size=(size, size, 3)), axes=(0, 1))
    image = np.real(np.fft.ifft2(spectrum, axes=(0, 1)))
    image -= image.mean(axis=(0, 1))
    return image * 60.0 / image.std()


def _conv_relu(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """ReLU of a 3x3 'same' convolution, (H, W, in) -> (H, W, out), float64."""
    h, w, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    patches = np.stack([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)],
                       axis=2)  # (H, W, 9, in)
    out = patches.reshape(h * w, -1) @ kernel.reshape(-1, kernel.shape[-1])  # (H*W, out)
    return np.maximum(out, 0.0).reshape(h, w, -1)


def _average_pool(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)))


def procedural_kernels(shapes: dict[str, tuple], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The structured filters described above, {layer: (kernel HWIO, bias)},
    zero biases; deterministic from `seed` on every machine."""
    made = _procedural(tuple(shapes.items()), seed)
    return {name: (kernel.copy(), bias.copy()) for name, (kernel, bias) in made.items()}


@functools.lru_cache(maxsize=2)
def _procedural(shapes: tuple, seed: int) -> dict:
    """procedural_kernels, made once per seed (it takes about a second)."""
    shapes = dict(shapes)
    rng = np.random.default_rng(seed)
    raw = {}
    for name, shape in shapes.items():
        if name == "conv1_1":
            raw[name] = first_layer_bank(rng)[:, :, ::-1, :]  # the network reads BGR
        elif name in SMOOTH_LAYERS:
            raw[name] = smooth_random(rng, shape)
        else:
            raw[name] = he_normal(rng, shape)
    x = pink_noise(REFERENCE_SIZE, seed)
    kernels = {}
    for name in CONV_LAYERS:  # network order, pooling after each block's last conv
        if name not in raw:
            break
        out = _conv_relu(x, raw[name])
        scale = float(f"{_rms(x) / max(_rms(out), 1e-12):.2g}")
        kernels[name] = ((raw[name] * scale).astype(np.float32),
                         np.zeros(shapes[name][-1], np.float32))
        x = out * scale
        if name in LAST_IN_BLOCK:
            x = _average_pool(x)
    return kernels
