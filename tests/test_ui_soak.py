"""The page serving for a while (issue #31's acceptance): 40 tiny runs driven
through its API by the real gradio_client, two visitors at a time, some
stopped midway. Then the page's memory has not grown, its results (Gradio's
cache included) are back under their cap, it left no other temporary
folder, and every Stop stopped its own run only.

The figures are printed (pytest -s shows them):

    python3 -m pytest -q -s -p no:cacheprovider tests/test_ui_soak.py
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import write_image
from PIL import Image

from tfstyle.io.files import folder_bytes

pytestmark = pytest.mark.slow  # the page's server in a process of its own, 40 runs
gradio_client = pytest.importorskip("gradio_client", reason="the ui extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
RUNS, VISITORS, CAP_BYTES, KEEP_SECONDS = 40, 2, 1_000_000, 1
STOP_EVERY = 4  # each visitor's every 4th run is a long one it stops midway
# Tiny runs: the soak is about what stays behind, not about the look.
TINY = {"size": 32, "iterations": 2, "weights": "random", "scales": "", "content_layers": "conv2_2",
        "style_layers": "conv1_1,conv2_1"}


def rss_bytes(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    env.update(TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "tfstyle", "ui", "--weights", "random", "--port", str(port),
         "--concurrency", str(VISITORS), "--max-size", "64", "--max-iterations", "400",
         "--keep-results", str(KEEP_SECONDS), "--max-results-gb", str(CAP_BYTES / 1e9)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if "serving on" in line:
            break
    for _ in range(300):  # the line comes just before the server listens
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep it drained
            return process
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the page did not start")


class Soak:
    """The two visitors' runs, counted as they end, with the page's RSS
    after the 10th and the last."""

    def __init__(self, url, pid, photo, painting, downloads):
        self.url, self.pid, self.photo, self.painting = url, pid, photo, painting
        self.downloads = downloads
        self.lock, self.done, self.rss, self.runs, self.errors = threading.Lock(), 0, {}, [], []

    def visit(self, name: str, count: int):
        try:
            client = None
            for index in range(count):
                if index % 5 == 0:  # a new session every 5 runs: the old one ends
                    if client is not None:
                        client.close()
                    client = gradio_client.Client(self.url, download_files=self.downloads,
                                                  verbose=False)
                # Staggered: while one visitor stops its long run, the other's
                # short runs go on, and must finish (a Stop stops its own run only).
                stop = (index + 2 * int(name[1:])) % STOP_EVERY == STOP_EVERY - 1
                self.ended(name, stop, self.run(client, stop))
            client.close()
        except Exception as error:  # noqa: BLE001 (the test's finding)
            self.errors.append(error)

    def run(self, client, stop: bool) -> str:
        job = client.submit(gradio_client.handle_file(str(self.photo)),
                            [gradio_client.handle_file(str(self.painting))],
                            **{**TINY, "iterations": 400 if stop else 2}, api_name="/transfer")
        if stop:  # midway: once the page shows an iteration
            while not any(str(out[1]).startswith("iteration") for out in job.outputs()):
                assert not job.done(), job.outputs()[-1:]
                time.sleep(0.05)
            client.predict(api_name="/stop")
        return job.result()[1]

    def ended(self, name, stop, status):
        with self.lock:
            self.runs.append((name, stop, status))
            self.done += 1
            if self.done % 10 == 0:
                self.rss[self.done] = rss_bytes(self.pid)


def test_the_page_serves_40_runs_and_cleans_up_after_itself(tmp_path):
    temp, downloads = tmp_path / "tmp", tmp_path / "client"
    temp.mkdir(), downloads.mkdir()
    photo = write_image(tmp_path / "photo.png", 40, 48, seed=1)
    painting = tmp_path / "painting.png"
    Image.new("RGB", (48, 48), (200, 40, 30)).save(painting)
    port, start = free_port(), time.monotonic()
    page = serve(temp, port)
    try:
        (root,) = temp.iterdir()  # the page's one folder
        soak = Soak(f"http://127.0.0.1:{port}/", page.pid, photo, painting, str(downloads))
        visitors = [threading.Thread(target=soak.visit, args=(f"v{i}", RUNS // VISITORS))
                    for i in range(VISITORS)]
        for thread in visitors:
            thread.start()
        for thread in visitors:
            thread.join(240)
        assert soak.errors == []
        served = time.monotonic() - start
        # The sessions have ended: after their keep time, and the 10 s that
        # Gradio's files are left for a visitor to fetch, the sweeps bring
        # everything back under the cap.
        for _ in range(100):
            time.sleep(0.5)
            left, runs_left = folder_bytes(root), list((root / "runs").iterdir())
            if left <= CAP_BYTES and not runs_left:
                break
        swept = time.monotonic() - start - served
        listing = sorted(p.name for p in temp.iterdir())
    finally:
        page.send_signal(signal.SIGINT)  # Ctrl-C
        page.wait(60)
    print(f"\nsoak: {len(soak.runs)} runs in {served:.1f} s; page RSS after run 10 "
          f"{soak.rss[10] / 1e6:.1f} MB, after run {RUNS} {soak.rss[RUNS] / 1e6:.1f} MB; "
          f"results and Gradio's cache {left / 1e6:.3f} MB (cap {CAP_BYTES / 1e6:.1f} MB), "
          f"{len(runs_left)} run folders left, {swept:.1f} s later; RSS by run "
          f"{ {n: round(b / 1e6, 1) for n, b in soak.rss.items()} } MB")
    assert len(soak.runs) == RUNS
    for name, stop, status in soak.runs:  # each Stop stopped its own run, and no other
        assert status.startswith("stopped at iteration " if stop else "finished: 2 iterations"), \
            (name, stop, status)
    assert abs(soak.rss[RUNS] - soak.rss[10]) <= 0.10 * soak.rss[10], soak.rss
    assert left <= CAP_BYTES and runs_left == []
    assert listing == [root.name]  # no other temporary folder, while it served
    assert list(temp.iterdir()) == []  # and none once it stopped
