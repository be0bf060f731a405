"""`tfstyle ui`: a web page over the library, for people who do not use a
terminal. Gradio draws the page; every run is a `runs.TransferRun`, as under
`tfstyle transfer`, so the page and the CLI write the same files.

    studio = tfstyle.workflows.ui.Studio(weights=["random"])
    tfstyle.workflows.ui.launch(tfstyle.workflows.ui.build_app(studio), port=7860)

`Studio` holds what is not Gradio's: the limits this server sets, each
run in its own folder and with its own Stop, the results' keep time and cap
(tfstyle.workflows.ui_results), and the messages a visitor reads
(tfstyle.workflows.ui_updates makes those). `build_app` lays out the page
over it; API users call its endpoints "transfer" and "stop" (docs/page.md).
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

from ..config import COLOR_METHODS, INITS, OPTIMIZERS, POOLINGS, StyleConfig, field_help
from ..errors import ConfigError, TfstyleError
from ..events import Iterate, TileDone
from ..io.images import save_image
from .demo import demo_content, demo_style
from .ui_results import Results, copy_of
# available_weights stays a name of tfstyle.ui, as the README and the CLI use it.
from .ui_settings import OFFLINE, Limits, Settings, available_weights, default_strength  # noqa: F401
from .ui_updates import Update, as_uint8, drain, final_update, plain, progress_line

log = logging.getLogger("tfstyle.workflows.ui")

# StyleConfig fields under "Advanced", each shown with its own help text.
ADVANCED = ("content_layers", "style_layers", "tv_weight", "pooling", "optimizer", "scales",
            "seed")
CHOICES = {"pooling": POOLINGS, "optimizer": OPTIMIZERS}
# The page's fonts are the system's: Gradio's default theme fetches Google
# fonts, which an offline machine waits on.
FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO_FONTS = ["ui-monospace", "monospace"]
# Small results are shown filling the frame, not as a stamp in its middle.
CSS = "#preview img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated;}"
# Networks the page keeps built: a visitor's seed, layers or pooling builds
# another, and a page that kept every one would grow for as long as it served.
NETWORKS = 2
UPLOADS_KEPT = 3600.0  # s, the least time an upload waits for its run in the queue
# How long closing the page waits for its runs to stop and write their best
# images: a run stops at its next iteration, seconds at print sizes; within
# the 30 s Kubernetes (10 s Docker) gives a stopped container before SIGKILL.
CLOSE_SECONDS = 20.0


class Studio:
    """The runs of one server. Each run has a folder of its own and a Stop
    of its own; a visitor's Stop (a Gradio session's) ends that visitor's
    runs only. Results are kept `keep_seconds` after their last use, within
    `max_results_bytes` in all (see ui_results.Results; `clock` is its
    clock)."""

    def __init__(self, weights=OFFLINE, limits: Limits = Limits(), workdir=None,
                 preview_seconds: float = 0.5, keep_seconds: float = 3600.0,
                 max_results_bytes: float = 2e9, clock=time.time):
        self.weights = list(dict.fromkeys(weights))
        self.limits = limits
        self._own_workdir = workdir is None  # removed by close
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tfstyle-ui-")).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.results = Results(self.workdir, keep_seconds, max_results_bytes, clock)
        self.preview_seconds = preview_seconds
        # {run folder: (session, its Stop)}: keyed by run, so a session's
        # second run neither replaces nor removes its first run's Stop.
        self._stops: dict[Path, tuple[str, threading.Event]] = {}
        self._lock = threading.Lock()  # for _stops, changed by every visitor's thread
        self._network = threading.Lock()  # one network built at a time, and _networks
        self._networks: OrderedDict = OrderedDict()

    def demo_files(self) -> tuple[str, str]:
        """The built-in drawings as PNG files a visitor can pick."""
        folder = self.workdir / "demo"
        content, style = folder / "landscape.png", folder / "strokes.png"
        if not style.exists():
            folder.mkdir(exist_ok=True)
            save_image(content, demo_content(512))
            save_image(style, demo_style(512))
        return str(content), str(style)

    def stop(self, session: str) -> bool:
        """End `session`'s runs after their current iteration; the best image
        so far is written as each one's result. False when it has none."""
        with self._lock:
            stops = [event for owner, event in self._stops.values() if owner == session]
        for event in stops:
            event.set()
        return bool(stops)

    def close(self):
        """Stop every run and the sweeper; remove the folder Studio made."""
        with self._lock:
            stops = [event for _, event in self._stops.values()]
        for event in stops:
            event.set()
        # Each run ends at its next iteration and writes its best image and
        # record (its handler's finally); then the folder can go.
        deadline = time.monotonic() + CLOSE_SECONDS
        try:
            while self._stops and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:  # a second Ctrl-C still stops the sweeper
            self.results.close(remove=self._own_workdir)

    def run(self, session: str, photo, paintings, settings: Settings) -> Iterator[Update]:
        """One visitor's run: previews while it runs, then the result and
        its files; a problem the visitor can fix ends it with one line."""
        uploads = [p for p in [photo, *(paintings or [])] if p]
        try:
            if not photo:
                raise ConfigError(None, "upload a photo (or use the demo drawings)")
            if not paintings:
                raise ConfigError(None, "upload one or more paintings (or use the demo drawings)")
            if settings.weights not in self.weights:
                raise ConfigError("weights", f"{settings.weights!r} is not offered here; "
                                             f"choose {', '.join(self.weights)}")
            config = settings.config()
            self.limits.check(config)
            yield from self._run(session, photo, list(paintings), config)
        except TfstyleError as error:
            yield Update(status=f"⚠ {plain(error, uploads)}")
        except Exception as error:  # the server keeps serving; the log keeps the traceback
            log.exception("tfstyle ui: run failed")
            yield Update(status=f"⚠ internal error ({type(error).__name__}: "
                                f"{plain(error, uploads)}); the server log has the details")

    def _run(self, session, photo, paintings, config) -> Iterator[Update]:
        """The run in a worker thread; this generator hands its previews to
        the page as they come, then the result."""
        from .runs import TransferRun

        folder = self.results.start(session, inputs=[photo, *paintings])
        output = folder / f"{Path(photo).stem}-tfstyle.png"
        files = TransferRun(photo, paintings, output)
        stop = threading.Event()
        with self._lock:
            self._stops[folder] = (session, stop)
        previews: queue.Queue = queue.Queue()
        outcome: dict = {}
        worker = threading.Thread(target=self._work, name=f"tfstyle-ui-{session[:8]}",
                                  args=(files, config, self._callback(config, stop, previews),
                                        outcome), daemon=True)
        try:
            yield Update(status="loading the images and the network…")
            worker.start()
            yield from drain(worker, previews)
        finally:
            # A visitor who leaves mid-run ends the run too.
            stop.set()
            if worker.is_alive():
                worker.join()
            with self._lock:
                del self._stops[folder]
            self.results.finish(folder)
        self.results.sweep()  # a new result may pass the cap
        yield final_update(outcome, output)

    def _callback(self, config, stop: threading.Event, previews: queue.Queue):
        """The run's events as the page shows them: a preview at most every
        preview_seconds (and at the last iteration), a tiled evaluation's
        progress in the status line; False, which ends the run, after Stop."""
        # One clock for previews, one for tile lines: slow tiles must not
        # take every slot and starve the previews.
        last = {"preview": 0.0, "tile": 0.0}

        def callback(event):
            now = time.monotonic()
            if isinstance(event, TileDone) and now - last["tile"] >= self.preview_seconds:
                last["tile"] = now
                previews.put(Update(status=f"tile {event.tile} of {event.tiles}, pass "
                                           f"{event.step} of 2"))
            if not isinstance(event, Iterate):
                return None
            if now - last["preview"] >= self.preview_seconds \
                    or event.iteration == config.iterations:
                last["preview"] = now
                # Rendered here: the optimiser reuses its buffers once we return.
                previews.put(Update(status=progress_line(event, config.iterations),
                                    preview=as_uint8(event.image), iteration=event.iteration))
            return not stop.is_set()

        return callback

    def _work(self, files, config, callback, outcome: dict):
        """The worker thread: the run's result, or its error, into `outcome`."""
        try:
            extractor = self._extractor(config)
            outcome["result"] = files.run(config, callback=callback,
                                          max_pixels=self.limits.max_pixels,
                                          extractor=extractor)
        except BaseException as error:  # handed to the page by final_update
            outcome["error"] = error


    def _extractor(self, config):
        """The network `config` asks for, built once while it is among the
        NETWORKS last used (FeatureExtractor.shared would keep every one)."""
        from ..core.extractor import FeatureExtractor

        key = (config.weights, config.pooling, config.seed, config.precision, config.layers)
        with self._network:
            if key not in self._networks:
                self._networks[key] = FeatureExtractor.for_config(config)
            self._networks.move_to_end(key)
            while len(self._networks) > NETWORKS:
                self._networks.popitem(last=False)
            return self._networks[key]


