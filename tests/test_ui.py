"""The web UI's workings without a browser: the settings a page sends, the
server's limits, one line per problem, Stop per visitor, and `tfstyle ui`'s
own refusals. The browser tests are in test_ui_browser.py."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_image
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.workflows.ui import Limits, Settings, Studio, available_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def images(tmp_path):
    photo = write_image(tmp_path / "photo.png", 40, 48, seed=1)
    painting = tmp_path / "painting.png"
    Image.new("RGB", (48, 48), (200, 40, 30)).save(painting)
    return photo, painting


def last(updates):
    updates = list(updates)
    assert updates, "a run must tell the page something"
    return updates[-1]


def small(**changes):
    # jit off: auto would race XLA at the first run of each size.
    return Settings(**{"size": 32, "iterations": 3, "weights": "random",
                       "advanced": {"jit": "off"}, **changes})


def test_settings_map_onto_one_style_config():
    config = Settings(size=96, iterations=7, strength=4.5, preserve_color="luminance",
                      style_scale=0.5, init="noise", weights="random",
                      advanced={"style_layers": "conv1_1, conv2_1", "tv_weight": "0.25",
                                "pooling": "max", "scales": "48,96", "seed": 3}).config()
    assert config == StyleConfig(max_size=96, iterations=7, alpha=1.0, beta=10 ** 4.5,
                                 preserve_color="luminance", style_scale=0.5, init="noise",
                                 weights="random", style_layers=("conv1_1", "conv2_1"),
                                 tv_weight=0.25, pooling="max", scales=(48, 96), seed=3)
    assert Settings(preserve_color="off").config().preserve_color is None
    with pytest.raises(ConfigError, match="tv_weight"):
        Settings(advanced={"tv_weight": "lots"}).config()


def test_the_servers_limits_are_one_line_each(images, tmp_path):
    photo, painting = images
    studio = Studio(["random"], Limits(max_size=64, max_iterations=10, max_pixels=1000),
                    workdir=tmp_path / "ui")
    assert last(studio.run("a", photo, [painting], small(size=128))).status == \
        "⚠ max_size: 128 px is over this server's limit of 64 px"
    assert last(studio.run("a", photo, [painting], small(iterations=11))).status == \
        "⚠ iterations: 11 is over this server's limit of 10"
    # 48x40 = 1920 pixels: the upload is refused by name, not by its temporary folder.
    text = last(studio.run("a", photo, [painting], small())).status
    assert text.startswith("⚠ photo.png: 48x40 is 1920 pixels, over the limit of 1000"), text
    assert last(studio.run("a", None, [painting], small())).status.startswith("⚠ upload a photo")
    assert last(studio.run("a", photo, [], small())).status.startswith("⚠ upload one or more")
    assert last(studio.run("a", photo, [painting], small(weights="imagenet"))).status == \
        "⚠ weights: 'imagenet' is not offered here; choose random"


def test_a_run_gives_previews_then_the_result_and_its_files(images, tmp_path):
    photo, painting = images
    studio = Studio(["random"], workdir=tmp_path / "ui", preview_seconds=0.0)
    updates = list(studio.run("a", photo, [painting], small(iterations=4)))
    previews = [u for u in updates if u.preview is not None]
    assert [u.iteration for u in previews] == [1, 2, 3, 4, 4]  # each iteration, then the result
    assert previews[0].status.startswith("iteration 1/4 · loss ")
    final = updates[-1]
    assert final.status.startswith("finished: 4 iterations")
    png, record = map(Path, final.files)
    assert png.parent.parent == tmp_path / "ui" / "runs" and png.name == "photo-tfstyle.png"
    assert np.array_equal(np.asarray(Image.open(png)), final.preview)
    assert json.loads(record.read_text())["inputs"]["content"] == str(photo)
    assert Path(final.plot).exists()


def test_stop_ends_only_that_visitors_run(images, tmp_path):
    photo, painting = images
    studio = Studio(["random"], workdir=tmp_path / "ui", preview_seconds=0.0)
    list(studio.run("warm", photo, [painting], small(iterations=1)))  # build the network once
    finals, started = {}, threading.Event()

    def visit(session, iterations):
        for update in studio.run(session, photo, [painting], small(iterations=iterations)):
            if session == "a" and update.iteration >= 2:
                started.set()
            finals[session] = update

    a = threading.Thread(target=visit, args=("a", 500))
    b = threading.Thread(target=visit, args=("b", 12))
    a.start(), b.start()
    assert started.wait(120)
    assert studio.stop("nobody") is False
    assert studio.stop("a") is True
    a.join(120), b.join(120)
    assert finals["a"].status.startswith("stopped at iteration ")
    stopped_at = finals["a"].iteration
    assert 2 <= stopped_at < 500
    record = json.loads(Path(finals["a"].files[1]).read_text())
    assert record["iterations"] == stopped_at and record["stop_reason"] == "callback"
    assert finals["b"].status.startswith("finished: 12 iterations")  # b was not stopped
    assert studio.stop("a") is False  # its run is over


def test_a_nan_loss_is_one_line_and_the_server_keeps_serving(images, tmp_path, monkeypatch):
    from tfstyle.core.objective import Objective

    photo, painting = images
    studio = Studio(["random"], workdir=tmp_path / "ui")
    evaluate, calls = Objective.evaluate, {"n": 0}

    def poisoned(self, image):
        calls["n"] += 1
        total, grad, terms = evaluate(self, image)
        return (float("nan") if calls["n"] > 3 else total), grad, terms

    monkeypatch.setattr(Objective, "evaluate", poisoned)
    final = last(studio.run("a", photo, [painting], small(iterations=20)))
    assert final.status.startswith("⚠ ") and "NaN" in final.status
    assert final.status.endswith("the last finite image is kept") and "\n" not in final.status
    assert np.isfinite(final.preview).all()
    monkeypatch.setattr(Objective, "evaluate", evaluate)
    assert last(studio.run("a", photo, [painting], small())).status.startswith("finished")


def test_an_internal_error_is_one_line_on_the_page(images, tmp_path, monkeypatch, caplog):
    import tfstyle.workflows.runs

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    photo, painting = images
    monkeypatch.setattr(tfstyle.workflows.runs.TransferRun, "run", broken)
    final = last(Studio(["random"], workdir=tmp_path / "ui").run("a", photo, [painting], small()))
    assert final.status == ("⚠ internal error (RuntimeError: disk on fire); the server log has "
                            "the details")
    assert "Traceback" in caplog.text  # the log keeps what the page leaves out


def test_the_demo_drawings_are_offered_as_files(tmp_path):
    content, style = Studio(workdir=tmp_path).demo_files()
    assert Image.open(content).size == (512, 384) and Image.open(style).size == (512, 512)


def test_weights_offered(tmp_path):
    assert available_weights("random") == (["random", "procedural"],
                                           "weights offered: random, procedural")
    choices, note = available_weights(str(tmp_path / "missing.h5"))
    assert choices == ["procedural", "random"] and "no such weights file" in note
    present = tmp_path / "vgg.h5"
    present.write_bytes(b"")
    assert available_weights(str(present))[0] == [str(present), "procedural", "random"]


# `tfstyle ui` itself ---------------------------------------------------

def tfstyle(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tfstyle", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow  # starts `tfstyle ui` in a fresh process
def test_a_port_in_use_is_refused_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out, err = tfstyle("ui", "--weights", "random", "--port", port).communicate(timeout=120)
    assert err.strip() == (f"tfstyle: error: port {port} on 127.0.0.1 is in use; choose "
                           "another with --port")


@pytest.mark.slow  # starts `tfstyle ui` in a fresh process
def test_bad_auth_is_refused_in_one_line():
    process = tfstyle("ui", "--auth", "nopassword")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.strip() == "tfstyle: error: --auth: expected user:password, received 'nopassword'"


@pytest.mark.slow  # starts `tfstyle ui` in a fresh process
def test_serving_every_network_warns_and_serves(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = tfstyle("ui", "--weights", "random", "--host", "0.0.0.0", "--port", port,
                      env={**os.environ, "GRADIO_TEMP_DIR": str(tmp_path)})
    try:
        lines = []
        for line in process.stderr:
            lines.append(line.strip())
            if "serving on" in line:
                break
        assert lines[0] == ("tfstyle: warning: --host 0.0.0.0 serves the UI to other machines "
                            "with no authentication; add --auth user:password"), lines
        assert lines[-1] == f"tfstyle ui: serving on http://0.0.0.0:{port} (Ctrl-C to stop)"
        import urllib.request

        for _ in range(100):  # the line comes just before the server listens
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                threading.Event().wait(0.2)
        assert b"tfstyle" in page  # Gradio's page, carrying our app's title
    finally:
        process.terminate()
        process.communicate(timeout=60)


def test_slow_tiles_do_not_starve_the_previews(tmp_path):
    """A tiled run's tile lines and its previews keep separate clocks: tiles
    arriving faster than the preview interval still leave each due iterate
    its preview."""
    import queue
    import time

    from tfstyle.events import Iterate, TileDone

    studio = Studio(["random"], workdir=tmp_path / "ui", preview_seconds=0.05)
    previews, stop = queue.Queue(), threading.Event()
    callback = studio._callback(small(iterations=100), stop, previews)
    shown = []
    for iteration in range(1, 4):
        for tile in range(1, 6):  # a tile every preview interval, the last just before
            time.sleep(0.05)
            callback(TileDone(tile, 5, 1))
        callback(Iterate(iteration, 1.0, {"content": 1.0}, 0.1, np.zeros((8, 8, 3), np.float32),
                         (8, 8), 0))
        while not previews.empty():
            update = previews.get()
            if update.preview is not None:
                shown.append(update.iteration)
    assert shown == [1, 2, 3]


# Serving for days: the results' end, their cap, each run's Stop ------------

class Clock:
    """A clock the test moves on by hand."""
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def finished_run(results, session, size, at):
    results.clock.now = at
    folder = results.start(session)
    (folder / "result.png").write_bytes(b"x" * size)
    results.finish(folder)
    return folder


def test_results_go_keep_seconds_after_the_last_download_or_the_session_end(tmp_path):
    from tfstyle.workflows.ui_results import Results

    clock = Clock()
    results = Results(tmp_path / "ui", keep_seconds=60, max_bytes=1e9, clock=clock)
    done = finished_run(results, "a", 10, at=1000)
    clock.now = 2000  # long after: but the visitor's session is open, they may download it
    assert results.sweep() == [] and done.exists()
    results.session_ended("a")
    clock.now = 2030
    results.downloaded("a")  # a download after the end (a tab left open) counts: the later
    clock.now = 2089
    assert results.sweep() == [] and done.exists()
    clock.now = 2090
    assert results.sweep() == [done] and not done.exists()
    # A running run is never deleted, though its session ended long ago.
    running = results.start("b")
    results.session_ended("b")
    clock.now = 9000
    assert results.sweep() == [] and running.exists()
    results.finish(running)  # its keep time starts at its end
    clock.now = 9059
    assert results.sweep() == [] and running.exists()
    clock.now = 9060
    assert results.sweep() == [running] and results.folders() == {}


def test_over_the_cap_the_oldest_finished_results_go_first_then_gradios_files(tmp_path):
    from tfstyle.workflows.ui_results import Results

    clock = Clock()
    results = Results(tmp_path / "ui", keep_seconds=3600, max_bytes=1000, clock=clock)
    cache = results.use_cache(tmp_path / "ui" / "gradio")
    (cache / "h1").mkdir(parents=True)
    upload = cache / "h1" / "photo.png"
    upload.write_bytes(b"u" * 200)  # the running run's photo, Gradio's oldest file
    old_copy = cache / "h2" / "result.png"  # a copy of an old result
    old_copy.parent.mkdir()
    old_copy.write_bytes(b"c" * 300)
    oldest, middle, newest = (finished_run(results, "a", 400, at=t) for t in (1, 2, 3))
    clock.now = 14  # each has been finished for settle_seconds (10 s) or more
    running = results.start("b", inputs=[upload])
    (running / "checkpoint.npy").write_bytes(b"r" * 400)
    assert results.total_bytes() == 2100
    # 1100 over: the finished results go, oldest first, Gradio's files stay.
    assert results.sweep() == [oldest, middle, newest]
    assert results.total_bytes() == 900 and old_copy.exists() and running.exists()
    queued = cache / "h3" / "queued.png"  # the upload of a run still in Gradio's queue
    queued.parent.mkdir()
    queued.write_bytes(b"q" * 100)
    results.uploads = lambda: [str(queued)]
    results.max_bytes = 500
    # Over again, but Gradio's files are seconds old: a visitor may be
    # fetching them.
    assert results.sweep() == [] and old_copy.exists()
    results.settle_seconds = 0
    # Now Gradio's oldest file that no run reads goes; the running run, the
    # photo it reads and the queued upload stay, though the total is over.
    assert results.sweep() == [old_copy]
    assert running.exists() and upload.exists() and queued.exists()
    assert results.total_bytes() == 700


def test_a_result_just_finished_outlives_the_cap_until_it_is_handed_out(tmp_path):
    from tfstyle.workflows.ui_results import Results

    clock = Clock()
    results = Results(tmp_path / "ui", keep_seconds=3600, max_bytes=0, clock=clock)
    fresh = finished_run(results, "a", 400, at=100)
    clock.now = 105  # Gradio is copying it to the visitor now
    assert results.sweep() == [] and fresh.exists()
    clock.now = 111
    assert results.sweep() == [fresh] and not fresh.exists()


def long_run_under_way(studio, session, photo, painting):
    """(its thread, {"last": its last update}) of a 500-iteration run of
    `session`, returned once the page shows its second iteration."""
    finals, started = {}, threading.Event()

    def visitor():
        for update in studio.run(session, photo, [painting], small(iterations=500)):
            if update.iteration >= 2:
                started.set()
            finals["last"] = update
    thread = threading.Thread(target=visitor)
    thread.start()
    assert started.wait(120)
    return thread, finals


def test_each_run_has_its_own_stop(images, tmp_path):
    """A session's second run (the API allows it, with --concurrency above 1)
    must neither take nor, when it ends, remove its first run's Stop."""
    photo, painting = images
    studio = Studio(["random"], workdir=tmp_path / "ui", preview_seconds=0.0)
    list(studio.run("warm", photo, [painting], small(iterations=1)))  # build the network once
    thread, finals = long_run_under_way(studio, "a", photo, painting)
    second = last(studio.run("a", photo, [painting], small(iterations=2)))
    assert second.status.startswith("finished: 2 iterations")
    assert studio.stop("a") is True  # the first run still runs, and its Stop is there
    thread.join(120)
    assert finals["last"].status.startswith("stopped at iteration ")
    assert studio.stop("a") is False


