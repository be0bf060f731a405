"""Progress on stderr, drawn from tfstyle's event stream (tfstyle.events).

`Progress` renders a run: a rich bar with the iteration, the loss, each
named term of the objective, seconds per iteration, and whether XLA
evaluates the objective and why; the schedule when there is more than one
scale or any tiles; at print sizes the scale, the tile being evaluated and
the memory in use. A video's frames and a figure's panels each get a bar of
their own. `JobsProgress` renders a batch.
"""

from __future__ import annotations

from tfstyle.events import (Frame, Iterate, JobFinished, JobProgress, JobsPlanned,
                            Panel, Planned, Say, TileDone)


class _Bar:
    """A rich bar on stderr that appears with the first thing it shows, so
    errors before it stay one line; a context manager closes it. Called
    with an event, it hands it to the method `handlers` names for its type
    (the others it does not show)."""

    handlers: dict[type, str] = {}

    def __init__(self, quiet: bool):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close(kind, value, traceback)
        return False

    def close(self, kind=None, value=None, traceback=None):
        if self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
            self._bar = None

    def _open(self, *columns, **fields):
        from rich.progress import Progress as Bar

        self._bar = Bar(*columns, console=self.console, transient=False)
        self._bar.__enter__()
        self._task = self._bar.add_task("run", **fields)

    def __call__(self, event):
        for kind in type(event).__mro__:  # an event's subclass is shown as the event
            if kind in self.handlers:
                return getattr(self, self.handlers[kind])(event)
        return None

    def said(self, event: Say):
        self.say(event.text)

    def say(self, text: str):
        if not self.quiet:
            # One message, one line: a narrow terminal must not split it.
            self.console.print(text, soft_wrap=True, markup=False)


class Progress(_Bar):
    """Call with each event of a run; use as a context manager around it."""

    def __init__(self, iterations: int = 0, quiet: bool = False, offset: int = 0):
        super().__init__(quiet)
        self.total = offset + iterations
        self.offset = offset
        self.scale = "scale 1"
        self.frame = None
        self.schedule_said = False

    handlers = {Frame: "_frame", Panel: "_panel", Iterate: "iterate", Planned: "planned",
                TileDone: "tile", Say: "said"}

    def _start(self):
        if not self.quiet and self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

            self._open(TextColumn("[bold]tfstyle"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[terms]}"),
                       TextColumn("{task.fields[rate]} s/it"), TimeRemainingColumn(),
                       TextColumn("[dim]{task.fields[jit]}"), TextColumn("{task.fields[tile]}"),
                       total=self.total, completed=self.offset, loss="-", terms="", rate="-",
                       jit="", tile="")

    def iterate(self, iterate: Iterate):
        self._start()
        if self._bar is None:
            return
        done = iterate.iteration - self.offset
        rate = iterate.seconds / done if done else 0.0
        terms = "  ".join(f"{name} {value:.3g}" for name, value in iterate.terms.items())
        self.scale = f"scale {iterate.scale + 1} ({iterate.size[1]}x{iterate.size[0]} px)"
        self._bar.update(self._task, completed=iterate.iteration, loss=f"{iterate.total:.4g}",
                         terms=terms, rate=f"{rate:.2f}", jit=iterate.jit)

    def planned(self, event: Planned):
        self.plan(event.scales)

    def plan(self, scales):
        """Say the schedule, when there is more than one scale or any tiles;
        a bar opened without a total (a frame's, a panel's) takes the plan's."""
        if not self.total:
            self.total = sum(s.iterations for s in scales)
        if len(scales) > 1 or any(s.tiles != "untiled" for s in scales):
            self.say("schedule: " + "; ".join(f"scale {k + 1}: {s.describe()}"
                                              for k, s in enumerate(scales)))

    def tile(self, event: TileDone):
        """A tiled evaluation's progress: pass 1 (values), then pass 2
        (gradients), with the memory in use."""
        from tfstyle.core.memory import GB
        from tfstyle.io.system import rss_bytes

        self._start()
        if self._bar is not None:
            self._bar.update(self._task, tile=f"{self.scale}: tile {event.tile} of {event.tiles}, "
                                              f"pass {event.step} of 2, "
                                              f"{rss_bytes() / GB:.1f} GB in use")

    def _frame(self, event: Frame):
        """A video frame's events: a new bar, labelled, for each run of a
        frame (its Planned starts it: a shot's lead-in has the number of the
        frame before it, and a run of its own); the schedule said once."""
        if isinstance(event.event, Planned):
            self._restart()
            self.frame = event.frame
            self.say(f"frame {event.frame}")
            self.total = sum(s.iterations for s in event.event.scales)
            if self.schedule_said:
                return
            self.schedule_said = True
        self(event.event)

    def _panel(self, event: Panel):
        where = f"[{event.index + 1}/{event.count}] {event.cell.name}"
        if event.status == "kept":
            self.say(f"{where}: kept from disk")
        elif event.status == "started":
            self._restart()  # the panel's Planned gives the bar its total
        else:
            self.close()
            self.say(f"{where}: {event.result.iterations} iterations, "
                     f"{event.result.seconds:.1f} s")

    def _restart(self, iterations: int = 0):
        self.close()
        self.total, self.offset, self.scale = iterations, 0, "scale 1"

    def say(self, text: str):
        if self.frame is not None:
            self.close()  # a video's line stands between its frames' bars
        super().say(text)


