"""Never lose work, proven with faults: runs killed (SIGKILL) or stopped
(SIGTERM) at many moments, chosen by events so they reproduce on every CPU
(tfstyle.faults), and continued by the same command or `tfstyle resume`.

The faults are chained: each resumed process is faulted again, so K faults
cost K+1 processes. After each one and at the end, the invariants of the
"never lose work" issue are checked:
- the final image has the planned final size;
- the record says finished, with the requested total of iterations and the
  first record's settings digest;
- at most one checkpoint interval is lost after SIGKILL, nothing after SIGTERM;
- a resumed run continues, not restarts: its first loss is at most 1.01x the
  checkpoint's last (within a scale; a new scale starts from an upsampled
  image, so its loss is another one).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_image
from tfstyle.io.images import load_image

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--weights", "random", "--jit", "off", "--precision", "float32", "-q"]
EVERY = 2  # the checkpoint interval, in iterations


def tfstyle(*args, fault=None, timeout=300):
    env = {**os.environ, "TFSTYLE_FAULT": fault or ""}
    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def check_fault(proc, kind, record, reached, stderr_lines=1):
    """After a fault: the exit code, one line on stderr for a stop, and what
    the record keeps."""
    if kind == "KILL":
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        # The last checkpoint's record, or an earlier stop's when the kill
        # came before this process wrote one.
        assert record["status"] in ("running", "interrupted")
        assert record["iterations"] >= reached - EVERY  # one interval at most
    else:
        assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == stderr_lines, proc.stderr
        assert "Traceback" not in proc.stderr
        assert record["status"] == "interrupted"
        assert record["iterations"] >= reached  # nothing lost
    assert len(record["history"]) == record["iterations"]
    checkpoint = record.get("checkpoint")
    assert checkpoint and Path(checkpoint).exists(), "the exact pixels are kept"


def check_continued(history, resumed_at):
    """Each resume's first loss against the last loss before it, in one scale."""
    for done in resumed_at:
        if 0 < done < len(history) and history[done]["size"] == history[done - 1]["size"]:
            assert history[done]["total"] <= 1.01 * history[done - 1]["total"], done


def check_finished(record, out: Path, size, total, digest):
    assert record["status"] == "finished", record.get("error")
    assert record["iterations"] == total and len(record["history"]) == total
    assert [h["iteration"] for h in record["history"]] == list(range(1, total + 1))
    assert record["settings_digest"] == digest
    assert load_image(out).shape[:2] == tuple(size)
    assert tuple(record["plan"]["final_size"]) == tuple(size)


@pytest.fixture
def images(tmp_path):
    return write_image(tmp_path / "c.png", 48, 64, 1), write_image(tmp_path / "s.png", 48, 48, 2)


# Moments in a 3-scale run (10 iterations a scale), each in the process that
# resumes after the one before: (event, count, signal, iterations it
# reaches beyond where that process starts, or None where only the record
# can say).
TRANSFER_FAULTS = [
    ("iteration", 3, "KILL", 3),
    ("scale", 2, "TERM", None),  # between scales: the next one's targets
    ("iteration", 4, "TERM", 4),
    ("scale", 2, "KILL", None),  # between scales, killed
    ("checkpoint", 1, "KILL", None),
    ("iteration", 1, "TERM", 1),
    ("checkpoint", 2, "TERM", None),
    ("iteration", 2, "KILL", 2),
    ("scale", 1, "TERM", None),  # before the resumed scale's targets
    ("scale", 1, "KILL", None),
    ("write", 1, "KILL", None),  # the final image about to be written
    ("write", 1, "TERM", None),  # waits for the final files, then stops
    ("quality", 1, "TERM", None),  # after they were written
]