def test_closing_the_page_lets_a_running_run_write_its_result(images, tmp_path):
    """Ctrl-C on `tfstyle ui` closes the Studio: its runs stop at their next
    iteration and write their best image before the folder goes."""
    photo, painting = images
    studio = Studio(["random"], workdir=None, preview_seconds=0.0)
    root = studio.results.root
    thread, finals = long_run_under_way(studio, "a", photo, painting)
    studio.close()
    assert not studio._stops  # the run ended before close returned
    thread.join(120)
    assert finals["last"].status.startswith("stopped at iteration ")
    assert not root.exists()  # and then the page's folder went


def test_the_page_keeps_gradios_files_in_its_own_folder(tmp_path, monkeypatch):
    """A GRADIO_TEMP_DIR set before holds other programs' files: the page
    sweeps its own folder, never that one."""
    pytest.importorskip("gradio")
    from tfstyle.workflows.ui import build_app

    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not the page's")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(foreign))
    studio = Studio(["random"], workdir=tmp_path / "ui", keep_seconds=0.0, max_results_bytes=0.0)
    try:
        build_app(studio)
        assert os.environ["GRADIO_TEMP_DIR"] == str(studio.results.cache)
        studio.results.settle_seconds = 0
        studio.results.sweep()
        assert (foreign / "keep.txt").exists()
    finally:
        studio.close()


