"""The loss plot written beside an output: each term per iteration, log scale."""

from __future__ import annotations

import io as _bytes_io
import threading
from pathlib import Path

from .files import atomic_writer

# The keys of a history entry (events.Iterate.record) that are not losses.
NOT_LOSSES = ("iteration", "seconds", "size")


def plotted_terms(history: list[dict]) -> list[str]:
    """"total" and every term the history holds (content, style, tv,
    temporal or any later one), in the order they first appear."""
    names: dict[str, None] = {}
    for entry in history:
        names.update(dict.fromkeys(k for k in entry if k not in NOT_LOSSES))
    return list(names)


# matplotlib is not thread-safe (its text layout caches): the page's
# visitors finish runs at the same time, and two plots drawn at once failed
# in tight_layout. One figure is drawn at a time.
_DRAWING = threading.RLock()


def loss_figure(history: list[dict]):
    """A matplotlib Figure of every term per iteration, on a log scale."""
    with _DRAWING:
        return _draw(history)


def _draw(history: list[dict]):
    import matplotlib

    matplotlib.use("Agg")  # no display; safe on servers and in tests
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.subplots()
    steps = [h["iteration"] for h in history]
    for term in plotted_terms(history):
        values = [h.get(term) for h in history]
        points = [(s, v) for s, v in zip(steps, values) if v is not None and v > 0]
        if points:
            axes.plot(*zip(*points), label=term, linewidth=1.2)
    axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss (unweighted terms; total is weighted)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def loss_plot_png(history: list[dict]) -> bytes:
    """PNG bytes of loss_figure(history)."""
    buffer = _bytes_io.BytesIO()
    with _DRAWING:
        loss_figure(history).savefig(buffer, format="png")
    return buffer.getvalue()


def write_loss_plot(path, history: list[dict]) -> Path:
    with atomic_writer(Path(path)) as handle:
        handle.write(loss_plot_png(history))
    return Path(path)
