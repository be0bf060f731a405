"""Stopping a run at once, whatever it is doing, without losing its work.

Python runs a signal handler only in the main thread, and only between two
bytecodes: a Ctrl-C or SIGTERM that arrives while TensorFlow evaluates a
3072 px print waits for the evaluation, minutes, and Kubernetes sends
SIGKILL 30 s after SIGTERM. So `run_in_worker` runs the work in a worker
thread and keeps the main thread free to answer:

- the stop is passed on to the worker as the same KeyboardInterrupt a
  signal raises (PyThreadState_SetAsyncExc), which the run handles as ever:
  the drivers end with their best point, the workflow writes it;
- while the worker writes its final files (`held`), the stop waits until
  they are whole;
- if the worker has not ended `grace` seconds later (it is inside a long
  TensorFlow op), the main thread calls the savers the running workflows
  registered (`saver`), which write the last iterate and a record that says
  where the run stood, and raises `Stuck`; the caller then exits at once.
  The grace period does not run out while the worker writes its final
  files: they are what the stop asked for;
- the stop is passed on once: a second Ctrl-C only ends the grace period
  sooner (a second interrupt in the worker would land in the very handler
  that writes the first one's files).

Called from the main thread with no worker (a notebook), `held` ignores
SIGINT and SIGTERM while the files are written, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time

GRACE_SECONDS = 5.0  # then the savers run: the answer comes within 10 s

_lock = threading.RLock()
_state = {"worker": None, "holds": 0, "pending": None, "finished": False, "saved": []}
# While the final files are written the wait goes on, but not for ever (a
# hung file system): at most this many grace periods.
HELD_GRACES = 6
_savers: list = []


class Stuck(KeyboardInterrupt):
    """The worker did not end within the grace period; the savers wrote what
    it had. The process should exit now, without waiting for the worker."""


def run_in_worker(work, grace: float = GRACE_SECONDS):
    """work() in a worker thread, this thread answering signals; its value,
    or its exception raised here."""
    outcome: dict = {}
    ended = threading.Event()

    def target():
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the main thread as it is
            outcome["error"] = error
        finally:
            ended.set()

    worker = threading.Thread(target=target, name="tfstyle-run", daemon=True)
    with _lock:
        _state.update(worker=worker, holds=0, pending=None, finished=False, saved=[])
    worker.start()
    deadline = stopped = None
    try:
        # A plain sleep, not Thread.join: an interrupt inside join leaves the
        # thread marked as ended while it still runs (CPython 3.11).
        while not ended.is_set() and worker.is_alive():
            try:
                time.sleep(0.05)
                if deadline is not None and _state["holds"] and \
                        time.monotonic() < stopped + HELD_GRACES * grace:
                    deadline = time.monotonic() + grace  # final files being written
                if deadline is not None and time.monotonic() > deadline:
                    raise Stuck()
            except Stuck:
                _saving()
                raise
            except KeyboardInterrupt as stop:  # the signal handler raised it here
                if deadline is None:
                    stopped = time.monotonic()
                    deadline = stopped + grace
                    _deliver(worker, type(stop))
                else:  # a second stop: no more waiting
                    deadline = time.monotonic()
    finally:
        with _lock:
            _state.update(worker=None, finished=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def should_raise() -> bool:
    """Whether a signal handler should raise its interrupt: not once the
    worker's work has ended (the main thread then only reads what came)."""
    return not _state["finished"]


def _deliver(worker: threading.Thread, kind):
    with _lock:
        if _state["holds"]:
            _state["pending"] = kind  # raised when the files are whole
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                                   ctypes.py_object(kind))


def _saving():
    """Call every saver with SIGINT and SIGTERM ignored: a third Ctrl-C must
    not cut the files the first one asked for. Returns whether any saver
    wrote something; the process is to exit after this."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    outcomes = []
    for save in list(_savers):
        try:
            outcomes.append(save())
        except Exception:  # one saver's failure must not stop the others
            outcomes.append("failed")
    _state["saved"] = outcomes
    return "written" in outcomes


def saved() -> list:
    """What the savers of a Stuck run said: "written", "final" (the result
    was written already), "failed", or None (nothing to write yet)."""
    return list(_state["saved"])


@contextlib.contextmanager
def held():
    """A stop waits while the body runs: for writing the final files."""
    worker = _state["worker"]
    if worker is None and threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return
    counted = False
    try:
        with _lock:
            _state["holds"] += 1
            counted = True
        yield
    finally:
        with _lock:
            _state["holds"] -= counted  # an interrupt before the count leaves it as it was
            pending = _state["pending"] if not _state["holds"] else None
            if pending is not None:
                _state["pending"] = None
        if pending is not None and threading.current_thread() is worker:
            raise pending()


@contextlib.contextmanager
def saver(save):
    """Register `save()` for the length of the body: what a stuck worker's
    run writes when the main thread cannot wait for it."""
    _savers.append(save)
    try:
        yield
    finally:
        _savers.remove(save)