def test_the_page_keeps_a_few_networks_not_one_per_seed(tmp_path):
    from tfstyle.workflows.ui import NETWORKS

    studio = Studio(["random"], workdir=tmp_path / "ui")
    tiny = {"content_layers": ("conv1_1",), "style_layers": ("conv1_1",), "weights": "random"}
    first = studio._extractor(StyleConfig(seed=0, **tiny))
    assert studio._extractor(StyleConfig(seed=0, **tiny)) is first  # built once
    for seed in range(1, NETWORKS + 1):  # visitors asking for other seeds
        studio._extractor(StyleConfig(seed=seed, **tiny))
    assert len(studio._networks) == NETWORKS
    assert all(network is not first for network in studio._networks.values())


def test_the_results_and_stops_are_safe_from_many_threads(tmp_path):
    """Visitors' threads start, finish and stop runs while the sweeper walks
    the same tables: none of them sees a table change under it."""
    from tfstyle.workflows.ui_results import Results

    results = Results(tmp_path / "ui", keep_seconds=0, max_bytes=0)
    errors, switch = [], sys.getswitchinterval()

    def visitor(session):
        try:
            for _ in range(60):
                folder = results.start(session)
                results.downloaded(session)
                results.finish(folder)
                results.session_ended(session)
        except Exception as error:  # noqa: BLE001 (the test's finding)
            errors.append(error)

    def sweeper(done):
        try:
            while not done.is_set():
                results.sweep()
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    done = threading.Event()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        sweeping = threading.Thread(target=sweeper, args=(done,))
        sweeping.start()
        visitors = [threading.Thread(target=visitor, args=(f"s{i}",)) for i in range(6)]
        for thread in visitors:
            thread.start()
        for thread in visitors:
            thread.join()
        done.set()
        sweeping.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    results.sweep()
    assert results.folders() == {} and not any(results.runs.iterdir())


def test_keep_results_reads_seconds_or_a_unit_and_refuses_the_rest():
    from tfstyle_cli.ui import _duration

    assert [_duration("--keep-results", t) for t in ("90", "90s", "30m", "1h", "2d", "0")] == \
        [90, 90, 1800, 3600, 172800, 0]
    for bad in ("", "h", "3x", "-1h", "inf", "nan"):
        with pytest.raises(ConfigError, match=r"^--keep-results: expected seconds"):
            _duration("--keep-results", bad)
