"""Many transfers (`tfstyle batch`): one folder per job, resumable, run one
after another in this process (`local`) or as Ray tasks (`ray`).

    jobs = tfstyle.workflows.jobs.cross_product("photos/*.jpg", "paintings/*.jpg", config)
    summary = tfstyle.workflows.batch.run_batch(jobs, "out", config)

Each job writes OUTDIR/<id>/ exactly as `transfer` does (image, run record,
loss plot, checkpoints) plus `job.json`, its outcome. A re-run skips the
jobs done with the same settings, resumes the interrupted ones from their
checkpoints and leaves the failed ones failed unless `retry_failed`. The
driver alone writes OUTDIR/batch.json and the contact sheet.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .. import faults
from ..config import StyleConfig
from ..errors import ConfigError, Interrupted, TfstyleError, one_line
from ..events import Iterate, JobFinished, JobProgress, JobsPlanned, emit
from ..io.files import check_disk, check_output_folder, read_json, write_json
from ..io.images import load_image, save_image
from ..plan import run_length, settings_digest
from .jobs import JOB_FILE, Job
from .resume import resume
from .runs import TransferRun, digest_inputs, record_path

ENGINES = ("local", "ray")
BATCH_FILE = "batch.json"
SHEET_FILE = "contact_sheet.png"
DONE, SKIPPED, FAILED, INTERRUPTED = "done", "skipped", "failed", "interrupted"


def job_digest(job: Job, config: StyleConfig) -> str:
    """What makes two runs of a job the same: plan.settings_digest of its
    files and config, with its length (a job finished with fewer
    iterations is run again, not kept)."""
    return settings_digest(config, {"content": str(job.content.absolute()),
                                    "styles": [str(s.absolute()) for s in job.styles],
                                    **run_length(config)})


def plan_job(job: Job, outdir, config: StyleConfig, retry_failed: bool = False):
    """(action, reason): "run", "resume" (from a checkpoint of the same
    settings), "skip" (done with the same settings) or "failed" (failed
    before with the same settings, and not retried)."""
    digest = job_digest(job, config)
    outcome = _read(job.folder(outdir) / JOB_FILE)
    if outcome.get("settings") == digest and outcome.get("status") == FAILED and not retry_failed:
        return "failed", f"{outcome.get('error')} (an earlier run; --retry-failed reruns it)"
    # The run record says, by its own settings digest, whether it is this
    # job's run, and then whether the job is done or where to resume it.
    record = _read(record_path(job.output(outdir)))
    if not _same_run(record, job, config):
        return "run", ""
    start = record.get("checkpoint") or record.get("output")
    planned = (record.get("plan") or {}).get("final_size", record.get("size"))
    if record.get("status") == "finished" and job.output(outdir).exists() \
            and record.get("size") == planned:  # not a coarse scale's image (an old defect)
        return "skip", "done earlier with the same settings"
    if record.get("status") in ("running", "interrupted", "failed") and start \
            and Path(start).exists():
        return "resume", f"from its checkpoint at iteration {record.get('iterations')}"
    return "run", ""


def _same_run(record: dict, job: Job, config: StyleConfig) -> bool:
    """Whether the run record is this job's run: its settings digest (the
    run's own, plan.settings_digest, the same for records of any tfstyle
    since schema 2) and its length match, and it never ran past its plan (a
    `tfstyle resume --iterations` beyond it)."""
    plan = record.get("plan") or {}
    if not record.get("settings_digest") or not plan.get("scales"):
        return False
    # The paths as TransferRun took them (absolute), whatever the glob gave.
    inputs = digest_inputs({"content": Path(job.content).absolute(),
                            "styles": [Path(s).absolute() for s in job.styles]})
    recorded = record.get("config") or {}
    length = json.loads(json.dumps(run_length(config)))  # tuples as the record's lists
    planned = sum(s.get("iterations", 0) for s in plan["scales"])
    return record["settings_digest"] == settings_digest(config.with_absolute_paths(), inputs) \
        and all(recorded.get(k) == v for k, v in length.items()) \
        and (record.get("iterations") or 0) <= planned


def run_job(job: Job, outdir, shared: StyleConfig, retry_failed: bool = False,
            checkpoint_every: int = 10, callback=None) -> dict:
    """Plan and run one job; its outcome (also written to its job.json).
    Every error stays in the outcome, tfstyle's own or not (a full disk, an
    exhausted device): one job's failure must not cost the batch the other
    jobs. Only a stop (Ctrl-C, SIGTERM, an `Interrupted`) ends the job early
    with status "interrupted", its run saved to resume from."""
    config = job.config(shared)
    digest = job_digest(job, config)
    outcome = {"id": job.id, "content": str(job.content), "styles": [str(s) for s in job.styles],
               "host": socket.gethostname(), "pid": os.getpid(), "node": _ray_node(),
               "settings": digest, "error": None, "seconds": 0.0, "reason": "run"}
    start = time.perf_counter()
    try:
        action, reason = plan_job(job, outdir, config, retry_failed)
        if action == "skip":
            return {**outcome, "status": SKIPPED, "reason": reason}
        if action == "failed":
            return {**outcome, "status": FAILED, "error": reason, "reason": "failed earlier"}
        outcome["reason"] = action
        job.folder(outdir).mkdir(parents=True, exist_ok=True)
        faults.reached("job")
        result = _transfer(job, outdir, config, action, outcome, checkpoint_every, callback)
        outcome.update(status=INTERRUPTED if result.stopped else DONE,
                       iterations=result.iterations, traces=result.traces,
                       final_loss=result.history[-1]["total"] if result.history else None)
    except (KeyboardInterrupt, Interrupted):  # a stop, not a failure: the batch stops here
        outcome.update(status=INTERRUPTED)
    except Exception as error:  # not a stop (above) or SystemExit
        outcome.update(status=FAILED, error=one_line(error))
    outcome["seconds"] = round(time.perf_counter() - start, 3)
    if outcome["status"] != INTERRUPTED:  # an interrupted job resumes from its record
        _write_outcome(job.folder(outdir) / JOB_FILE, outcome)
    return outcome


def _transfer(job: Job, outdir, config: StyleConfig, action: str, outcome: dict,
              checkpoint_every: int, callback):
    """The job's transfer, fresh or resumed; its run record stamped with
    the worker that ran it."""
    from ..core.extractor import FeatureExtractor  # TensorFlow, only when a job runs

    stamp = {"worker": {k: outcome[k] for k in ("host", "pid", "node")}}
    if action == "resume":
        picked_up = resume(record_path(job.output(outdir)))  # the rest of its own plan
        picked_up.run_files.checkpoint_every = checkpoint_every
        picked_up.run_files.extra.update(stamp)
        extractor = FeatureExtractor.shared(picked_up.config)
        return picked_up.run(callback=callback, extractor=extractor)
    run = TransferRun(job.content, job.styles, job.output(outdir), overwrite=True,
                      checkpoint_every=checkpoint_every)
    run.extra.update(stamp)
    return run.run(config, callback=callback, extractor=FeatureExtractor.shared(config))


@dataclass(frozen=True)
class JobTask:
    """A job as a Ray task: the job, its OUTDIR and how run_job runs it,
    passed whole (pickled) to the worker."""
    job: Job
    outdir: str
    shared: StyleConfig
    retry_failed: bool = False
    checkpoint_every: int = 10


def run_job_task(task: JobTask) -> dict:
    """run_job in a Ray worker: the job's outcome."""
    return run_job(task.job, task.outdir, task.shared, task.retry_failed, task.checkpoint_every)