# The page -------------------------------------------------------------

def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        import gradio
    except ImportError:
        raise TfstyleError("the web UI needs Gradio: pip install 'tfstyle[ui]'") from None
    return gradio


def _control(gr, name: str):
    """A StyleConfig field as a control, labelled by its option name and
    explained by its own help text."""
    default = getattr(StyleConfig(), name)
    label, info = "--" + name.replace("_", "-"), field_help(name)
    if name in CHOICES:
        return gr.Radio(list(CHOICES[name]), value=default, label=label, info=info)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return gr.Number(value=default, label=label, info=info,
                         precision=0 if isinstance(default, int) else None)
    text = ",".join(str(v) for v in default) if isinstance(default, tuple) else default or ""
    return gr.Textbox(value=text, label=label, info=info)


def build_app(studio: Studio, concurrency: int = 1):
    """The Gradio Blocks of the page; launch it with `launch`. Gradio's
    cache is the GRADIO_TEMP_DIR of this process, set to the Studio's folder,
    and is swept with the results."""
    # Set before any block exists: each reads its cache folder when made.
    # Always the page's own folder, even over a GRADIO_TEMP_DIR set before:
    # the sweep deletes what it finds there, so it must hold nothing else.
    os.environ["GRADIO_TEMP_DIR"] = str(studio.results.cache)
    cache = studio.results.cache
    gr = _gradio()
    keep = studio.results.keep_seconds
    every = max(1.0, min(60.0, keep / 2))  # a result outlives its keep time by at most this
    # Gradio's own sweep (delete_cache) ages every file of its cache from its
    # making, so it is left the uploads only, which a run still queued may
    # read: after UPLOADS_KEPT at least. ui_results ages the copies of the
    # results and previews, and keeps the cap.
    with gr.Blocks(title="tfstyle", analytics_enabled=False,
                   delete_cache=(every, max(keep, UPLOADS_KEPT))) as app:
        gr.Markdown("# tfstyle\nYour photo in a painting's style (Gatys, Ecker and Bethge, "
                    "*A Neural Algorithm of Artistic Style*).")
        with gr.Row():
            with gr.Column():
                page = _settings_column(gr, studio)
            with gr.Column():
                page.update(_result_column(gr))
        _connect(gr, studio, page, concurrency)
        # The end of a session (a closed tab, a closed API client) starts
        # its results' keep time.
        app.unload(_session_hook(gr, studio.results.session_ended))
    app.queue(default_concurrency_limit=concurrency)
    cache.mkdir(parents=True, exist_ok=True)
    studio.results.uploads = lambda: copy_of(app.upload_file_set)
    studio.results.start_sweeping(every)
    return app


