"""Real runs stopped by signals: the best image and its record are written
whole, the exit code says which signal, and a killed run resumes."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_image
from tfstyle.io import load_image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def inputs(tmp_path):
    return write_image(tmp_path / "c.png", 48, 48, 1), write_image(tmp_path / "s.png", 48, 48, 2)


def start_run(content, style, out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "tfstyle", "transfer", str(content), str(style), "-o", str(out),
         "--weights", "random", "--max-size", "48", "--iterations", "100000", "-q", "--no-plot",
         *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_record(path: Path, iterations: int, process, timeout=120):
    """Until the checkpoint record shows at least `iterations`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            record = json.loads(path.read_text())
            if record["iterations"] >= iterations:
                return record
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the run made no progress")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_keeps_the_best_image(inputs, tmp_path, signum, code):
    content, style = inputs
    out = tmp_path / "out.png"
    run = start_run(content, style, out, "--checkpoint-every", "2")
    wait_for_record(out.with_suffix(".json"), 4, run)
    run.send_signal(signum)
    _, err = run.communicate(timeout=60)
    assert run.returncode == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "interrupted" and record["iterations"] >= 4
    assert len(record["history"]) == record["iterations"]
    assert load_image(out).shape == (48, 48, 3)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-device"])
def test_sigkill_then_resume_loses_at_most_one_checkpoint_interval(inputs, tmp_path, optimizer):
    content, style = inputs
    out = tmp_path / "out.png"
    run = start_run(content, style, out, "--checkpoint-every", "3", "--optimizer", optimizer)
    record_path = out.with_suffix(".json")
    wait_for_record(record_path, 6, run)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    record = json.loads(record_path.read_text())
    done = record["iterations"]
    assert record["status"] == "running" and done % 3 == 0 and done >= 6
    assert Path(record["checkpoint"]).exists()
    resumed = subprocess.run([sys.executable, "-m", "tfstyle", "resume", str(record_path),
                              "--iterations", str(done + 4), "-q"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(record_path.read_text())
    assert final["status"] == "finished" and final["iterations"] == done + 4
    assert [h["iteration"] for h in final["history"]] == list(range(1, done + 5))
    assert final["resumed_from"] == done and "curvature history" in final["note"]
    assert final["config"]["optimizer"] == optimizer
    assert final["history"][done]["total"] <= 1.05 * record["history"][-1]["total"]
    assert load_image(out).shape == (48, 48, 3)
    assert not Path(record["checkpoint"]).exists()  # a finished run needs no checkpoint