def _write_outcome(path: Path, outcome: dict):
    """job.json, if it can be written: when it cannot (the disk that failed
    the job), batch.json still has the outcome and a rerun plans the job
    from its run record."""
    try:
        write_json(path, outcome)
    except (OSError, TfstyleError) as error:
        outcome["warning"] = f"{JOB_FILE} not written: {one_line(error)}"


def run_batch(jobs: list[Job], outdir, shared: StyleConfig, *, engine: str = "local",
              retry_failed: bool = False, checkpoint_every: int = 10, callback=None,
              ray_address: str | None = None, cpus_per_job: float = 1.0,
              gpus_per_job: float = 0.0, max_retries: int = 3) -> dict:
    """Run every job; returns the batch record also written to batch.json.
    An interrupt stops the batch after writing what it has; the record's
    "interrupted" is then true. callback hears the batch's events
    (tfstyle.events): `JobsPlanned`, then `JobProgress` ({job id:
    iterations so far}, 0 as a job starts) and a `JobFinished` per job."""
    if engine not in ENGINES:
        raise ConfigError("engine", f"expected local or ray, received {engine!r}")
    if engine == "ray":
        from .ray_engine import check_ready

        check_ready(ray_address, cpus_per_job, gpus_per_job, max_retries)  # before any file
    elif ray_address:
        raise ConfigError("ray_address", "goes with --engine ray")
    outdir = check_output_folder(outdir)
    check_disk(outdir, disk_needed(jobs, outdir, shared, retry_failed, engine))
    outdir.mkdir(exist_ok=True)
    emit(callback, JobsPlanned(len(jobs), engine))
    start = time.perf_counter()
    record = {"engine": engine, "outdir": str(outdir.absolute()), "jobs": [],
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "interrupted": False}

    def finished(outcome):
        record["jobs"].append(outcome)
        _write_record(outdir, record, start)
        emit(callback, JobFinished.of(outcome))

    try:
        if engine == "local":
            _run_local(jobs, outdir, shared, retry_failed, checkpoint_every, callback, finished)
        else:
            from .ray_engine import run_on_ray

            tasks = [JobTask(job, str(outdir), shared, retry_failed, checkpoint_every)
                     for job in jobs]
            run_on_ray(run_job_task, tasks, callback, finished, ray_address, cpus_per_job,
                       gpus_per_job, max_retries)
    except KeyboardInterrupt:
        record["interrupted"] = True
    if any(o["status"] == INTERRUPTED for o in record["jobs"]):
        record["interrupted"] = True
    _write_record(outdir, record, start)
    contact_sheet(outdir, jobs)
    return record


