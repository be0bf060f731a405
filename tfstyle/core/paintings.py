"""The paintings encoded once for many Objectives: a video's frames.

Every frame of a shot is a new photo against the same paintings, at the
same size, through the same network. What the Objective takes from a
painting, its encoding (tiled.encode: each layer's channel means and its
raw Gram sum_p F_p^T F_p, or its maps when guided), is then the same for
every frame, and `EncodedPaintings` keeps it: pass one to every frame's
Objective (or `stylize(paintings=...)`) and each painting is encoded once
per size.

What depends on the photo is still made per frame, from these encodings,
exactly as a fresh Objective makes it: the normalisation scales (the
photo's channel means enter them, terms.normalization_scales) and so the
target Grams diag(s) A diag(s) / M, which cost a (C, C) product each, not
a pass of the network.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

KEEP = 8  # encodings kept: a shot's paintings at each of its scales


class EncodedPaintings:
    """Paintings' encodings, each found again by the painting's pixels and
    by everything else the encoding reads (the layers, which maps and Grams,
    the tile side), for one extractor.

    The pixels are part of the key, so a painting that changes with the
    photo (preserve_color recolours it to each frame) is encoded anew, and a
    hit is the very encoding a fresh Objective would make. The `keep` most
    recently used encodings are kept; an entry is a painting's means and
    Grams (about 2.4 MB to conv5_1), or its maps under masks.
    One run's: not shared between threads.
    """

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self.encoded = 0  # paintings encoded (not found), for tests and benchmarks
        self._entries: OrderedDict = OrderedDict()
        self._extractor = None  # a weak reference: the encodings are of its features

    def encoding(self, extractor, image: np.ndarray, reads: tuple,
                 encode: Callable[[], dict]) -> dict:
        """The encoding of `image` (float32 (H, W, 3)) by `extractor` with the
        settings `reads`: kept, or made now by `encode()` and kept."""
        self._same_network(extractor)
        key = (_digest(image), reads)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        found = self._entries[key] = encode()
        self.encoded += 1
        while len(self._entries) > self.keep:
            self._entries.popitem(last=False)
        return found

    def _same_network(self, extractor) -> None:
        """Forget encodings made by another extractor (or one since gone)."""
        held = None if self._extractor is None else self._extractor()
        if held is extractor:
            return
        self._entries.clear()
        try:
            self._extractor = weakref.ref(extractor)
        except TypeError:  # no weak reference: held for as long as this is
            self._extractor = lambda: extractor


def _digest(image: np.ndarray) -> tuple:
    """The pixels' identity: shape and a hash of the bytes (about 1 GB/s,
    so 0.2 ms for a 128 px painting)."""
    pixels = np.ascontiguousarray(image, np.float32)
    return pixels.shape, hashlib.blake2b(pixels.data, digest_size=16).hexdigest()
