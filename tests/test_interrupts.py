"""Real runs stopped by signals: the best image and its record are written
whole, the exit code says which signal, and a killed run resumes.

The signalled runs are processes of their own (slow); a resume runs in this
one."""

import json
import signal
import time
from pathlib import Path

import pytest

from conftest import cli, cli_popen, write_image
from tfstyle.io.images import load_image

pytestmark = pytest.mark.slow


@pytest.fixture
def inputs(tmp_path):
    return write_image(tmp_path / "c.png", 48, 48, 1), write_image(tmp_path / "s.png", 48, 48, 2)


def start_run(content, style, out, *extra, env=None):
    return cli_popen("transfer", content, style, "-o", out, "--weights", "random",
                     "--max-size", "48", "--iterations", "100000", "-q", "--no-plot", *extra,
                     env={"TFSTYLE_FAULT": None, **(env or {})})


def wait_for_record(path: Path, iterations: int, process, timeout=600):
    """Until the checkpoint record shows at least `iterations` (the timeout
    only ends a hung test; the process dying or stalling is the failure)."""
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
def test_sigkill_then_resume_loses_at_most_one_checkpoint_interval(inputs, tmp_path, capsys,
                                                                   optimizer):
    """SIGKILL two iterations after the checkpoint at 6 (TFSTYLE_FAULT: an
    event, so it falls alike on every CPU); the resume runs in this process."""
    content, style = inputs
    out = tmp_path / "out.png"
    run = start_run(content, style, out, "--checkpoint-every", "3", "--optimizer", optimizer,
                    env={"TFSTYLE_FAULT": "iteration:8:KILL"})
    _, err = run.communicate(timeout=600)
    assert run.returncode == -signal.SIGKILL, err
    record_path = out.with_suffix(".json")
    record = json.loads(record_path.read_text())
    done = record["iterations"]
    assert record["status"] == "running" and done == 6  # iterations 7 and 8 are lost
    assert Path(record["checkpoint"]).exists()
    code = cli("resume", record_path, "--iterations", done + 4, "-q")
    assert code == 0, capsys.readouterr().err
    final = json.loads(record_path.read_text())
    assert final["status"] == "finished" and final["iterations"] == done + 4
    assert [h["iteration"] for h in final["history"]] == list(range(1, done + 5))
    assert final["resumed_from"] == done and "curvature history" in final["note"]
    assert final["config"]["optimizer"] == optimizer
    assert final["history"][done]["total"] <= 1.05 * record["history"][-1]["total"]
    assert load_image(out).shape == (48, 48, 3)
    assert not Path(record["checkpoint"]).exists()  # a finished run needs no checkpoint