def test_a_coarse_to_fine_transfer_survives_twelve_chained_faults(images, tmp_path):
    content, style = images
    out = tmp_path / "out.png"
    first = ["transfer", content, style, "-o", out, "--scales", "24,48,64",
             "--iterations", 30, "--scale-iterations", "10,10,10",
             "--checkpoint-every", EVERY, "--checkpoint-seconds", 0, "--no-plot", *FAST]
    command, resumed_at, digest = first, [], None
    for event, count, kind, reach in TRANSFER_FAULTS:
        before = read(out.with_suffix(".json"))["iterations"] if digest else 0
        proc = tfstyle(*command, fault=f"{event}:{count}:{kind}")
        record = read(out.with_suffix(".json"))
        if event in ("write", "quality") and kind == "TERM":  # the files come first
            assert proc.returncode == 143 and record["status"] == "finished", proc.stderr
            continue
        check_fault(proc, kind, record, before + (reach or 0))
        digest = digest or record["settings_digest"]
        assert record["settings_digest"] == digest
        resumed_at.append(record["iterations"])
        command = ["resume", out.with_suffix(".json"), "-q"]
    proc = tfstyle("resume", out.with_suffix(".json"), "-q")  # K faults, K + 1 processes
    assert proc.returncode == 0, proc.stderr
    record = read(out.with_suffix(".json"))
    check_finished(record, out, (48, 64), 30, digest)
    assert [s["size"] for s in record["plan"]["scales"]] == [[18, 24], [36, 48], [48, 64]]
    check_continued(record["history"], resumed_at)
    assert not list(tmp_path.glob("out.ckpt.*"))  # a finished run keeps no checkpoint


def test_a_wall_clock_kill_and_more_iterations_than_planned(images, tmp_path):
    """A kill at whatever moment the clock gives, then a resume that asks for
    more than the plan holds: the extra iterations go to the final scale."""
    content, style = images
    out = tmp_path / "out.png"
    run = subprocess.Popen([sys.executable, "-m", "tfstyle", "transfer", *map(str, (
                            content, style, "-o", out, "--scales", "24,64", "--iterations", 60,
                            "--checkpoint-every", EVERY, "--checkpoint-seconds", 0, "--no-plot",
                            *FAST))], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    record_file = out.with_suffix(".json")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (record_file.exists() and
                                               read(record_file)["iterations"] >= 6):
        assert run.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)
    run.kill()
    run.communicate()
    record = read(record_file)
    assert record["status"] == "running" and record["position"]["scale"] == 0
    proc = tfstyle("resume", record_file, "--iterations", 70, "-q")
    assert proc.returncode == 0, proc.stderr
    final = read(record_file)
    check_finished(final, out, (48, 64), 70, record["settings_digest"])
    assert final["scales"][-1]["ran"] == 40  # the plan's 30 and the 10 asked for


TILED = ["--content-layers", "conv3_1", "--style-layers", "conv1_1,conv2_1,conv3_1",
         "--tile-size", 40, "--max-size", 71]


def test_a_tiled_transfer_survives_faults_inside_its_tiled_passes(tmp_path):
    content = write_image(tmp_path / "photo.png", 53, 71, 1)
    style = write_image(tmp_path / "painting.png", 60, 60, 2)
    out = tmp_path / "print.png"
    command = ["transfer", content, style, "-o", out, "--iterations", 8, "--checkpoint-every",
               EVERY, "--checkpoint-seconds", 0, "--no-plot", *TILED, *FAST]
    digest, resumed_at = None, []
    # 10 tiles: an evaluation reports 10 in its first pass and 9 in its
    # second, 19 in all; the first checkpoint (iteration 2) comes after 76.
    # Each fault lands inside an evaluation's passes.
    for fault in ("tile:100:KILL", "tile:30:TERM", "checkpoint:1:KILL"):
        before = read(out.with_suffix(".json"))["iterations"] if digest else 0
        proc = tfstyle(*command, fault=fault)
        record = read(out.with_suffix(".json"))
        check_fault(proc, fault.rpartition(":")[2], record, before)
        assert "tiles" in record["schedule"][0]
        digest = digest or record["settings_digest"]
        resumed_at.append(record["iterations"])
        command = ["resume", out.with_suffix(".json"), "-q"]
    proc = tfstyle(*command)
    assert proc.returncode == 0, proc.stderr
    record = read(out.with_suffix(".json"))
    check_finished(record, out, (53, 71), 8, digest or record["settings_digest"])
    check_continued(record["history"], resumed_at)


