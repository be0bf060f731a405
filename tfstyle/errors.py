"""The exceptions tfstyle raises for problems a user can fix.

Each carries a one-line message that names the bad file or option; the CLI
prints it as is and exits with code 2. `Interrupted`, a stop and not a
problem, stands apart.
"""

from __future__ import annotations


class TfstyleError(Exception):
    """Base class: a problem with the user's input, options or environment."""


class ImageError(TfstyleError):
    """An image file is missing, unreadable, too large or too small."""


class WeightsError(TfstyleError):
    """VGG19 weights cannot be found, downloaded or loaded."""


class ConfigError(TfstyleError, ValueError):
    """An option has a bad value. `option` is the StyleConfig field name (or
    None when the trouble lies in a combination of inputs and options)."""

    def __init__(self, option: str | None, message: str):
        super().__init__(f"{option}: {message}" if option else message)
        self.option = option
        self.message = message


class OutputError(TfstyleError):
    """An output path cannot be written."""


class NonFiniteLossError(TfstyleError):
    """The loss or its gradient became NaN or infinite during optimisation."""


class RecordError(TfstyleError):
    """A run record (OUT.json) is missing, unreadable or not tfstyle's."""


class Interrupted(BaseException):
    """A run was stopped by Ctrl-C or SIGTERM after its best image was saved.

    Not an error, so not a TfstyleError nor an Exception: a handler that
    records a failure (`except TfstyleError`, `except Exception`: a batch's
    job, the page's run) must let a stop through as a stop. Not a
    KeyboardInterrupt either: click turns those into a bare exit 130, and
    this one carries the message the CLI prints (cli/main.py maps it to
    exit 130 or 143). A run that hears it mid-way saves as interrupted,
    as for Ctrl-C.
    """


def one_line(error: BaseException, limit: int | None = None) -> str:
    """An exception as one line, for stderr, a record or a table: its message
    with line breaks and runs of spaces collapsed (cut at `limit` characters),
    prefixed by its type unless it is tfstyle's own, whose messages are
    written to stand alone; its type's name alone when it says nothing."""
    text = " ".join(str(error).split())
    if limit is not None and len(text) > limit:
        text = text[:limit - 3] + "..."
    if isinstance(error, TfstyleError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
