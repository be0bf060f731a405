"""The files a run reads: the paintings it names, the photo checked against
the network's depth, the paintings and masks at the sizes the run needs,
and the quality numbers of a result against its source files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import StyleConfig, check_mask_counts
from ..core.quality import WIDTH, quality
from ..errors import ConfigError, ImageError
from ..io.images import check_aspect, load_image, load_mask, region_masks
from ..layers import deepest, min_input_size


def paintings(config: StyleConfig, styles=()) -> list[Path]:
    """The style images of a run: `styles`, or those --region-styles names;
    their count checked against the blend weights and masks before anything
    is read."""
    if config.region_styles:
        if styles:
            raise ConfigError("region_styles", "name the paintings in --region-styles, not also "
                                               "as arguments")
        styles = [path for _, path in config.region_colours]
    if not styles:
        raise ConfigError(None, "give one or more paintings after the photo")
    config.blend_weights(len(styles))
    check_mask_counts(len(styles), config.masks, config.style_masks)
    return [Path(s) for s in styles]


def quality_of(image, paintings, photo=None, max_pixels=None) -> dict:
    """tfstyle.core.quality's numbers for `image` against the painting files and
    the photo file, each decoded at the size the measure reads it, so that
    measuring after every run costs no more memory for a large photo."""
    return quality(image, [measured_image(p, max_pixels) for p in paintings],
                   None if photo is None else measured_image(photo, max_pixels))


def measured_image(path, max_pixels=None) -> np.ndarray:
    """An image file at the size tfstyle.core.quality compares it: WIDTH px
    wide (as it is, if narrower). load_image's max_size bounds the longest
    side (a JPEG is decoded at a reduced scale), so a portrait is read
    small first for its shape, then at the height that makes WIDTH px wide."""
    small = load_image(path, max_size=WIDTH, max_pixels=max_pixels)
    height, width = small.shape[:2]  # (H, W, 3)
    if height <= width:
        return small
    return load_image(path, max_size=int(np.ceil(WIDTH * height / width)) + 1,
                      max_pixels=max_pixels)


def load_styles(paths, config: StyleConfig, max_pixels=None) -> list[np.ndarray]:
    """The paintings, no larger than the run's largest size times its
    style scale (stylize sizes them for each scale)."""
    longest = max((config.max_size, *config.scales))
    style_size = max(16, int(np.ceil(longest * config.style_scale)))
    return [load_image(s, max_size=style_size, max_pixels=max_pixels) for s in paths]


def load_masks(config: StyleConfig, content, styles, max_pixels=None):
    """The config's mask files as arrays, checked against the images:
    (masks or None, style masks or None)."""
    check_mask_counts(len(styles), config.masks, config.style_masks)
    masks = style_masks = None
    if config.regions is not None:
        masks = region_masks(config.regions, [c for c, _ in config.region_colours], max_pixels)
        check_aspect(config.regions, masks[0].shape, content.shape, "the photo")
    if config.masks is not None:
        masks = []
        for path in config.masks:
            mask = load_mask(path, max_pixels)
            check_aspect(path, mask.shape, content.shape, "the photo")
            masks.append(mask)
    if config.style_masks is not None:
        style_masks = []
        for path, style in zip(config.style_masks, styles):
            if path == "-":
                style_masks.append(None)
                continue
            mask = load_mask(path, max_pixels)
            check_aspect(path, mask.shape, style.shape, "its painting")
            style_masks.append(mask)
    return masks, style_masks


def check_network_size(path, image, config: StyleConfig):
    """Name the file when the photo, as resized, is too small for the network."""
    need = min_input_size(deepest(config.layers))
    height, width = image.shape[:2]
    if min(height, width) < need:
        raise ImageError(f"{path}: {width}x{height} px (as resized) is too small for layer "
                         f"{deepest(config.layers)}, which needs at least {need}x{need} px; images "
                         "are not upscaled")
