"""`tfstyle ui`: serve the web page (tfstyle.workflows.ui) until Ctrl-C."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys

import typer

from tfstyle.errors import ConfigError
from tfstyle.io.images import DEFAULT_MAX_PIXELS

from .app import app
from .quiet import start_tensorflow


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", help="Address to serve on; 0.0.0.0 serves every network."),
    port: int = typer.Option(7860, min=1, max=65535, help="Port to serve on."),
    weights: str = typer.Option("imagenet", help="Weights the page offers beside procedural and random: imagenet "
                                                 "(when it can be had) or a weights file."),
    share: bool = typer.Option(False, help="A public gradio.live link (needs the internet)."),
    auth: str = typer.Option(None, help="user:password that the page asks for."),
    concurrency: int = typer.Option(1, min=1, help="Runs at once; later visitors queue."),
    max_size: int = typer.Option(1024, min=32, help="Largest output size a visitor may ask for, px."),
    max_iterations: int = typer.Option(1000, min=1, help="Most iterations a visitor may ask for."),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, min=1, help="Refuse uploads with more pixels."),
    keep_results: str = typer.Option("1h", help="How long a visitor's results are kept after their last "
                                                "download or the end of their session, whichever is later: "
                                                "seconds, or a number with s, m, h or d."),
    max_results_gb: float = typer.Option(2.0, min=0.0, help="Cap on the results' total size, Gradio's copies "
                                                            "included; the oldest finished ones go first."),
):
    """A web page for style transfer (Gradio): upload, watch it form, download."""
    from tfstyle.workflows.ui import Limits, Studio, available_weights, build_app, launch

    credentials = _credentials(auth)
    keep_seconds = _duration("--keep-results", keep_results)
    _check_port(host, port)
    if not credentials and not _loopback(host):
        sys.stderr.write(f"tfstyle: warning: --host {host} serves the UI to other machines with "
                         "no authentication; add --auth user:password\n")
    start_tensorflow()
    choices, note = available_weights(weights)
    studio = Studio(choices, Limits(max_size, max_iterations, max_pixels),
                    keep_seconds=keep_seconds, max_results_bytes=max_results_gb * 1e9)
    try:
        page = build_app(studio, concurrency=concurrency)
        print(f"tfstyle ui: {note}", file=sys.stderr)
        print(f"tfstyle ui: serving on http://{host}:{port} (Ctrl-C to stop)", file=sys.stderr,
              flush=True)
        launch(page, host=host, port=port, share=share, auth=credentials)
    finally:  # the results were only ever this server's to serve
        studio.close()


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(option: str, text: str) -> float:
    """Seconds from "90", "90s", "30m", "1h" or "2d"."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in UNITS else (text, "s")
    try:
        seconds = float(number) * UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(None, f"{option}: expected seconds, or a number with s, m, h or d "
                                f"(e.g. 1h), received {text!r}")
    return seconds


def _credentials(auth: str | None):
    if auth is None:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or not password:
        raise ConfigError(None, f"--auth: expected user:password, received {auth!r}")
    return (user, password)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int):
    """Refuse a port in use before Gradio starts (it would search for another)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
            raise ConfigError(None, f"port {port} on {host} {reason}; choose another with "
                                    "--port") from None
