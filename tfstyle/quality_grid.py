"""The look benchmark: every photo in every painting's style, for each
weights source, with that source's default alpha/beta, scored by
tfstyle.quality.

    rows = quality_grid(photos, paintings, "grid/", StyleConfig(max_size=256),
                        weights=("random", "procedural"))
    summary(rows)  # per source: worst and median speckle, least strokes

A cell whose image and finished run record are already in the folder is
read back, not run again, so an interrupted grid continues where it
stopped.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Callable

from .config import StyleConfig


def cell_path(folder, weights: str, photo, painting) -> Path:
    """folder/<weights>/<photo>_<painting>.png"""
    return Path(folder) / weights / f"{Path(photo).stem}_{Path(painting).stem}.png"


def quality_grid(photos, paintings, folder, config: StyleConfig, weights=("procedural",),
                 on_cell: Callable[[dict], None] | None = None, callback=None) -> list[dict]:
    """One row per (weights, photo, painting): its scores, seconds, and image
    path. config.beta None gives each source its own default."""
    from .errors import TfstyleError
    from .extractor import FeatureExtractor
    from .io import load_image
    from .record import read_record
    from .runs import TransferRun, quality_of, record_path

    rows = []
    for source in weights:
        cell_config = config.replace(weights=source)
        extractor = None
        for photo in photos:
            for painting in paintings:
                out = cell_path(folder, source, photo, painting)
                try:
                    done = read_record(record_path(out)) if out.exists() else {}
                except TfstyleError:
                    done = {}
                if done.get("status") == "finished":
                    numbers = quality_of(load_image(out), [painting], photo)
                    seconds, kept = done.get("seconds"), True
                else:
                    if extractor is None:  # one network per source, for all its cells
                        extractor = FeatureExtractor.for_config(cell_config)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    run = TransferRun(photo, [painting], out, overwrite=True, plot=False)
                    result = run.run(cell_config, callback=callback, extractor=extractor)
                    if result.interrupted:
                        raise KeyboardInterrupt
                    numbers, seconds, kept = run.extra["quality"], result.seconds, False
                row = {"weights": source, "photo": Path(photo).stem,
                       "painting": Path(painting).stem, "speckle": numbers["speckle"],
                       "strokes": numbers["strokes"], "seconds": seconds, "kept": kept,
                       "path": str(out)}
                rows.append(row)
                if on_cell is not None:
                    on_cell(row)
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