def _session_hook(gr, hook):
    """A Gradio handler calling hook(the visitor's session)."""
    def handler(request: gr.Request):
        hook(request.session_hash)

    handler.__annotations__["request"] = gr.Request  # see _connect
    return handler


def _settings_column(gr, studio: Studio) -> dict:
    """The uploads, the controls (by Settings field) and Run and Stop."""
    limits = studio.limits
    photo = gr.File(label="Photo", type="filepath", elem_id="photo")
    paintings = gr.File(label="Paintings (one or more)", file_count="multiple",
                        type="filepath", elem_id="paintings")
    demo = gr.Button("Use the demo drawings", size="sm")
    size = gr.Slider(32, limits.max_size, value=min(256, limits.max_size), step=16,
                     label="Output size (longest side, px)", elem_id="size")
    iterations = gr.Slider(1, limits.max_iterations,
                           value=min(200, limits.max_iterations), step=1,
                           label="Iterations", elem_id="iterations")
    strength = gr.Slider(0, 10, value=default_strength(studio.weights[0]), step=0.25,
                         label="Style strength: log10(beta/alpha)",
                         info="The paper's Fig. 2 uses 3 and 4 with ImageNet "
                              "weights; procedural and random weights need about 6.")
    preserve = gr.Radio(["off", *COLOR_METHODS], value="off",
                        label="Keep the photo's colours",
                        info=field_help("preserve_color"))
    style_scale = gr.Slider(0.25, 2.0, value=1.0, step=0.05, label="Style scale",
                            info=field_help("style_scale"))
    init = gr.Radio(list(INITS), value="content", label="Start from",
                    info="content (the photo; fastest), noise (the paper's) or style")
    weights = gr.Dropdown(studio.weights, value=studio.weights[0],
                          label="VGG19 weights", visible=len(studio.weights) > 1)
    with gr.Accordion("Advanced", open=False):
        advanced = [_control(gr, name) for name in ADVANCED]
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id="run")
        stop = gr.Button("Stop", variant="stop", elem_id="stop")
    controls = {"size": size, "iterations": iterations, "strength": strength,
                "preserve_color": preserve, "style_scale": style_scale, "init": init,
                "weights": weights}
    return {"photo": photo, "paintings": paintings, "demo": demo, "controls": controls,
            "advanced": advanced, "run": run, "stop": stop}