def test_sigterm_is_answered_within_seconds_while_the_worker_cannot_stop(images, tmp_path):
    """A stop while the worker is inside a long native op (a stalled tile of a
    print, here a sleep no interrupt can cut): the main thread writes the
    last iterate and a record that says where the run stood, and exits."""
    content, style = images
    out = tmp_path / "out.png"
    env = {**os.environ, "TFSTYLE_FAULT": "iteration:5:STALL"}
    run = subprocess.Popen([sys.executable, "-m", "tfstyle", "transfer", *map(str, (
                            content, style, "-o", out, "--iterations", 50, "--checkpoint-every",
                            4, "--checkpoint-seconds", 0, "--no-plot", *FAST))],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    record_file = out.with_suffix(".json")
    deadline = time.monotonic() + 120
    while not out.with_name("out.ckpt.000004.npy").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the checkpoint of iteration 4; the stall comes right after 5
    time.sleep(0.5)
    assert run.poll() is None and read(record_file)["iterations"] == 4
    sent = time.monotonic()
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=30)
    answered = time.monotonic() - sent
    assert run.returncode == 143, err
    assert answered < 10, answered
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    record = read(record_file)
    assert record["status"] == "interrupted" and record["iterations"] == 5
    assert load_image(out).shape[:2] == (48, 64)
    proc = tfstyle("resume", record_file, "-q")
    assert proc.returncode == 0, proc.stderr
    check_finished(read(record_file), out, (48, 64), 50, record["settings_digest"])


def test_a_batch_of_three_survives_faults_and_finishes_every_job(tmp_path):
    photos, paintings = tmp_path / "photos", tmp_path / "paintings"
    photos.mkdir(), paintings.mkdir()
    for k in range(3):
        write_image(photos / f"p{k}.png", 40, 48, k)
    write_image(paintings / "s.png", 40, 40, 9)
    outdir = tmp_path / "out"
    command = ["batch", "--contents", photos / "*.png", "--styles", paintings / "*.png", "-o",
               outdir, "--scales", "24,48", "--iterations", 8, "--checkpoint-every", EVERY,
               *FAST]
    for fault in ("job:2:KILL", "checkpoint:2:TERM", "iteration:3:KILL"):
        proc = tfstyle(*command, fault=fault)
        assert proc.returncode in (-signal.SIGKILL, 143), proc.stderr
        assert "Traceback" not in proc.stderr
    proc = tfstyle(*command)
    assert proc.returncode == 0, proc.stderr
    batch = read(outdir / "batch.json")
    assert batch["summary"]["failed"] == 0 and not batch["interrupted"]
    for job in sorted(p for p in outdir.iterdir() if p.is_dir()):
        record = read(job / f"{job.name}.json")
        check_finished(record, job / f"{job.name}.png", (40, 48), 8, record["settings_digest"])
    assert (outdir / "contact_sheet.png").exists()


def test_a_six_frame_video_survives_faults_and_finishes(tmp_path):
    from test_video import make_clip, pan

    clip, style = make_clip(tmp_path, pan(6, 32, 40))
    out = tmp_path / "out.mp4"
    command = ["video", clip, style, "-o", out, "--iterations", 4, "--frame-iterations", 2,
               "--max-size", 40, "--fps", 12, *FAST]
    for fault in ("frame:2:KILL", "iteration:3:TERM", "encode:1:KILL"):
        proc = tfstyle(*command, fault=fault)
        assert proc.returncode in (-signal.SIGKILL, 143), proc.stderr
        record = read(out.with_suffix(".json"))
        assert record["status"] != "finished"
        assert not out.exists() or fault != "encode:1:KILL"
    proc = tfstyle(*command)
    assert proc.returncode == 0, proc.stderr
    record = read(out.with_suffix(".json"))
    assert record["status"] == "finished" and len(record["frames"]) == 6 and out.exists()