# What a job leaves on disk, per pixel of its output (an upper bound: the
# photo's own size is not read, so its longest side is taken as both sides).
PNG_BYTES_PER_PIXEL = 3  # 8-bit RGB, never larger than raw (deflate's stored blocks)
CHECKPOINT_BYTES_PER_PIXEL = 12 + 3  # the float32 pixels (.npy) and their preview (.png)
PLOT_BYTES = 600 * 400 * 4  # the loss plot: 6 x 4 in at 100 dpi, RGBA, raw
RECORD_BYTES_PER_ITERATION = 512  # a history row of the run record, with room to spare


def disk_needed(jobs, outdir, shared: StyleConfig, retry_failed: bool = False,
                engine: str = "local") -> dict:
    """{"outputs": bytes, "checkpoints": bytes} the jobs not done yet may
    write: each its image, record and plot; and the checkpoints of the jobs
    in flight, each with the next one written before the last is removed
    (one job at a time here; on Ray, every job may be in flight at once).
    A finished job removes its checkpoints, so they are not summed over a
    local batch: a batch that fails job after job keeps one each, which
    the disk's own error then stops."""
    outputs, checkpoints = 0, []
    for job in jobs:
        config = job.config(shared)
        if plan_job(job, outdir, config, retry_failed)[0] not in ("run", "resume"):
            continue
        pixels = max((config.max_size, *config.scales)) ** 2
        iterations = max(config.iterations, sum(config.scale_iterations or ()))
        outputs += PNG_BYTES_PER_PIXEL * pixels + PLOT_BYTES \
            + RECORD_BYTES_PER_ITERATION * iterations
        checkpoints.append(CHECKPOINT_BYTES_PER_PIXEL * pixels + 12 * pixels)
    in_flight = sum(checkpoints) if engine == "ray" else max(checkpoints, default=0)
    return {"outputs": float(outputs), "checkpoints": float(in_flight)}


def _run_local(jobs, outdir, shared, retry_failed, checkpoint_every, callback, finished):
    def progress(job):  # a job's iterations, as the batch tells them
        def heard(event):
            if isinstance(event, Iterate):
                emit(callback, JobProgress({job.id: event.iteration}))
        return heard

    for job in jobs:
        emit(callback, JobProgress({job.id: 0}))
        outcome = run_job(job, outdir, shared, retry_failed, checkpoint_every,
                          callback=None if callback is None else progress(job))
        finished(outcome)
        if outcome["status"] == INTERRUPTED:
            return


def summary(record: dict) -> dict:
    """{status: count} and seconds, for the table at the end."""
    counts = {s: 0 for s in (DONE, SKIPPED, FAILED, INTERRUPTED)}
    for outcome in record["jobs"]:
        counts[outcome["status"]] += 1
    return {**counts, "seconds": round(sum(o["seconds"] for o in record["jobs"]), 3)}


def _write_record(outdir: Path, record: dict, start: float):
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["summary"] = summary(record)
    write_json(outdir / BATCH_FILE, record)


def contact_sheet(outdir, jobs: list[Job], columns: int = 4, cell: int = 192) -> Path | None:
    """Every result on one labelled sheet, in job order; None if none yet."""
    from ..io.sheet import make_sheet

    cells = []
    for job in jobs:
        if job.output(outdir).exists():
            try:
                cells.append((load_image(job.output(outdir), max_size=cell), job.id))
            except TfstyleError:
                continue
    if not cells:
        return None
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    sheet = make_sheet(rows, title=f"tfstyle batch: {len(cells)} results",
                       cell_size=(cell, cell), font_size=max(10, cell // 16))
    return save_image(Path(outdir) / SHEET_FILE, sheet)


def _read(path: Path) -> dict:
    try:
        data = read_json(path)
    except TfstyleError:  # missing or damaged: as if never written
        return {}
    return data if isinstance(data, dict) else {}


def _ray_node() -> str | None:
    """The Ray node id where this runs under Ray, else None."""
    import sys

    if "ray" not in sys.modules:
        return None
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
