"""The CLI's rendering of the event stream (cli/progress.py)."""

import numpy as np

from tfstyle.core.scales import ScalePlan
from tfstyle.events import Frame, Iterate, JobFinished, JobProgress, JobsPlanned, Panel, \
    Planned, Say
from tfstyle_cli.progress import JobsProgress, Progress


def iterate(n, scale=0):
    return Iterate(n, 1.0, {"content": 0.5}, 0.1 * n, np.zeros((4, 4, 3), np.float32), (4, 4),
                   scale)


def planned(*iterations, tiles="untiled"):
    return Planned(tuple(ScalePlan((4, 4), k, tiles, 0.0) for k in iterations))


def test_each_run_of_a_video_frame_gets_its_own_labelled_bar(capsys):
    """A shot's lead-in shares its number with the frame before it but is a
    run of its own: each Planned inside a Frame starts a bar, with the
    plan's total; the schedule of a tiled run is said once, not per frame."""
    progress = Progress()
    with progress:
        for frame, total in ((1, 3), (2, 2), (2, 3)):  # frame 2's lead-in, then the shot's
            progress(Frame(frame, planned(total, tiles="2x2 tiles")))
            assert progress.total == total
            for k in range(1, total + 1):
                progress(Frame(frame, iterate(k)))
        progress(Say("finished"))
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("frame ")] == \
        ["frame 1", "frame 2", "frame 2"]
    assert err.count("schedule:") == 1 and "finished" in err


def test_a_panels_bar_takes_its_total_from_the_plan(capsys):
    class Cell:
        name = "conv1_1"

    class Result:
        iterations, seconds = 4, 1.0

    progress = Progress()
    with progress:
        progress(Panel(0, 2, Cell(), "kept"))
        progress(Panel(1, 2, Cell(), "started"))
        progress(planned(2, 2))  # coarse to fine: 4 in all
        assert progress.total == 4
        progress(iterate(1))
        progress(Panel(1, 2, Cell(), "finished", Result()))
    err = capsys.readouterr().err
    assert "[1/2] conv1_1: kept from disk" in err and "[2/2] conv1_1: 4 iterations" in err


def test_the_batch_bar_keeps_only_the_jobs_still_running(capsys):
    jobs = JobsProgress()
    with jobs:
        jobs(JobsPlanned(3))
        jobs(JobProgress({"a": 0, "b": 0}))  # both started
        jobs(JobProgress({"a": 5, "b": 2}))
        jobs(JobProgress({"b": 3}))  # a stopped running: its count goes
        assert jobs._iterations == {"b": 3}
        jobs(JobFinished.of({"id": "b", "status": "failed", "seconds": 1.0, "error": "[Op] x"}))
    assert "failed" in capsys.readouterr().err


def test_quiet_shows_nothing_but_a_batchs_failures(capsys):
    progress, jobs = Progress(quiet=True), JobsProgress(quiet=True)
    progress(planned(2, 2))
    progress(iterate(1))
    progress(Say("hello"))
    jobs(JobFinished.of({"id": "a", "status": "done", "seconds": 1.0}))
    assert capsys.readouterr().err == ""
    jobs(JobFinished.of({"id": "b", "status": "failed", "seconds": 1.0, "error": "boom"}))
    assert "boom" in capsys.readouterr().err
