"""The Ray engine of `tfstyle batch`: each job a Ray task.

Ray places the tasks (`num_cpus`/`num_gpus` per job), retries a task whose
worker died (`max_retries`), and runs the same program on a laptop
(`ray.init()` starts a local instance) or a cluster (`--ray-address`). A
retried job resumes from its own checkpoint, so OUTDIR must be storage
every node sees. Workers write only their job folders; the driver writes
batch.json. No scheduling here: Ray's.
"""

from __future__ import annotations

import logging
import socket

from ..errors import ConfigError, TfstyleError, one_line
from ..events import JobProgress, emit
from ..io.files import read_json
from .runs import record_path

CONNECT_SECONDS = 3.0
GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"


def check_ready(address, cpus_per_job, gpus_per_job, max_retries) -> None:
    """Everything about the Ray engine that can be wrong before a job runs:
    Ray missing, a bad resource count, no cluster at the address."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("engine", "the ray engine needs Ray: pip install \"tfstyle[ray]\"") from None
    if cpus_per_job <= 0:
        raise ConfigError("cpus_per_job", f"expected more than 0, received {cpus_per_job}")
    if gpus_per_job < 0:
        raise ConfigError("gpus_per_job", f"expected 0 or more, received {gpus_per_job}")
    if max_retries < 0:
        raise ConfigError("max_retries", f"expected 0 or more, received {max_retries}")
    check_address(address)


def check_address(address: str | None) -> None:
    """A HOST:PORT that is unreachable, or is not a Ray head, fails here in
    seconds: ray.init itself retries for a long while, logging as it goes."""
    if address in (None, "", "auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("ray_address", f"expected HOST:PORT or auto, received {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise ConfigError("ray_address", f"cannot reach a Ray cluster at {address} "
                                          f"({error.strerror or error})") from None
    _ask_gcs(address)


def _ask_gcs(address: str) -> None:
    """One gRPC call to the head's GCS (the call every Ray client makes
    first); an answer, even a refusal for want of a token, is a Ray head."""
    import grpc

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(GCS_PROBE)
        try:
            call(b"", timeout=CONNECT_SECONDS)
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAUTHENTICATED,
                                    grpc.StatusCode.PERMISSION_DENIED,
                                    grpc.StatusCode.INVALID_ARGUMENT):
                raise ConfigError("ray_address", f"no Ray cluster answers at {address} "
                                                  f"({error.code().name.lower()})") from None


def start_ray(address: str | None):
    """ray.init, local by default; True if this call started Ray (and so
    should stop it)."""
    import ray

    check_address(address)
    if ray.is_initialized():
        return False
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                   configure_logging=True)
    try:
        if address in (None, "", "local"):
            ray.init(**options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError("ray_address", f"cannot join a Ray cluster at {address}: "
                                          f"{message}") from None
    return True


def run_on_ray(run_task, tasks: list, callback, finished, address=None, cpus_per_job=1.0,
               gpus_per_job=0.0, max_retries=3):
    """Each of `tasks` (batch.JobTask: a job, its OUTDIR and how to run it)
    as a Ray task calling `run_task` with it (batch.run_job_task, passed in
    so this module stays below batch); `finished` hears each outcome, the
    callback `JobProgress` events (tfstyle.events): every job at 0 when
    handed to the cluster, then the running ones as polled."""
    def started():
        emit(callback, JobProgress({task.job.id: 0 for task in tasks}))

    def polled(pending):
        emit(callback, JobProgress(_iterations([tasks[k] for k in pending])))

    for index, outcome, error in _results(run_task, tasks, address, cpus_per_job, gpus_per_job,
                                          max_retries, started, polled):
        if error is not None:
            # The task returned no outcome (run_job keeps the job's own
            # errors in it): this job fails, the others go on. Its job.json
            # stays unwritten, so a rerun resumes it from its checkpoint.
            job = tasks[index].job
            outcome = {"id": job.id, "content": str(job.content),
                       "styles": [str(s) for s in job.styles], "status": "failed",
                       "error": failure_message(error, max_retries), "reason": "ray",
                       "seconds": 0.0, "host": None, "pid": None, "node": None}
        finished(outcome)


def _iterations(tasks) -> dict[str, int]:
    """Running jobs' iterations, from the records their checkpoints write."""
    seen = {}
    for task in tasks:
        try:
            record = read_json(record_path(task.job.output(task.outdir)))
        except Exception:
            continue
        if isinstance(record, dict) and record.get("status") == "running":
            seen[task.job.id] = int(record.get("iterations", 0))
    return seen


def _call(function, task, threads: int):
    """In a Ray worker: `function(task)` with TensorFlow's threads matched
    to the CPUs Ray gave the task (the first task of a worker sets them)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # this worker ran a task before: already set
    return function(task)


def map_on_ray(function, tasks: list, finished, address=None, cpus_per_task=1.0,
               gpus_per_task=0.0, max_retries=3) -> None:
    """`function(task)` for each of `tasks` (picklable values: the video's
    video_shots.ShotTask) as a Ray task; finished(index, value) hears each,
    in the order they end. A task that fails raises its error here, in one
    line."""
    import ray

    for index, value, error in _results(function, tasks, address, cpus_per_task, gpus_per_task,
                                        max_retries):
        cause = getattr(error, "cause", None)
        if isinstance(error, ray.exceptions.RayTaskError) and isinstance(cause, TfstyleError):
            raise cause
        if error is not None:
            raise TfstyleError(f"task {index + 1}: {failure_message(error, max_retries)}")
        finished(index, value)


def failure_message(error, max_retries: int) -> str:
    """One line for a Ray task that ended in `error`. Ray retries a task
    only when its worker, node or result was lost (retry_exceptions is off,
    so never for an error the task raised): only those claim retries."""
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None)
        if isinstance(cause, BaseException):
            return one_line(cause)  # the task's own error, as a local run tells it
        lines = [line for line in str(error).splitlines() if line.strip()]
        return lines[-1].strip() if lines else type(error).__name__  # the traceback's last line
    lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError)
    first = (str(error).strip().splitlines() or [""])[0]  # Ray's advice follows on more lines
    detail = f"{type(error).__name__}: {first}" if first else type(error).__name__
    if isinstance(error, lost):
        return f"Ray task failed after {max_retries} retries: {detail}"
    return f"Ray could not run the task: {detail}"


def _results(function, tasks, address, cpus, gpus, max_retries, started=None, polled=None):
    """Yield (index, value, None) or (index, None, RayError) for each
    `function(task)` run as a Ray task, as they end; an interrupt cancels
    the rest. started() is called once all are submitted, polled(pending
    indices) after every wait."""
    import ray

    began = start_ray(address)
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=max_retries)(_call)
    threads = max(1, int(round(cpus)))
    pending = {}
    try:
        pending = {remote.remote(function, task, threads): k for k, task in enumerate(tasks)}
        started and started()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                index = pending.pop(ref)
                try:
                    yield index, ray.get(ref), None
                except ray.exceptions.RayError as error:
                    yield index, None, error
            polled and polled(list(pending.values()))
    except (KeyboardInterrupt, GeneratorExit):
        for ref in list(pending):
            ray.cancel(ref, force=True)
        raise
    finally:
        if began:
            ray.shutdown()
