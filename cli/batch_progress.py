"""Progress of a batch on stderr: jobs done out of total, the running jobs'
iterations, one line per finished job, and the summary table at the end."""

from __future__ import annotations

from tfstyle.workflows.batch import Report

STYLES = {"done": "green", "skipped": "dim", "failed": "red", "interrupted": "yellow"}


class BatchProgress(Report):
    def __init__(self, quiet: bool = False):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self._bar = None
        self._iterations = {}

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
            self._bar = None
        return False

    def planned(self, jobs):
        self._count = len(jobs)

    def _start(self):
        """The bar appears with the first job, so errors before stay one line."""
        if self.quiet or self._bar is not None:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(TextColumn("[bold]tfstyle batch"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("jobs  {task.fields[running]}"), console=self.console)
        self._bar.__enter__()
        self._task = self._bar.add_task("jobs", total=self._count, running="")

    def started(self, job):
        self._start()
        self._iterations.setdefault(job.id, 0)

    def iterate(self, job, iterate):
        self._iterations[job.id] = iterate.iteration
        self._show()

    def running(self, iterations):
        self._iterations = {k: v for k, v in self._iterations.items() if k in iterations}
        self._iterations.update(iterations)
        self._show()

    def finished(self, outcome):
        self._start()
        self._iterations.pop(outcome["id"], None)
        from rich.markup import escape

        # Escaped: an error may hold brackets ("[Op:Conv2D]", a path) that
        # are not markup; unwrapped: one line per job, however long.
        detail = escape(outcome.get("error") or outcome.get("reason") or "")
        line = (f"[{STYLES[outcome['status']]}]{outcome['status']:>11}[/] "
                f"{escape(outcome['id'])}  {outcome['seconds']:.1f} s  {detail}")
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.console.print(line, soft_wrap=True)
            self._show()
        elif outcome["status"] == "failed":  # --quiet hides progress, not failures
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
