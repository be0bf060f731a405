"""The page's files and their end, so that `tfstyle ui` can serve for days.

Every run writes into a folder of its own under one root, beside Gradio's
own cache (the visitors' uploads and Gradio's copies of the results and
previews). A finished run's folder is deleted `keep_seconds` after the
visitor's last download or the end of their session, whichever is later.
Gradio's copies of results and previews go `keep_seconds` after they were
made. While the total passes `max_bytes`, the oldest finished results go
first, then Gradio's oldest files. A running run, the uploads it reads, and the
uploads Gradio still holds for the queue (its own `delete_cache` ends them
after the keep time) are never deleted; nor is a file Gradio made in the
last `settle_seconds`, which a visitor is about to fetch: the cap is met
within that time.

    results = Results(root, keep_seconds=3600, max_bytes=2e9)
    folder = results.start("session", inputs=[photo, painting])
    ...                                  # the run writes into folder
    results.finish(folder)
    results.session_ended("session")     # Gradio's unload
    results.sweep()                      # what start_sweeping's thread does

The clock is an argument, so the tests move time on without sleeping.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.files import folder_bytes

log = logging.getLogger("tfstyle.workflows.ui")


@dataclass
class Kept:
    """One run's folder: whose it is and the times that decide its end."""
    session: str
    inputs: tuple = ()  # the uploads it reads while it runs (in Gradio's cache)
    running: bool = True
    used: float = 0.0  # its end, or the visitor's last download since
    ended: float | None = None  # the end of the visitor's session

    def expired(self, now: float, keep: float) -> bool:
        # A session that has not ended may still download: it keeps its
        # results, up to the cap.
        return (not self.running and self.ended is not None
                and now - max(self.used, self.ended) >= keep)


