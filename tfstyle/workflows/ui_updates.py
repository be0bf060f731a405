"""What a visitor of `tfstyle ui` sees of a run, made without Gradio: the
`Update` it yields after each step, the status lines and the preview
images. `ui.Studio` makes them; `ui.build_app` puts them on the page.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import NonFiniteLossError
from ..io.images import load_image
from ..preprocess import to_uint8


@dataclass
class Update:
    """What the page shows after a step of a run: every field that is not
    None replaces what the page showed."""
    status: str
    preview: np.ndarray | None = None  # (H, W, 3) uint8
    files: list[str] | None = None  # the PNG and its JSON run record
    plot: str | None = None  # the loss plot PNG
    iteration: int = 0


def progress_line(iterate, iterations: int) -> str:
    """The status line while a run is under way."""
    terms = " · ".join(f"{name} {value:.3g}" for name, value in iterate.terms.items())
    rate = iterate.seconds / max(1, iterate.iteration)
    return (f"iteration {iterate.iteration}/{iterations} · loss {iterate.total:.4g} · {terms} · "
            f"{rate:.2f} s/it")


def as_uint8(image) -> np.ndarray:
    """A float image in [0, 255] as the page shows it (and a PNG holds it)."""
    return to_uint8(image)


def plain(error, uploads) -> str:
    """The error's one line, with Gradio's upload folders left out: the
    visitor knows their file by its name."""
    # The first line only: the page says "internal error (Type: ...)" itself.
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    for path in uploads:
        text = text.replace(str(Path(path).parent) + os.sep, "")
    return text


def final_update(outcome: dict, output: Path) -> Update:
    """The page's last update: the result and its files, or the last finite
    image after a NaN loss; any other error is raised for Studio.run."""
    from .runs import companion

    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, NonFiniteLossError) and output.exists():
            return Update(status=f"⚠ {error}; the last finite image is kept",
                          preview=as_uint8(load_image(output)),
                          files=[str(output), str(output.with_suffix(".json"))])
        raise error
    result = outcome["result"]
    plot = companion(output, "loss")
    stopped = result.stopped
    how = (f"stopped at iteration {result.iterations}; the best image so far is kept"
           if stopped else f"finished: {result.iterations} iterations")
    return Update(status=f"{how}, {result.seconds:.1f} s ({result.weights} weights)",
                  preview=result.image, iteration=result.iterations,
                  files=[str(output), str(output.with_suffix(".json"))],
                  plot=str(plot) if plot.exists() else None)


def drain(worker: threading.Thread, previews: queue.Queue) -> Iterator[Update]:
    """Every preview the worker puts, until it has finished."""
    while worker.is_alive() or not previews.empty():
        try:
            yield previews.get(timeout=0.1)
        except queue.Empty:
            continue
    worker.join()
