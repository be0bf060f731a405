"""The look benchmark: every photo in every painting's style, for each
weights source, with that source's default alpha/beta, scored by
tfstyle.core.quality.

    rows = quality_grid(photos, paintings, "grid/", StyleConfig(max_size=256),
                        weights=("random", "procedural"))
    summary(rows)  # per source: worst and median speckle, least strokes

A cell whose image and finished run record are already in the folder, made
with the same settings (the record's settings_digest), is read back, not
run again, so an interrupted grid continues where it stopped; a cell made
with other settings, or not finished, is run again.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

from ..errors import TfstyleError
from ..config import StyleConfig
from ..events import Row, emit

# The weights sources that are names, not paths.
NAMED_SOURCES = ("imagenet", "random", "procedural")


def _source_id(weights: str) -> str:
    """A source name as it is, a weights file or export by its absolute path."""
    return weights if weights in NAMED_SOURCES else str(Path(weights).absolute())


def _source_folder(weights: str) -> str:
    """The readable folder of a source's cells: its name, or its path's last part."""
    return weights if weights in NAMED_SOURCES else (Path(weights).absolute().name or "weights")


def cell_path(folder, weights: str, photo, painting) -> Path:
    """folder/<weights>/<photo>_<painting>-<digest>.png. The stems alone
    collide (the same stem in two folders; "a_b" + "c" against "a" +
    "b_c"), so a digest of the photo's, the painting's and the weights'
    absolute paths follows them."""
    key = json.dumps([str(Path(photo).absolute()), str(Path(painting).absolute()),
                      _source_id(weights)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return (Path(folder) / _source_folder(weights)
            / f"{Path(photo).stem}_{Path(painting).stem}-{digest}.png")


def _file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cell_digest(photo, painting, config: StyleConfig) -> str:
    """What a cell is made from: plan.settings_digest of its config, with
    its inputs (paths and bytes), its weights and its length. Stored in the cell's record; a finished cell is
    reused only when its record carries the same digest."""
    from ..plan import run_length, settings_digest

    return settings_digest(config, {"photo": [str(Path(photo).absolute()), _file_sha256(photo)],
                                    "painting": [str(Path(painting).absolute()),
                                                 _file_sha256(painting)],
                                    "weights": _source_id(config.weights), **run_length(config)})


def _finished(out: Path, digest: str) -> dict | None:
    """The cell's record when it finished with these settings, else None
    (missing, unreadable, interrupted, failed, or made with others)."""
    from .record import read_record
    from .runs import record_path

    if not out.exists():
        return None
    try:
        done = read_record(record_path(out))
    except TfstyleError:
        return None
    if not isinstance(done, dict) or done.get("status") != "finished" \
            or done.get("settings_digest") != digest:
        return None
    return done


def quality_grid(photos, paintings, folder, config: StyleConfig, weights=("procedural",),
                 callback=None) -> list[dict]:
    """One row per (weights, photo, painting): its scores, seconds, and image
    path. config.beta None gives each source its own default. The callback
    hears each cell's run events, and a `Row` (tfstyle.events) per cell."""
    from ..core.extractor import FeatureExtractor
    from .inputs import measured_image, quality_of
    from .runs import TransferRun

    rows = []
    for source in weights:
        cell_config = config.replace(weights=source)
        extractor = None
        for photo in photos:
            for painting in paintings:
                out = cell_path(folder, source, photo, painting)
                digest = cell_digest(photo, painting, cell_config)
                done = _finished(out, digest)
                if done is not None:
                    numbers = quality_of(measured_image(out), [painting], photo)
                    seconds, kept = done.get("seconds"), True
                else:
                    if extractor is None:  # one network per source, for all its cells
                        extractor = FeatureExtractor.for_config(cell_config)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    run = TransferRun(photo, [painting], out, overwrite=True, plot=False)
                    run.extra["settings_digest"] = digest  # written with every record of the run
                    result = run.run(cell_config, callback=callback, extractor=extractor)
                    if result.stopped:
                        raise KeyboardInterrupt
                    numbers, seconds, kept = run.extra["quality"], result.seconds, False
                row = {"weights": source, "photo": Path(photo).stem,
                       "painting": Path(painting).stem, "speckle": numbers["speckle"],
                       "strokes": numbers["strokes"], "seconds": seconds, "kept": kept,
                       "path": str(out)}
                rows.append(row)
                emit(callback, Row(row))
    return rows


def summary(rows) -> dict:
    """{weights: {"worst_speckle", "median_speckle", "least_strokes", "cells"}}."""
    out = {}
    for source in dict.fromkeys(r["weights"] for r in rows):
        mine = [r for r in rows if r["weights"] == source]
        out[source] = {"worst_speckle": max(r["speckle"] for r in mine),
                       "median_speckle": statistics.median(r["speckle"] for r in mine),
                       "least_strokes": min(r["strokes"] for r in mine), "cells": len(mine)}
    return out