def _result_column(gr) -> dict:
    """The result as it forms, the status line, the files and the loss plot."""
    return {"preview": gr.Image(label="Result", type="numpy", format="png", height=420,
                                interactive=False, elem_id="preview"),
            "status": gr.Markdown("Upload a photo and a painting, then press Run.",
                                  elem_id="status"),
            "downloads": gr.File(label="Download: the image and its run record",
                                 file_count="multiple", interactive=False, elem_id="downloads"),
            "plot": gr.Image(label="Loss per iteration", type="filepath", interactive=False,
                             elem_id="loss-plot")}


def _connect(gr, studio: Studio, page: dict, concurrency: int):
    """What each button does: Run streams a Studio run to the page, Stop
    ends the visitor's own run."""
    photo, paintings, controls, advanced = (page["photo"], page["paintings"],
                                            page["controls"], page["advanced"])

    def start(request: gr.Request, photo, paintings, size, iterations, strength, preserve_color,
              style_scale, init, weights, content_layers, style_layers, tv_weight, pooling,
              optimizer, scales, seed):
        # Named and ordered as `inputs` below: API users call "transfer" with these names.
        values = locals()
        settings = Settings(**{name: values[name] for name in controls},
                            advanced={name: values[name] for name in ADVANCED})
        for update in studio.run(request.session_hash, photo, paintings, settings):
            yield (gr.skip() if update.preview is None else update.preview,
                   update.status,
                   gr.skip() if update.files is None else update.files,
                   gr.skip() if update.plot is None else update.plot)

    def halt(request: gr.Request):
        if not studio.stop(request.session_hash):
            return "Nothing is running."
        return gr.skip()

    # Gradio finds the request parameter by its annotation, which this
    # module's postponed annotations leave as text; give it the class.
    start.__annotations__["request"] = halt.__annotations__["request"] = gr.Request
    page["run"].click(start, inputs=[photo, paintings, *controls.values(), *advanced],
                      outputs=[page[k] for k in ("preview", "status", "downloads", "plot")],
                      concurrency_limit=concurrency, concurrency_id="runs", api_name="transfer")
    page["stop"].click(halt, outputs=[page["status"]], queue=False, api_name="stop")
    page["downloads"].download(_session_hook(gr, studio.results.downloaded), queue=False,
                               api_visibility="private")
    page["demo"].click(lambda: (lambda c, s: (c, [s]))(*studio.demo_files()),
                       outputs=[photo, paintings], queue=False, api_visibility="private")
    controls["weights"].change(default_strength, inputs=[controls["weights"]],
                               outputs=[controls["strength"]], queue=False,
                               api_visibility="private")


def launch(app, host: str = "127.0.0.1", port: int | None = None, share: bool = False, auth=None,
           block: bool = True, **options):
    """Serve the page; with block=False return at once (tests, notebooks).
    port None: the first free one from 7860. Returns Gradio's (app, local
    URL, share URL)."""
    gr = _gradio()
    theme = gr.themes.Default(font=FONTS, font_mono=MONO_FONTS)
    return app.launch(server_name=host, server_port=port, share=share, auth=auth,
                      prevent_thread_lock=not block, theme=theme, css=CSS, quiet=True,
                      footer_links=[], **options)
