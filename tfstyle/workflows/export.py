"""The feature extractor as a SavedModel for TF Serving, and back.

    tfstyle export --weights imagenet -o saved_models/vgg19_avg --version 1

writes the TF Serving layout `saved_models/vgg19_avg/1/` with five
signatures (height and width are dynamic):

- serving_default: `images` float32 [N, H, W, 3], RGB in [0, 255] ->
  one float32 [N, h, w, C] tensor per layer, named by paper name (raw).
- normalized: the same input -> the features times the network's channel
  scales (`--normalize`, default network: core.normalization), as a run
  compares them; serving_default keeps the raw features.
- style: the same input -> the style representation per layer: the Gram
  matrix of the normalised features over positions divided by their
  number, float32 [N, C, C], as a run's targets are.
- encoded: `image_bytes` string [N] of JPEG/PNG/GIF/BMP files, decoded in
  the graph and prepared as `io.load_image` prepares files: transparency
  composited on white, grey made RGB, shrunk with antialiased Lanczos-3 to
  at most 512 px on the longest side (never below 1 px) -> the outputs of
  `style`. What TF cannot match: EXIF orientation is not applied (send
  upright pixels), large JPEGs are decoded at full scale where Pillow
  decodes them at a reduced DCT scale first, and 16-bit PNGs are rounded
  to 8 bits by TF's decoder. Its Grams are normalised, as style's are.
- encoded_sized: `image_bytes` plus `max_size` int32 [] -> the same, for
  callers that want another size (signatures cannot have optional inputs,
  so the optional `max_size` is this second signature).

`assets/tfstyle.json` records the weights, their hash, the pooling, the
layers, where the scales came from (`normalization`), the preprocessing and the tfstyle version, and the first source's
name and default beta (`made_from`, `default_beta`: an export made from an
export keeps those of the source it all came from). The export's variables
also serve as a weights source: `FeatureExtractor(weights=<export dir>)`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from ..errors import ConfigError, OutputError
from ..core.extractor import BGR_MEAN, FeatureExtractor
from ..layers import CONV_LAYERS
from ..version import installed_version
from ..core.losses import gram_per_position
from ..core.normalization import describe, fixed_scales
from ..beta import default_beta, weights_origin
from ..io.exports import METADATA_FILE, read_export_metadata
from ..weights.sources import kernels_digest

ENCODED_MAX_SIZE = 512

__all__ = ["export_saved_model", "read_export_metadata", "prepare_encoded", "ENCODED_MAX_SIZE"]


def prepare_encoded(data: tf.Tensor, max_size) -> tf.Tensor:
    """One encoded image -> float32 RGB (h, w, 3) in [0, 255], as load_image
    would give it (see the module docstring for what differs)."""
    image = tf.cast(tf.io.decode_image(data, channels=0, expand_animations=False), tf.float32)
    channels = tf.shape(image)[-1]
    has_alpha = tf.equal(channels % 2, 0)  # 2: grey + alpha, 4: RGBA
    alpha = tf.cond(has_alpha, lambda: image[..., -1:] / 255.0,
                    lambda: tf.ones_like(image[..., :1]))
    colour = tf.cond(has_alpha, lambda: image[..., :-1], lambda: image)  # (H, W, 1 or 3)
    colour = tf.cond(tf.equal(tf.shape(colour)[-1], 1), lambda: tf.tile(colour, [1, 1, 3]),
                     lambda: colour)
    colour.set_shape([None, None, 3])
    image = colour * alpha + 255.0 * (1.0 - alpha)  # composited on white
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    longest = tf.reduce_max(size)
    limit = tf.cast(max_size, tf.float32)
    # Rounded as preprocess.fit_size does, and never below one pixel.
    new = tf.maximum(tf.cast(tf.round(size * limit / longest), tf.int32), 1)
    image = tf.cond(longest > limit,
                    lambda: tf.image.resize(image, new, method="lanczos3", antialias=True),
                    lambda: image)
    return tf.clip_by_value(image, 0.0, 255.0)


class _Signatures(tf.Module):
    """What gets saved: the kernels by paper name, the metadata asset, and
    the five serving functions (which run the extractor's Keras layers)."""

    def __init__(self, extractor: FeatureExtractor, layers, metadata_path: str, scales: dict):
        super().__init__(name="tfstyle_vgg19")
        # The extractor (and its Keras model) is deliberately not tracked:
        # Keras's variable wrappers would be saved beside the variables below,
        # doubling the export's size.
        self._extractor = extractor
        self._layers = tuple(layers)
        # The tf.Variables under Keras's variables, tracked by paper name: so
        # an export can be loaded as weights, and so TF1-style loaders (TF
        # Serving, saved_model_cli run), which do not restore Keras's own
        # variable wrappers, find every variable the graph reads.
        self.conv = {name: {"kernel": layer.kernel.value, "bias": layer.bias.value}
                     for name, layer in extractor._sequence if name.startswith("conv")}
        self.metadata = tf.saved_model.Asset(metadata_path)
        # One (C,) scale per channel and layer, ones when exported with off.
        channels, self.scales = 3, {}
        for name, layer in extractor._sequence:
            channels = getattr(layer, "filters", channels)  # a pooling keeps its input's
            if name in self._layers:
                self.scales[name] = tf.Variable(scales.get(name, tf.ones([channels])),
                                                trainable=False, name=f"scales_{name}")

    def features(self, images):
        return self._extractor(images, self._layers)

    def normalized(self, images):
        return {name: f * self.scales[name] for name, f in self.features(images).items()}

    def style(self, images):
        # The objective's own Gram (per image): (N, h, w, C) -> (N, C, C).
        return {name: tf.map_fn(gram_per_position, f)
                for name, f in self.normalized(images).items()}

    def encoded_style(self, image_bytes, max_size):
        def one(data):
            grams = self.style(prepare_encoded(data, max_size)[None])
            return {name: g[0] for name, g in grams.items()}

        signature = {name: tf.TensorSpec([None, None], tf.float32) for name in self._layers}
        return tf.map_fn(one, image_bytes, fn_output_signature=signature)


def export_saved_model(extractor: FeatureExtractor, path, version: int = 1, layers=None,
                       overwrite: bool = False, normalize: str = "network") -> Path:
    """Write `extractor` to `<path>/<version>/` for TF Serving; returns that folder.

    normalize: where the channel scales of `normalized` and the Grams come
    from (network, off or a scales file; pair has no one set of scales).

    The export is written to a temporary folder beside it and renamed into
    place, so a failed export leaves nothing half-written.
    """
    layers = tuple(layers) if layers else extractor.layers
    if normalize == "pair":
        raise ConfigError("normalize", "an export has one set of scales for every image; "
                                       "pair has none (use network, off or a scales file)")
    base, target = _checked_target(extractor, layers, version, path, overwrite)
    scales = fixed_scales(normalize, extractor, layers)
    try:
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=base, prefix=f".{version}."))
    except OSError as error:
        raise OutputError(f"{base}: cannot write here ({error.strerror or error})") from None
    try:
        meta_path = staging / METADATA_FILE
        meta_path.write_text(json.dumps({**_metadata(extractor, layers),
                                         "normalization": describe(normalize)}, indent=2))
        module = _Signatures(extractor, layers, str(meta_path), scales)
        saved = staging / "model"
        tf.saved_model.save(module, str(saved), signatures=_serving_functions(module))
        meta_path.unlink()  # the saved copy lives in model/assets/
        if target.exists():
            shutil.rmtree(target)
        os.replace(saved, target)
    except OSError as error:
        raise OutputError(f"{target}: export failed ({error.strerror or error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _checked_target(extractor: FeatureExtractor, layers, version, path,
                    overwrite: bool) -> tuple[Path, Path]:
    """(base folder, version folder), refused before anything is written:
    layers the extractor lacks, a bad version, a version already there, a
    base that is not a folder."""
    missing = [n for n in layers if n not in extractor.layers]
    if missing:
        raise ConfigError("layers", f"the extractor was not built for {', '.join(missing)}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise OutputError(f"version must be a whole number from 1, received {version!r}")
    base = Path(path)
    target = base / str(version)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: this version already exists (use --overwrite, or a new --version)")
    if base.exists() and not base.is_dir():
        raise OutputError(f"{base}: exists and is not a folder")
    return base, target


def _metadata(extractor: FeatureExtractor, layers) -> dict:
    """What `assets/tfstyle.json` says about an export (see the module docstring)."""
    kernels = extractor.kernels()
    return {
        "format": "tfstyle feature extractor",
        "weights": extractor.weights_source,
        # The first source's name and default beta, carried on from an
        # export made from an export, so that one gets the same beta.
        "made_from": weights_origin(extractor.weights_source),
        "default_beta": default_beta(getattr(extractor, "weights", extractor.weights_source)),
        "weights_sha256": kernels_digest(kernels),
        "pooling": extractor.pooling,
        "layers": list(layers),
        "kernels": [n for n in CONV_LAYERS if n in kernels],
        "preprocessing": {"input": "RGB float32 in [0, 255]", "channels": "RGB -> BGR",
                          "mean_bgr": list(BGR_MEAN), "scale": 1.0},
        "style_representation": "Gram matrix of the normalised features over positions / "
                                "number of positions",
        "encoded_max_size": ENCODED_MAX_SIZE,
        "tfstyle_version": installed_version(),
        "tensorflow_version": tf.__version__,
    }


def _serving_functions(module: _Signatures) -> dict:
    """The five signatures by name, traced for their input specs."""
    images = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    data = tf.TensorSpec([None], tf.string, name="image_bytes")
    size = tf.TensorSpec([], tf.int32, name="max_size")
    serve = tf.function(module.features, input_signature=[images], autograph=False)
    normalized = tf.function(module.normalized, input_signature=[images], autograph=False)
    style = tf.function(module.style, input_signature=[images], autograph=False)
    sized = tf.function(module.encoded_style, input_signature=[data, size])
    encoded = tf.function(lambda image_bytes: module.encoded_style(image_bytes, ENCODED_MAX_SIZE),
                          input_signature=[data])
    return {"serving_default": serve.get_concrete_function(),
            "normalized": normalized.get_concrete_function(),
            "style": style.get_concrete_function(),
            "encoded": encoded.get_concrete_function(),
            "encoded_sized": sized.get_concrete_function()}


