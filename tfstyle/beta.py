"""The style weight beta a run gets when it sets none: a number per weights
source, and for an export the one it recorded. Read once per `StyleConfig`
(`StyleConfig.resolved_beta`)."""

from __future__ import annotations

from pathlib import Path

from .errors import WeightsError
from .io.exports import read_export_metadata, saved_model_folder

# The style weight beta a run gets when it sets none, per weights source.
# ImageNet: the paper's alpha/beta = 1e-3 (Fig. 2). Random and procedural
# filters tell images apart less sharply (their Grams differ less from one
# image to another), so the same look needs a far larger beta: 1e6 under the
# per-pair normalisation, measured on the shared photos and paintings, and
# under the network's (0.9) that balance of style and content divided by
# its median change over the quality grid, 1.29 and 1.37 (docs/weights.md).
DEFAULT_BETA = {"imagenet": 1e3, "random": 7e5, "procedural": 8e5}
# Under --normalize pair or off, the betas measured for the per-pair scales.
LEGACY_BETA = {"random": 1e6, "procedural": 1e6}


def default_beta(weights: str, normalize: str = "network") -> float:
    """The default style weight for `weights`: a source name, a weights file
    (taken as ImageNet's), or an export, which says what it was made from.
    Under --normalize pair or off, the betas measured for those (and so
    their records' digests) are kept."""
    if normalize in ("pair", "off") and weights in LEGACY_BETA:
        return LEGACY_BETA[weights]
    if weights in DEFAULT_BETA:
        return DEFAULT_BETA[weights]
    path = Path(weights)
    if path.is_dir():
        try:
            metadata = read_export_metadata(saved_model_folder(path))
        except WeightsError:
            return DEFAULT_BETA["imagenet"]
        recorded = metadata.get("default_beta")
        if isinstance(recorded, (int, float)) and not isinstance(recorded, bool) and recorded > 0:
            return float(recorded)
        # Exports written before the default beta was recorded.
        return DEFAULT_BETA.get(weights_origin(str(metadata.get("weights", ""))),
                                DEFAULT_BETA["imagenet"])
    return DEFAULT_BETA["imagenet"]


def weights_origin(description: str) -> str:
    """The first source named by a weights description: "random" for
    "random (seed 0)" and also for an export of an export, "savedmodel (B)
    of savedmodel (A) of random (seed 0)", whose origin is the last part."""
    return description.rsplit(" of ", 1)[-1].split(" ")[0]
