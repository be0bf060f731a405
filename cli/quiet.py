"""Keep TensorFlow's native start-up chatter off the user's terminal.

TensorFlow's C++ core prints oneDNN and CUDA notices on stderr when it is
imported and when it first looks for devices, before any log level applies.
The CLI promises one line on stderr per error, so those notices are
swallowed at the file-descriptor level while TensorFlow starts; whatever was
printed is shown if the start itself fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow():
    """Import TensorFlow and initialise its devices with the notices hidden."""
    with native_stderr_captured():
        import tensorflow as tf

        from tfstyle.core.device import configure_gpus

        configure_gpus()
        # TF's Python-side notices (retracing hints) are for library users.
        tf.get_logger().setLevel("ERROR")
        tf.constant(0.0).numpy()  # the first op initialises the runtime
