"""The feature extractor as a SavedModel for TF Serving, and back.

    tfstyle export --weights imagenet -o saved_models/vgg19_avg --version 1

writes the TF Serving layout `saved_models/vgg19_avg/1/` with four
signatures (height and width are dynamic):

- serving_default: `images` float32 [N, H, W, 3], RGB in [0, 255] ->
  one float32 [N, h, w, C] tensor per layer, named by paper name (raw).
- style: the same input -> the style representation per layer: the Gram
  matrix over positions divided by their number, float32 [N, C, C].
- encoded: `image_bytes` string [N] of JPEG/PNG files, decoded in the graph
  and shrunk to at most 512 px -> the same outputs as `style`.
- encoded_sized: `image_bytes` plus `max_size` int32 [] -> the same, for
  callers that want another size (signatures cannot have optional inputs,
  so the optional `max_size` is this second signature).

`assets/tfstyle.json` records the weights, their hash, the pooling, the
layers, the preprocessing and the tfstyle version. The export's variables
also serve as a weights source: `FeatureExtractor(weights=<export dir>)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from .errors import OutputError, WeightsError
from .extractor import BGR_MEAN, FeatureExtractor
from .layers import CONV_LAYERS

METADATA_FILE = "tfstyle.json"
ENCODED_MAX_SIZE = 512


def kernels_digest(kernels: dict) -> str:
    """SHA-256 over every kernel and bias, in network order."""
    digest = hashlib.sha256()
    for name in CONV_LAYERS:
        if name in kernels:
            for array in kernels[name]:
                digest.update(np.ascontiguousarray(array, np.float32).tobytes())
    return digest.hexdigest()


class _Signatures(tf.Module):
    """What gets saved: the kernels by paper name, the metadata asset, and
    the four serving functions (which run the extractor's Keras layers)."""

    def __init__(self, extractor: FeatureExtractor, layers, metadata_path: str):
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

    def features(self, images):
        return self._extractor(images, self._layers)

    def style(self, images):
        out = {}
        for name, f in self.features(images).items():
            shape = tf.shape(f)
            flat = tf.reshape(f, [shape[0], -1, shape[3]])  # (N, M, C)
            gram = tf.matmul(flat, flat, transpose_a=True)  # (N, C, C)
            out[name] = gram / tf.cast(shape[1] * shape[2], tf.float32)
        return out

    def encoded_style(self, image_bytes, max_size):
        def one(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image = tf.cast(image, tf.float32)
            size = tf.cast(tf.shape(image)[:2], tf.float32)
            scale = tf.minimum(1.0, tf.cast(max_size, tf.float32) / tf.reduce_max(size))
            new = tf.cast(tf.round(size * scale), tf.int32)
            image = tf.image.resize(image, new, method="bicubic", antialias=True)
            image = tf.clip_by_value(image, 0.0, 255.0)
            grams = self.style(image[None])
            return {name: g[0] for name, g in grams.items()}

        signature = {name: tf.TensorSpec([None, None], tf.float32) for name in self._layers}
        return tf.map_fn(one, image_bytes, fn_output_signature=signature)


def export_saved_model(extractor: FeatureExtractor, path, version: int = 1, layers=None,
                       overwrite: bool = False) -> Path:
    """Write `extractor` to `<path>/<version>/` for TF Serving; returns that folder.

    The export is written to a temporary folder beside it and renamed into
    place, so a failed export leaves nothing half-written.
    """
    layers = tuple(layers) if layers else extractor.layers
    missing = [n for n in layers if n not in extractor.layers]
    if missing:
        raise ValueError(f"the extractor was not built for {', '.join(missing)}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise OutputError(f"version must be a whole number from 1, received {version!r}")
    base = Path(path)
    target = base / str(version)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: this version already exists (use --overwrite, or a new --version)")
    if base.exists() and not base.is_dir():
        raise OutputError(f"{base}: exists and is not a folder")
    try:
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=base, prefix=f".{version}."))
    except OSError as error:
        raise OutputError(f"{base}: cannot write here ({error.strerror or error})") from None
    try:
        kernels = extractor.kernels()
        metadata = {
            "format": "tfstyle feature extractor",
            "weights": extractor.weights_source,
            "weights_sha256": kernels_digest(kernels),
            "pooling": extractor.pooling,
            "layers": list(layers),
            "kernels": [n for n in CONV_LAYERS if n in kernels],
            "preprocessing": {"input": "RGB float32 in [0, 255]", "channels": "RGB -> BGR",
                              "mean_bgr": list(BGR_MEAN), "scale": 1.0},
            "style_representation": "Gram matrix over positions / number of positions",
            "encoded_max_size": ENCODED_MAX_SIZE,
            "tfstyle_version": _version(),
            "tensorflow_version": tf.__version__,
        }
        meta_path = staging / METADATA_FILE
        meta_path.write_text(json.dumps(metadata, indent=2))
        module = _Signatures(extractor, layers, str(meta_path))
        images = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
        data = tf.TensorSpec([None], tf.string, name="image_bytes")
        size = tf.TensorSpec([], tf.int32, name="max_size")
        serve = tf.function(module.features, input_signature=[images], autograph=False)
        style = tf.function(module.style, input_signature=[images], autograph=False)
        sized = tf.function(module.encoded_style, input_signature=[data, size])
        encoded = tf.function(lambda image_bytes: module.encoded_style(image_bytes, ENCODED_MAX_SIZE),
                              input_signature=[data])
        signatures = {"serving_default": serve.get_concrete_function(),
                      "style": style.get_concrete_function(),
                      "encoded": encoded.get_concrete_function(),
                      "encoded_sized": sized.get_concrete_function()}
        saved = staging / "model"
        tf.saved_model.save(module, str(saved), signatures=signatures)
        meta_path.unlink()  # the saved copy lives in model/assets/
        if target.exists():
            shutil.rmtree(target)
        os.replace(saved, target)
    except OSError as error:
        raise OutputError(f"{target}: export failed ({error.strerror or error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def read_export_metadata(path) -> dict:
    meta = Path(path) / "assets" / METADATA_FILE
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        raise WeightsError(f"{path}: not a tfstyle export (no readable assets/{METADATA_FILE})") from None


def load_exported_kernels(path, needed=None):
    """({paper_name: (kernel, bias)}, description) from an export's variables.

    `needed` is the deepest layer the caller will build; an export that
    stops short of it is rejected.
    """
    path = Path(path)
    if (path / "saved_model.pb").exists() is False:
        versions = sorted((p for p in path.glob("[0-9]*") if (p / "saved_model.pb").exists()),
                          key=lambda p: int(p.name) if p.name.isdigit() else -1)
        if not versions:
            raise WeightsError(f"{path}: not a SavedModel folder (no saved_model.pb)")
        path = versions[-1]  # a TF Serving base folder: take the newest version
    metadata = read_export_metadata(path)
    available = metadata.get("kernels", [])
    if needed is not None and needed not in available:
        last = available[-1] if available else "none"
        raise WeightsError(f"{path}: the export has layers up to {last}, but this run needs "
                           f"{needed}; export again with --layers including {needed}")
    try:
        loaded = tf.saved_model.load(str(path))
        kernels = {name: (loaded.conv[name]["kernel"].numpy(), loaded.conv[name]["bias"].numpy())
                   for name in available}
    except Exception as error:  # a damaged or foreign SavedModel
        raise WeightsError(f"{path}: cannot read the export's kernels ({error})") from None
    if kernels_digest(kernels) != metadata.get("weights_sha256"):
        raise WeightsError(f"{path}: the kernels do not match the export's recorded hash")
    return kernels, f"savedmodel ({path}) of {metadata.get('weights', 'unknown weights')}"


def _version() -> str:
    from . import __version__

    return __version__
