"""Progress on stderr: a rich bar with the iteration, the loss, each named
term of the objective, seconds per iteration, and whether XLA evaluates the
objective and why (measured, cached or set); at print sizes also the scale,
the tile being evaluated and the memory in use."""

from __future__ import annotations


class Progress:
    """Call with each Iterate; use as a context manager around a run. The bar
    appears at the first iterate, so errors while loading stay one line."""

    def __init__(self, iterations: int, quiet: bool = False, offset: int = 0):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self.total = offset + iterations
        self.offset = offset
        self._bar = None
        self.scale = "scale 1"

    def __enter__(self):
        return self

    def _start(self):
        if not self.quiet and self._bar is None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                       TimeRemainingColumn)

            self._bar = Bar(TextColumn("[bold]tfstyle"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss {task.fields[loss]}"),
                            TextColumn("{task.fields[terms]}"),
                            TextColumn("{task.fields[rate]} s/it"), TimeRemainingColumn(),
                            TextColumn("[dim]{task.fields[jit]}"),
                            TextColumn("{task.fields[tile]}"),
                            console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("run", total=self.total, completed=self.offset,
                                            loss="-", terms="", rate="-", jit="", tile="")

    def __exit__(self, kind, value, traceback):
        if self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
            self._bar = None
        return False

    def __call__(self, iterate):
        self._start()
        if self._bar is None:
            return
        done = iterate.iteration - self.offset
        rate = iterate.seconds / done if done else 0.0
        terms = "  ".join(f"{name} {value:.3g}" for name, value in iterate.terms.items())
        self.scale = f"scale {iterate.scale + 1} ({iterate.size[1]}x{iterate.size[0]} px)"
        self._bar.update(self._task, completed=iterate.iteration, loss=f"{iterate.total:.4g}",
                         terms=terms, rate=f"{rate:.2f}", jit=iterate.jit)

    def plan(self, plans):
        """Say the schedule, when there is more than one scale or any tiles."""
        if len(plans) > 1 or any(p.tiles != "untiled" for p in plans):
            self.say("schedule: " + "; ".join(f"scale {k + 1}: {p.describe()}"
                                              for k, p in enumerate(plans)))

    def tile(self, tile: int, tiles: int, step: int):
        """A tiled evaluation's progress: pass 1 (values), then pass 2
        (gradients), with the memory in use."""
        from tfstyle.core.memory import GB
        from tfstyle.io.system import rss_bytes

        self._start()
        if self._bar is not None:
            self._bar.update(self._task, tile=f"{self.scale}: tile {tile} of {tiles}, pass {step} "
                                              f"of 2, {rss_bytes() / GB:.1f} GB in use")

    def say(self, text: str):
        if not self.quiet:
            # One message, one line: a narrow terminal must not split it.
            self.console.print(text, soft_wrap=True, markup=False)
