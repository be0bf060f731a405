"""Nothing held past its use: what a process that runs for days (a batch,
the page) keeps after a job is done."""

import gc
import threading
import time
import weakref

import numpy as np

from conftest import TinyExtractor, smooth_image
from tfstyle.config import StyleConfig
from tfstyle.core.objective import Objective
from tfstyle.core.steps import Steps

TINY = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                   weights="random", jit=False, beta=1e3)


def test_the_shared_trace_does_not_keep_the_first_jobs_targets():
    """Two jobs of a batch over its one extractor: the second reuses the
    first one's trace, yet once the first Objective is dropped its photo's
    content maps, its painting's Grams and a video frame's warped target
    are gone, not held by the trace registry for the extractor's life."""
    extractor = TinyExtractor()
    temporal = (1.0, smooth_image(16, 16, 7), np.ones((16, 16), np.float32))
    first = Objective(smooth_image(16, 16, 1), smooth_image(16, 16, 2), TINY, extractor,
                      temporal=temporal)
    first.values(smooth_image(16, 16, 3))
    held = [weakref.ref(first.terms["content"].state()["targets"]["conv2_1"]),
            weakref.ref(first.terms["style"].state()["targets"]["conv1_1"]),
            weakref.ref(first.terms["temporal"].state()["target"])]
    second = Objective(smooth_image(16, 16, 4), smooth_image(16, 16, 5), TINY, extractor,
                       temporal=(1.0, smooth_image(16, 16, 8), np.ones((16, 16), np.float32)))
    second.values(smooth_image(16, 16, 6))
    assert first.traces + second.traces == 1  # still one trace for both
    del first
    gc.collect()
    assert [ref() is None for ref in held] == [True, True, True]
    second.values(smooth_image(16, 16, 6))  # the trace still serves the live one


def test_objectives_made_at_once_on_threads_share_one_entry(monkeypatch):
    """The page's worker threads build Objectives concurrently: every one
    of the same structure gets the one registry entry, not a racing copy.
    A slow entry (as a real one's set-up can be) widens the window."""
    extractor = TinyExtractor()
    make = Steps.__init__

    def slow(self, *args):
        time.sleep(0.05)
        make(self, *args)
    monkeypatch.setattr(Steps, "__init__", slow)
    steps, start = [], threading.Barrier(6)

    def build(seed):
        start.wait()
        steps.append(Objective(smooth_image(16, 16, seed), smooth_image(16, 16, seed + 1),
                               TINY, extractor)._steps)

    threads = [threading.Thread(target=build, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(steps) == 6 and len({id(s) for s in steps}) == 1
    assert len(Steps._registry[extractor]) == 1


def test_an_exports_default_beta_is_read_from_disk_once_per_config(tmp_path, monkeypatch):
    """StyleConfig.resolved_beta (the style weight of a run that sets none)
    reads an export's metadata once, not at every access of the loss."""
    import json

    from tfstyle import beta
    from tfstyle.io.exports import METADATA_FILE

    export = tmp_path / "export"
    (export / "assets").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    (export / "assets" / METADATA_FILE).write_text(json.dumps({"default_beta": 123.0}))
    reads, read = [], beta.read_export_metadata
    monkeypatch.setattr(beta, "read_export_metadata", lambda path: reads.append(path) or read(path))
    config = StyleConfig(weights=str(export))
    assert [config.resolved_beta for _ in range(5)] == [123.0] * 5
    assert config.style_layer_weights and config.resolved_beta == 123.0
    assert len(reads) == 1