STYLES = {"done": "green", "skipped": "dim", "failed": "red", "interrupted": "yellow"}


class JobsProgress(_Bar):
    """A batch: jobs done out of total, the running jobs' iterations, one
    line per finished job, and the summary table at the end."""

    def __init__(self, quiet: bool = False):
        super().__init__(quiet)
        self._iterations = {}
        self._count, self._engine = 0, "local"

    handlers = {JobsPlanned: "_planned", JobProgress: "_progress", JobFinished: "_finished",
                Say: "said"}

    def _planned(self, event: JobsPlanned):
        self._count, self._engine = event.count, event.engine

    def _progress(self, event: JobProgress):
        self._start()
        # The running jobs as they stand: one that stopped running leaves.
        self._iterations = {k: v for k, v in self._iterations.items() if k in event.iterations}
        self._iterations.update(event.iterations)
        self._show()

    def _start(self):
        if not self.quiet and self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

            label = "tfstyle batch" + (" (ray)" if self._engine == "ray" else "")
            self._open(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("jobs  {task.fields[running]}"), total=self._count, running="")

    def _finished(self, event: JobFinished):
        from rich.markup import escape

        self._start()
        self._iterations.pop(event.job_id, None)
        # Escaped: an error may hold brackets ("[Op:Conv2D]", a path) that
        # are not markup; unwrapped: one line per job, however long.
        line = (f"[{STYLES[event.status]}]{event.status:>11}[/] "
                f"{escape(event.job_id)}  {event.seconds:.1f} s  {escape(event.detail)}")
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.console.print(line, soft_wrap=True)
            self._show()
        elif event.status == "failed":  # --quiet hides progress, not failures
            self.console.print(line, soft_wrap=True)

    def _show(self):
        if self._bar is None:
            return
        running = ", ".join(f"{k} it {v}" for k, v in list(self._iterations.items())[:3] if v)
        self._bar.update(self._task, running=f"running: {running}" if running else "")

    def table(self, record):
        """The summary: done, skipped, failed, seconds, on stdout (the
        command's result; progress and errors go to stderr)."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"tfstyle batch ({record['engine']}) -> {record['outdir']}")
        for heading in ("done", "skipped", "failed", "interrupted", "job seconds", "wall seconds"):
            table.add_column(heading, justify="right")
        summary = record["summary"]
        table.add_row(*(str(summary[k]) for k in ("done", "skipped", "failed", "interrupted")),
                      f"{summary['seconds']:.1f}", f"{record['seconds']:.1f}")
        Console().print(table)
