"""Shared fixtures: a tiny stand-in extractor, small images, one VGG19 per
weights source for the session, and the `tfstyle` command run in this
process (`cli`) or, where the process itself is the subject, in a fresh one
(`cli_process`)."""

import os
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One BLAS thread (set before NumPy loads OpenBLAS): L-BFGS-B's vector
# updates are too small to share, and OpenBLAS's spinning threads cost the
# optimising tests several times their time on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# --jit auto remembers its choices; the tests keep theirs apart from the
# user's cache, shared by this session (and the CLI processes it starts).
os.environ["TFSTYLE_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfstyle-test-cache-")

import numpy as np
import pytest
import tensorflow as tf


class TinyExtractor:
    """Two small conv layers under paper names, so loss and objective tests
    need no VGG: conv1_1 (3x3, 4 filters, ReLU) and conv2_1 (after a 2x2
    average pool, 3x3, 6 filters, ReLU). Same call protocol as
    FeatureExtractor: (images, layers) -> {name: (N, H, W, C)}.
    """

    weights_source = "tiny"

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.k1 = tf.constant(rng.normal(0, 0.1, (3, 3, 3, 4)), tf.float32)
        self.k2 = tf.constant(rng.normal(0, 0.3, (3, 3, 4, 6)), tf.float32)
        self.layers = ("conv1_1", "conv2_1")

    def __call__(self, images, layers=None):
        x = tf.convert_to_tensor(images, tf.float32) / 255.0 - 0.5
        f1 = tf.nn.relu(tf.nn.conv2d(x, self.k1, 1, "SAME") + 0.05)
        f2 = tf.nn.relu(tf.nn.conv2d(tf.nn.avg_pool2d(f1, 2, 2, "VALID"), self.k2, 1, "SAME") + 0.05)
        out = {"conv1_1": f1, "conv2_1": f2}
        return {n: out[n] for n in (layers or self.layers)}

    def check_size(self, height, width, layers=None):
        pass


@pytest.fixture
def tiny():
    return TinyExtractor()


def smooth_image(height, width, seed=0):
    """A smooth random RGB image in [0, 255] (sums of low-frequency waves)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for _ in range(3):
        a, b, c, d = rng.uniform(1, 6, 4)
        channels.append(np.sin(a * x + b) * np.cos(c * y + d))
    return ((np.stack(channels, -1) + 1) * 127.5).astype(np.float32)


def write_image(path, height, width, seed):
    """Save smooth_image(height, width, seed) as an 8-bit file; returns path."""
    from PIL import Image

    Image.fromarray(smooth_image(height, width, seed).astype(np.uint8)).save(path)
    return path


# One VGG19 per weights source ---------------------------------------------
#
# Building a VGG19 takes seconds (random filters ~1 s, procedural ~4 s), and
# tracing the objective over it more: each extractor has its own traced
# functions (steps.Steps). So every FeatureExtractor.for_config of the
# session with seeded weights (random, procedural) and the same pooling,
# seed, precision and depth gets the same network, as FeatureExtractor.shared
# does within one batch. Weights files are read as they are: a test may
# change one. A test that counts traces builds its own extractor.

SEEDED = ("random", "procedural")
_SHARED: dict = {}


def shared_extractor(weights="random", pooling="avg", seed=0, precision="float32", layers=None):
    """The session's FeatureExtractor for these settings, built once."""
    from tfstyle.core.extractor import FeatureExtractor
    from tfstyle.layers import CONV_LAYERS

    layers = tuple(layers) if layers else CONV_LAYERS
    key = (weights, pooling, seed, precision, layers)
    if key not in _SHARED:
        _SHARED[key] = FeatureExtractor(weights, pooling, seed, layers=layers, precision=precision)
    return _SHARED[key]


@pytest.fixture(scope="session", autouse=True)
def one_vgg19_per_weights_source():
    from tfstyle.core.extractor import FeatureExtractor

    build = FeatureExtractor.__dict__["for_config"]

    def for_config(cls, config, layers=None):
        if cls is not FeatureExtractor or config.weights not in SEEDED:
            return build.__func__(cls, config, layers)
        return shared_extractor(config.weights, config.pooling, config.seed, config.precision,
                                layers or config.layers)

    _BUILD.append(build)
    FeatureExtractor.for_config = classmethod(for_config)
    yield
    FeatureExtractor.for_config = build


_BUILD: list = []  # FeatureExtractor's own for_config


@pytest.fixture
def own_networks(monkeypatch):
    """For a test that counts traces: every network it asks for is built for
    it alone, and the per-process networks start empty."""
    from tfstyle.core.extractor import FeatureExtractor

    monkeypatch.setattr(FeatureExtractor, "for_config", _BUILD[0])
    monkeypatch.setattr(FeatureExtractor, "_shared", {})


@pytest.fixture(scope="session")
def vgg_random():
    return shared_extractor("random")


# The command line ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]

# What the tests pin unless a test is about them: float32, and no XLA (the
# race of --jit auto times both paths and compiles XLA: seconds per size).
PINNED = {"--jit": "off", "--precision": "float32"}
_OPTIONS: dict = {}


def _options(command: str) -> set:
    """The option names `tfstyle COMMAND` takes."""
    if not _OPTIONS:
        import typer

        import tfstyle_cli.main  # noqa: F401  (every command registers itself)
        from tfstyle_cli.app import app

        for name, cmd in typer.main.get_command(app).commands.items():
            _OPTIONS[name] = {o for p in cmd.params for o in p.opts}
    return _OPTIONS.get(command, set())


def pinned(args) -> list[str]:
    """args as strings, with PINNED's options after the command name where
    the command takes them and args do not set them."""
    args = [str(a) for a in args]
    if not args:
        return args
    extra = [x for flag, value in PINNED.items()
             if flag in _options(args[0]) and flag not in args for x in (flag, value)]
    return [args[0], *extra, *args[1:]]


def cli(*args, pin=True) -> int:
    """`tfstyle ARGS` in this process: its exit code, its output to capsys.

    TensorFlow is imported already and the session's networks are shared,
    so a small run costs its optimisation only. main() sets the signal
    handlers and the warning filters of a command-line process; they are
    put back afterwards."""
    from tfstyle_cli.main import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    filters, show = warnings.filters[:], warnings.showwarning
    try:
        return main(pinned(args) if pin else [str(a) for a in args])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        warnings.filters[:], warnings.showwarning = filters, show


def cli_process(*args, pin=True, env=None, cwd=ROOT, timeout=600):
    """`python -m tfstyle ARGS` in a fresh process, for tests whose subject
    is the process: signals, kills, its exit code, a fresh interpreter.
    env: variables to set on top of this process's (a value None unsets)."""
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "tfstyle",
                           *(pinned(args) if pin else map(str, args))],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=environment)


def cli_popen(*args, pin=True, env=None, cwd=ROOT):
    """The same, started and left running (stdout and stderr piped, text)."""
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.Popen([sys.executable, "-m", "tfstyle",
                             *(pinned(args) if pin else map(str, args))],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


@pytest.fixture
def offline(monkeypatch):
    """No network, and no waiting for one: every TCP connection is refused
    at once, as where the name does not resolve, so a test never depends on
    how long this machine's DNS takes to answer."""
    import socket

    def refused(address, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known ({address[0]})")

    monkeypatch.setattr(socket, "create_connection", refused)
