"""Fault injection by event, for the tests of "never lose work".

A test sets `TFSTYLE_FAULT=EVENT:K[:ACTION]` in a run's environment; at the
K-th time the run reaches EVENT (counted from 1, in this process), the fault
happens. Moments chosen by events reproduce on every CPU, where wall-clock
kills do not.

Events (each named where the code reaches it):
  iteration   an accepted iterate, after the callback saw it
  checkpoint  a checkpoint written (image and record on disk)
  scale       a scale about to start, before its targets are encoded
  tile        one tile of a tiled evaluation done
  write       the final image about to be written
  quality     the quality numbers about to be measured
  frame       a video frame finished and written
  job         a batch job about to start
  encode      the final video about to be encoded

Actions: KILL, TERM or INT (a signal to this process; the default is KILL);
OSError / MemoryError (raised where the event is reached, as a full disk
or an exhausted device would); or STALL (sleep for ten minutes where the
event is reached: like a TensorFlow op that takes minutes, a sleep in a
worker thread cannot be interrupted, so it shows how long a stop takes).

Unset, `reached` costs a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import time

EVENTS = ("iteration", "checkpoint", "scale", "tile", "write", "quality", "frame", "job",
          "encode")
_SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "INT": signal.SIGINT}
_ERRORS = {"OSError": lambda: OSError(28, "No space left on device (injected)"),
           "MemoryError": lambda: MemoryError("injected")}

_counts: dict[str, int] = {}


def _spec():
    text = os.environ.get("TFSTYLE_FAULT", "")
    if not text:
        return None
    event, _, rest = text.partition(":")
    count, _, action = rest.partition(":")
    action = action or "KILL"
    if event not in EVENTS or not count.isdigit() or action not in (*_SIGNALS, *_ERRORS,
                                                                    "STALL"):
        raise ValueError(f"TFSTYLE_FAULT={text!r}: expected EVENT:K[:ACTION] with EVENT one of "
                         f"{', '.join(EVENTS)} and ACTION one of "
                         f"{', '.join((*_SIGNALS, *_ERRORS, 'STALL'))}")
    return event, int(count), action


def reached(event: str):
    """Count `event`; at the configured count, make the fault happen."""
    spec = _spec()
    if spec is None or spec[0] != event:
        return
    _counts[event] = _counts.get(event, 0) + 1
    if _counts[event] != spec[1]:
        return
    action = spec[2]
    if action in _ERRORS:
        raise _ERRORS[action]()
    if action == "STALL":
        time.sleep(600)
        return
    os.kill(os.getpid(), _SIGNALS[action])
    if action == "KILL":  # never returns; wait for the kernel
        signal.pause()
