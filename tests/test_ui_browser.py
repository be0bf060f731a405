"""`tfstyle ui` in a real browser: Debian's Chromium driven by Playwright,
against the page served on a free loopback port by this process.

`.ci/run` installs chromium with apt-get; where it cannot be installed
these tests are skipped with the reason.
"""

import json
import os
import re
import shutil
import socket
import time

import pytest
from PIL import Image

from conftest import write_image

pytestmark = pytest.mark.slow  # Chromium, and the page's server

CHROMIUM = os.environ.get("TFSTYLE_CHROMIUM", "/usr/bin/chromium")
pytest.importorskip("gradio", reason="the ui extra (gradio) is not installed")
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (the test extra has it)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium)",
                allow_module_level=True)

# The flags keep Chromium off this machine's closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
STUDIOS = []  # the server fixture's Studio, for the tests that read its results

# Every src the result image takes and every text the status line shows,
# recorded in the page as they happen, so no update is missed between polls.
WATCH = """() => {
  window.previews = []; window.statuses = [];
  const note = () => {
    const img = document.querySelector('#preview img');
    if (img && img.src && window.previews[window.previews.length - 1] !== img.src)
      window.previews.push(img.src);
    const status = document.querySelector('#status');
    const text = status ? status.innerText : '';
    if (window.statuses[window.statuses.length - 1] !== text) window.statuses.push(text);
  };
  new MutationObserver(note).observe(document.body,
      {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tfstyle.workflows.ui import Limits, Studio, build_app, launch

    studio = Studio(["random"], Limits(max_size=256, max_iterations=500),
                    workdir=tmp_path_factory.mktemp("ui"), preview_seconds=0.0)
    app = build_app(studio)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False)
    STUDIOS.append(studio)
    yield f"http://127.0.0.1:{port}"
    app.close()
    studio.close()
    with pytest.raises(OSError):  # stopped: nothing listens there any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    write_image(folder / "photo_a.png", 40, 48, seed=1)  # 48x40: landscape
    write_image(folder / "photo_b.png", 48, 36, seed=2)
    Image.new("RGB", (48, 48), (200, 40, 30)).save(folder / "red.png")
    Image.new("RGB", (48, 48), (30, 60, 210)).save(folder / "blue.png")
    (folder / "notes.txt").write_text("not a picture\n")
    return folder


def open_page(browser, server):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    page.wait_for_selector("#run")
    page.evaluate(WATCH)
    return page


def set_value(page, slider: str, value):
    box = page.locator(f"#{slider} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def start(page, photo, paintings, size=48, iterations=5):
    for upload in ("#photo", "#paintings"):  # a file input appears once the last is cleared
        clear = page.locator(f"{upload} button[aria-label='Clear']")
        if clear.count():
            clear.first.click()
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#paintings input[type=file]").set_input_files([str(p) for p in paintings])
    page.wait_for_selector(f"#photo [aria-label='{photo.name}']")
    page.wait_for_selector(f"#paintings [aria-label='{paintings[-1].name}']")
    set_value(page, "size", size)
    set_value(page, "iterations", iterations)
    page.click("#run")


def status(page) -> str:
    return page.locator("#status").inner_text()


def wait_for_status(page, pattern: str) -> str:
    page.wait_for_function(
        "pattern => new RegExp(pattern).test(document.querySelector('#status').innerText)",
        arg=pattern, timeout=TIMEOUT_MS)
    return status(page)


def download(page, suffix: str, folder):
    link = page.locator(f"#downloads a[download$='{suffix}']")
    with page.expect_download() as info:
        link.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_a_run_previews_then_finishes_and_downloads(browser, server, images, tmp_path):
    page = open_page(browser, server)
    start(page, images / "photo_a.png", [images / "red.png"])
    text = wait_for_status(page, "^finished")
    assert re.match(r"finished: 5 iterations, [\d.]+ s \(random", text), text
    statuses = page.evaluate("window.statuses")
    progress = [s for s in statuses if re.match(r"iteration \d/5 · loss", s)]
    assert progress, statuses  # the live line: iteration, loss, terms, seconds per iteration
    assert "content" in progress[0] and "style" in progress[0] and "s/it" in progress[0]
    previews = page.evaluate("window.previews")
    assert len(previews) >= 2, previews  # updated while running, then the final image
    png = download(page, ".png", tmp_path)
    with Image.open(png) as image:
        image.load()
        assert image.format == "PNG" and image.size == (48, 40)
    record = json.loads(download(page, ".json", tmp_path).read_text())
    assert record["status"] == "finished" and record["iterations"] == 5
    assert page.locator("#loss-plot img").count() == 1
    page.screenshot(path=tmp_path / "finished.png", full_page=True)
    with Image.open(tmp_path / "finished.png") as shot:
        assert shot.size[0] >= 800
    print("screenshot:", tmp_path / "finished.png")
    page.context.close()


def test_stop_keeps_the_best_image_so_far(browser, server, images, tmp_path):
    page = open_page(browser, server)
    start(page, images / "photo_a.png", [images / "red.png"], iterations=400)
    wait_for_status(page, r"^iteration ([3-9]|\d\d+)/400")
    page.click("#stop")
    text = wait_for_status(page, "^stopped")
    done = int(re.match(r"stopped at iteration (\d+)", text).group(1))
    assert 3 <= done < 400
    record = json.loads(download(page, ".json", tmp_path).read_text())
    assert record["iterations"] == done and record["stop_reason"] == "callback"
    with Image.open(download(page, ".png", tmp_path)) as image:
        assert image.size == (48, 40)
    page.context.close()


def test_a_text_file_as_the_photo_is_one_line_then_a_good_run_works(browser, server, images,
                                                                      tmp_path):
    page = open_page(browser, server)
    start(page, images / "notes.txt", [images / "red.png"])
    text = wait_for_status(page, "^⚠")
    assert text.strip() == "⚠ notes.txt: not an image file Pillow can read"
    start(page, images / "photo_b.png", [images / "blue.png"], iterations=3)
    wait_for_status(page, "^finished: 3 iterations")
    with Image.open(download(page, ".png", tmp_path)) as image:
        assert image.size == (36, 48)
    page.context.close()


def test_the_demo_drawings_fill_both_uploads_and_run(browser, server, tmp_path):
    page = open_page(browser, server)
    page.get_by_role("button", name="Use the demo drawings").click()
    page.wait_for_selector("#photo [aria-label='landscape.png']")
    page.wait_for_selector("#paintings [aria-label='strokes.png']")
    set_value(page, "size", 64)
    set_value(page, "iterations", 2)
    page.click("#run")
    wait_for_status(page, "^finished: 2 iterations")
    with Image.open(download(page, ".png", tmp_path)) as image:
        assert image.size == (64, 48)  # the 4:3 landscape at 64 px
    page.context.close()


def test_two_visitors_queue_and_each_gets_their_own_result(browser, server, images, tmp_path):
    first, second = open_page(browser, server), open_page(browser, server)
    start(first, images / "photo_a.png", [images / "red.png"], iterations=40)
    wait_for_status(first, "^iteration")
    start(second, images / "photo_b.png", [images / "blue.png"], iterations=5)
    # One optimisation at a time: the second visitor is told their place.
    second.wait_for_selector("#preview :text-matches('queue', 'i'), #status :text-matches('queue', 'i')")
    assert not re.match("^finished", status(second))
    wait_for_status(first, "^finished: 40 iterations")
    wait_for_status(second, "^finished: 5 iterations")
    for page, photo, painting, size in ((first, "photo_a.png", "red.png", [40, 48]),
                                        (second, "photo_b.png", "blue.png", [48, 36])):
        (tmp_path / photo).mkdir()
        record = json.loads(download(page, ".json", tmp_path / photo).read_text())
        assert record["status"] == "finished" and record["size"] == size
        assert os.path.basename(record["inputs"]["content"]) == photo
        assert [os.path.basename(s) for s in record["inputs"]["styles"]] == [painting]
    first.context.close()
    second.context.close()


def wait_until(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def test_a_download_then_closing_the_tab_start_the_results_keep_time(browser, server, images,
                                                                      tmp_path):
    results = STUDIOS[-1].results
    before = set(results.folders())
    page = open_page(browser, server)
    start(page, images / "photo_b.png", [images / "blue.png"])
    wait_for_status(page, "^finished")
    (folder,) = set(results.folders()) - before
    finished = results.folders()[folder].used
    assert results.folders()[folder].ended is None  # the tab is open: it may still download
    download(page, ".png", tmp_path)
    wait_until(lambda: results.folders()[folder].used > finished)  # Gradio's download event
    page.context.close()  # the visitor leaves: Gradio's unload
    wait_until(lambda: results.folders()[folder].ended is not None)
