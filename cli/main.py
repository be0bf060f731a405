"""The `tfstyle` command line: the entry point and the one place where
exceptions become exit codes.

    tfstyle transfer photo.jpg painting.jpg -o out.png --weights random
    python -m tfstyle demo -o demo/

Exit codes: 0 done; 2 a problem the user can fix (one line on stderr);
130 interrupted (Ctrl-C) and 143 terminated (SIGTERM), with the best image
so far written; 3 `batch` ran, but some of its jobs failed (batch.json and
the summary name each); 1 an internal error.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

import typer

from tfstyle.errors import ConfigError, Interrupted, TfstyleError

# Each command module adds its commands to `app` when imported.
from . import (batch, bench, demo, doctor, export, normalize, paper, quality, transfer, ui,  # noqa: F401
               video)
from .app import app, on_sigint, on_sigterm, option_name, received

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"tfstyle: warning: {' '.join(str(message).split())}\n")


def main(argv=None) -> int:
    """Console entry point: exceptions become one stderr line and an exit code."""
    from tfstyle.io.images import ImageWarning

    # Our own warnings (a dropped GIF frame) are one line each; the
    # libraries' deprecation chatter is not the user's business.
    warnings.simplefilter("ignore")
    warnings.simplefilter("always", ImageWarning)
    warnings.showwarning = _show_warning
    from tfstyle.workflows import stopping

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigint)
    received["signal"] = None
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)

    def work():
        return command.main(args=args, prog_name="tfstyle", standalone_mode=False)
    try:
        # The page serves from its own threads; every other command runs in a
        # worker, so that a signal is answered within seconds (tfstyle.workflows.stopping).
        code = work() if args[:1] == ["ui"] else stopping.run_in_worker(work)
    except stopping.Stuck:
        _exit_stuck(stopping.saved())
    except typer.TyperException as error:  # typer's usage and parameter errors
        if type(error).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(error.format_message() + "\n")
            return EXIT_USAGE
        return _fail(error.format_message(), getattr(error, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    except Interrupted as stop:  # the run saved its best image, then stopped
        return _interrupted(str(stop))
    except ConfigError as error:
        message = error.message if not error.option else \
            f"{option_name(error.option)}: {error.message}"
        return _fail(message, EXIT_USAGE)
    except TfstyleError as error:
        return _fail(str(error), EXIT_USAGE)
    except MemoryError:
        return _fail("out of memory; try a smaller --max-size or --scales", EXIT_INTERNAL)
    except OSError as error:  # a full disk, say: the run kept what it could
        return _fail(f"{type(error).__name__}: {error}", EXIT_INTERNAL)
    except (typer.Abort, KeyboardInterrupt):
        # click turns interrupts (our SIGTERM one too) into Abort.
        return _interrupted("")
    except Exception as error:  # a bug: one line, the traceback on request
        if os.environ.get("TFSTYLE_DEBUG"):
            raise
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow out of memory
            return _fail("out of memory on the device; try a smaller --max-size, --tile-size "
                         "or --device-memory-limit", EXIT_INTERNAL)
        return _fail(f"internal error: {type(error).__name__}: {error} "
                     "(run with TFSTYLE_DEBUG=1 for the traceback)", EXIT_INTERNAL)
    if received["signal"] is not None:  # it came as the work ended: what was done is kept
        return _interrupted("")
    return code if isinstance(code, int) else 0


def _exit_stuck(said: list):
    """The worker is inside a long TensorFlow op, and waiting for it is what
    the signal asked not to do; the savers wrote what it had. Exit now."""
    code = _interrupted(
        "mid-evaluation; the last iterate and its record are written" if "written" in said
        else "after the result was written" if "final" in said
        else "before the first iterate; nothing to keep yet" if None in said or not said
        else "mid-evaluation; the last checkpoint is kept")
    sys.stderr.flush()
    os._exit(code)


def _interrupted(detail: str) -> int:
    """Said even with --quiet: the user should know where the work went."""
    terminated = received["signal"] == signal.SIGTERM
    word = "terminated" if terminated else "interrupted"
    sys.stderr.write(f"tfstyle: {word}{' ' + detail if detail else ''}\n")
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"tfstyle: error: {' '.join(message.split())}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
