"""The traced step: the objective's loss and gradient as one tf.function,
with and without XLA, shared by every Objective over the same extractor
whose terms have the same structure (see Steps). Its arguments are the
image and the terms' targets, so it keeps no run's targets itself.
"""

from __future__ import annotations

import copy
import threading
import weakref

import numpy as np
import tensorflow as tf

from .terms import LossTerm


def _losses(extractor, layers, terms, image, state) -> dict[str, tf.Tensor]:
    features = extractor(image[None], layers)  # raw, not normalised
    values = {name: term(features, image, state[name]) for name, term in terms.items()}
    total = tf.add_n([terms[n].weight * v for n, v in values.items()])
    return {"total": total, **values}


class Steps:
    """The traced loss-and-gradient function, with and without XLA, shared
    by every Objective over the same extractor whose terms have the same
    signature: the targets come in as arguments, of any size, so a batch of
    jobs or a grid of panels traces once.

    An entry lives as long as its extractor, which under FeatureExtractor.shared
    is the process: so it keeps only what tracing needs, each term's
    skeleton (`_skeleton`), never the targets of the Objective that made it.
    """

    _registry: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
    # The page's worker threads build Objectives at once: one lookup-or-create
    # at a time, so each structure has one entry and the dictionary is never
    # changed while another thread reads it.
    _lock = threading.Lock()

    def __init__(self, extractor, layers, terms, state):
        # Only tracing calls the extractor; a weak reference lets the
        # registry's entry die with it.
        self._extractor = _weak(extractor)
        self.layers = layers
        self.terms = {name: _skeleton(term) for name, term in terms.items()}
        self.signature = [tf.TensorSpec([None, None, 3], tf.float32),
                          tf.nest.map_structure(lambda t: tf.TensorSpec([None] * t.shape.rank,
                                                                        t.dtype), state)]
        self.functions: dict[bool, tf.types.experimental.PolymorphicFunction] = {}

    @classmethod
    def shared(cls, extractor, layers, terms, state) -> "Steps":
        key = (layers, tuple(t.signature() for t in terms.values()))
        with cls._lock:
            try:
                entries = cls._registry.setdefault(extractor, {})
            except TypeError:  # an extractor that takes no weak reference: no sharing
                return cls(extractor, layers, terms, state)
            if key not in entries:
                entries[key] = cls(extractor, layers, terms, state)
            return entries[key]

    def function(self, xla: bool):
        with self._lock:  # two threads' first calls make one tf.function
            if xla not in self.functions:
                self.functions[xla] = tf.function(
                    self._loss_and_grad,
                    input_signature=self.signature, jit_compile=xla,
                    autograph=False,  # no tensor-dependent Python control flow to convert
                )
            return self.functions[xla]

    def _loss_and_grad(self, image, state):
        with tf.GradientTape() as tape:
            tape.watch(image)
            values = _losses(self._extractor(), self.layers, self.terms, image, state)
        grad = tape.gradient(values["total"], image)
        # One stacked tensor: a single device-to-host copy for every term.
        return tf.stack([values[n] for n in ("total", *self.terms)]), grad


def _weak(extractor):
    try:
        return weakref.ref(extractor)
    except TypeError:
        return lambda: extractor


def _skeleton(term: LossTerm) -> LossTerm:
    """A copy of `term` without its tensors: its class and Python constants
    (weight, layers, what its signature() names), which is all tracing reads,
    since the tensors come in as the traced step's `state` argument. A term
    that read a tensor of its own inside the trace would bake the first
    job's target into every later job's step; without the attribute it
    fails at the trace instead."""
    bare = copy.copy(term)
    for name, value in vars(term).items():
        if any(isinstance(leaf, (tf.Tensor, tf.Variable, np.ndarray))
               for leaf in tf.nest.flatten(value)):
            delattr(bare, name)
    return bare
