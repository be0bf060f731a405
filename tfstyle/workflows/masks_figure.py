"""`tfstyle figure-masks`: spatial control on one sheet, the transfer with
masks beside the plain blend of the same paintings.
"""

from __future__ import annotations

from ..config import StyleConfig
from ..errors import ConfigError
from ..io.files import check_output_folder
from ..io.images import load_image, save_image
from ..preprocess import resize_mask
from .inputs import load_masks, paintings
from .runs import TransferRun


def masks_figure(content, styles, folder, config: StyleConfig, callback=None,
                 max_pixels=None, extractor=None, overwrite: bool = False):
    """A comparison sheet for spatial control: the photo, each mask, each
    style, the result with masks (`config.masks` or `config.regions`), and
    the plain blend of the same styles without masks.

    Writes `folder/masked.png`, `folder/blended.png` (each with its run
    record) and `folder/figure-masks.png`; returns the sheet's path.
    """
    from ..core.extractor import FeatureExtractor
    from ..io.sheet import make_sheet

    if config.masks is None and config.regions is None:
        raise ConfigError("masks", "figure-masks needs --masks or --regions")
    styles = paintings(config, styles)
    names = ("masked.png", "blended.png", "figure-masks.png")
    folder = check_output_folder(folder, names, overwrite)
    folder.mkdir(exist_ok=True)
    plain = config.replace(masks=None, style_masks=None, regions=None, region_styles=None)
    # Inputs and masks are checked before the network is built.
    runs = {name: TransferRun(content, styles, folder / f"{name}.png", overwrite=overwrite,
                              plot=False) for name in ("masked", "blended")}
    photo = load_image(content, max_size=config.max_size, max_pixels=max_pixels)
    masks, _ = load_masks(config, photo, [load_image(s, max_pixels=max_pixels) for s in styles],
                          max_pixels)
    extractor = extractor or FeatureExtractor.for_config(config)
    results = {}
    for name, run_config in (("masked", config), ("blended", plain)):
        results[name] = runs[name].run(run_config, callback=callback, max_pixels=max_pixels,
                                       extractor=extractor)
        if results[name].stopped:
            break
    # Each region shown on the photo, dimmed outside it (a white mask would
    # vanish on the sheet's white ground).
    row_inputs = [(photo, "photo")] + [
        (photo * (0.2 + 0.8 * resize_mask(m, photo.shape[:2])[..., None]), f"region {k + 1}")
        for k, m in enumerate(masks)]
    row_styles = [(load_image(s, max_size=config.max_size), f"style {k + 1}")
                  for k, s in enumerate(styles)]
    row_results = [(results[n].image, f"{n}") for n in ("masked", "blended") if n in results]
    sheet = make_sheet([row_inputs, row_styles, row_results],
                       title="Spatial control: guided Grams (masked) against the plain blend")
    path = folder / names[-1]
    save_image(path, sheet)
    return path