class Results:
    """The run folders under `root`/runs and Gradio's cache (`root`/gradio
    unless `use_cache` names another), with their keep time and their cap.
    Every method may be called from any thread."""

    def __init__(self, root, keep_seconds: float = 3600.0, max_bytes: float = 2e9,
                 clock=time.time, settle_seconds: float = 10.0):
        self.root = Path(root).absolute()
        self.runs = self.root / "runs"
        self.cache = self.root / "gradio"
        self.keep_seconds, self.max_bytes, self.clock = keep_seconds, max_bytes, clock
        self.settle_seconds = settle_seconds
        self._kept: dict[Path, Kept] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sweeper: threading.Thread | None = None
        # The uploads Gradio holds: a run waiting in the queue has not
        # started, so nothing else says its photo is still to be read.
        self.uploads = tuple

    def use_cache(self, folder) -> Path:
        """Count and sweep Gradio's cache in `folder` (GRADIO_TEMP_DIR)."""
        self.cache = Path(folder).absolute()
        return self.cache

    def start(self, session: str, inputs=()) -> Path:
        """A new folder for a run of `session` that reads `inputs`."""
        self.runs.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=self.runs))
        kept = Kept(session, tuple(str(Path(p).absolute()) for p in inputs), used=self.clock())
        with self._lock:
            self._kept[folder] = kept
        return folder

    def finish(self, folder: Path):
        """The run in `folder` has ended: from now on it may be deleted."""
        with self._lock:
            kept = self._kept.get(Path(folder))
            if kept is not None:
                kept.running, kept.used = False, self.clock()

    def downloaded(self, session: str):
        """The visitor downloaded a result: theirs live on from now."""
        self._mark(session, "used")

    def session_ended(self, session: str):
        """The visitor left (closed or reloaded the page, or the API client closed)."""
        self._mark(session, "ended")

    def _mark(self, session: str, when: str):
        now = self.clock()
        with self._lock:
            for kept in self._kept.values():
                if kept.session == session:
                    setattr(kept, when, now)

    def folders(self) -> dict[Path, Kept]:
        """The run folders kept now, by folder (a copy)."""
        with self._lock:
            return dict(self._kept)

    def total_bytes(self) -> int:
        """What the results and Gradio's cache hold on disk."""
        inside = self.cache == self.root or self.root in self.cache.parents
        return folder_bytes(self.root) + (0 if inside else folder_bytes(self.cache))

    def sweep(self) -> list[Path]:
        """Delete the expired results, then, while over the cap, the oldest
        finished results and Gradio's oldest files; returns what went."""
        now = self.clock()
        with self._lock:
            expired = [f for f, k in self._kept.items() if k.expired(now, self.keep_seconds)]
        gone = [f for f in expired if self._delete(f) is not None]
        gone += self._evict_cache(math.inf, older_than=time.time() - self.keep_seconds)
        over = self.total_bytes() - self.max_bytes
        for folder in self._oldest_finished() if over > 0 else ():
            freed = self._delete(folder)
            if freed is not None:
                gone.append(folder)
                over -= freed
            if over <= 0:
                break
        if over > 0:
            gone += self._evict_cache(over)
        _prune_empty(self.cache)
        return gone

    def _oldest_finished(self) -> list[Path]:
        # Not one that ended in the last settle_seconds: its result is being
        # handed to the visitor (Gradio copies it after the sweep), so the cap
        # is met within that time, as for Gradio's own files.
        settled = self.clock() - self.settle_seconds
        with self._lock:
            finished = [(k.used, f) for f, k in self._kept.items()
                        if not k.running and k.used <= settled]
        return [folder for _, folder in sorted(finished)]

    def _delete(self, folder: Path) -> int | None:
        """Remove a finished run's folder; its bytes, or None if it is running."""
        with self._lock:
            kept = self._kept.get(folder)
            if kept is None or kept.running:
                return None
            del self._kept[folder]
        size = folder_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)
        return size

    def _evict_cache(self, over: float, older_than: float = math.inf) -> list[Path]:
        """Gradio's oldest files until `over` bytes are freed, none made
        after `older_than` (the file system's clock) or in the last
        settle_seconds, nor an upload a run may read."""
        with self._lock:
            reading = {p for k in self._kept.values() if k.running for p in k.inputs}
        reading.update(str(Path(p).absolute()) for p in self.uploads())
        # By ctime, as delete_cache ages them: Gradio's copies keep their
        # source's mtime. The files' own times are the file system's clock.
        settled = min(older_than, time.time() - self.settle_seconds)
        files = []
        for path, _, names in os.walk(self.cache):
            for name in names:
                with contextlib.suppress(OSError):
                    stat = os.lstat(os.path.join(path, name))
                    files.append((stat.st_ctime, os.path.join(path, name), stat.st_size))
        gone = []
        for made, path, size in sorted(files):
            if over <= 0 or made > settled:
                break
            if path in reading:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                gone.append(Path(path))
                over -= size
        return gone

    def start_sweeping(self, every: float):
        """Sweep every `every` seconds in a daemon thread, until `close`."""
        def sweeper():
            while not self._closing.wait(every):
                try:
                    self.sweep()
                except Exception:  # the page keeps serving; the log says why
                    log.exception("tfstyle ui: sweeping the results failed")

        if self._sweeper is None:
            self._sweeper = threading.Thread(target=sweeper, name="tfstyle-ui-sweeper",
                                             daemon=True)
            self._sweeper.start()

    def close(self, remove: bool = False):
        """Stop sweeping; with `remove`, delete the root unless a run still
        writes there."""
        self._closing.set()
        if self._sweeper is not None:
            self._sweeper.join()
        with self._lock:
            running = any(k.running for k in self._kept.values())
        if remove and not running:
            shutil.rmtree(self.root, ignore_errors=True)


def _prune_empty(folder: Path, settle: float = 60.0):
    """Remove the empty folders Gradio leaves behind (one per cached file);
    not one made in the last `settle` seconds, which Gradio may be about to
    write into."""
    young = time.time() - settle
    for path, _, _ in os.walk(folder, topdown=False):
        with contextlib.suppress(OSError):  # not empty, or gone
            if path != str(folder) and os.stat(path).st_mtime < young:
                os.rmdir(path)


def copy_of(changing: set) -> list:
    """A copy of a set that Gradio's threads change as it is read."""
    while True:
        try:
            return list(changing)
        except RuntimeError:  # changed size during the copy: again
            continue
