"""`tfstyle batch --engine ray`: the real Ray, in local mode and as a
two-node cluster on this machine (slow: Ray's processes); a killed worker's
job is retried and resumes from its checkpoint; an unreachable cluster is
refused by a bounded probe, before Ray is started."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from conftest import cli, pinned, write_image

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path):
    for name, seed in (("p1", 1), ("s1", 3), ("s2", 4), ("s3", 5), ("s4", 6)):
        write_image(tmp_path / f"{name}.png", 40, 40, seed)
    return tmp_path


def command(*args):
    """`python -m tfstyle batch ARGS`, with the tests' pinned settings."""
    return [sys.executable, "-m", "tfstyle", *pinned(["batch", *args])]


def jobs_of(outdir):
    return {j["id"]: j for j in json.loads((outdir / "batch.json").read_text())["jobs"]}


def ray_command():
    """The `ray` script pip installed beside this interpreter (found even
    where PATH has no shim for it yet), else whatever PATH has."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ray_local_mode_retries_a_killed_worker_and_the_job_resumes(folder):
    out = folder / "out"
    run = subprocess.Popen(
        command("--contents", folder / "p1.png", "--styles", folder / "s[12].png", "-o", out,
                "--engine", "ray", "--weights", "random", "--max-size", "40", "--iterations", "120",
                "--checkpoint-every", "4", "-q"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = out / "p1__s1" / "p1__s1.json"
    deadline, killed = time.monotonic() + 600, None  # only ends a hung test
    while time.monotonic() < deadline and killed is None:
        assert run.poll() is None, run.communicate()
        try:
            seen = json.loads(record.read_text())
        except (OSError, ValueError):
            time.sleep(0.1)
            continue
        if seen.get("status") == "running" and seen["iterations"] >= 8:
            os.kill(seen["worker"]["pid"], signal.SIGKILL)  # the Ray worker, not the batch
            killed = seen
        time.sleep(0.05)
    assert killed is not None, "the job made no progress"
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    jobs = jobs_of(out)
    assert all(j["status"] == "done" and j["node"] for j in jobs.values())
    final = json.loads(record.read_text())
    assert final["status"] == "finished" and final["iterations"] == 120
    # Ray ran the job again in a new worker, which took up the checkpoint.
    assert final["resumed_from"] >= killed["iterations"] and final["resumed_from"] % 4 == 0
    assert jobs["p1__s1"]["reason"] == "resume" and jobs["p1__s1"]["pid"] != killed["worker"]["pid"]
    assert [h["iteration"] for h in final["history"]] == list(range(1, 121))


@pytest.mark.slow
def test_a_two_node_cluster_on_this_machine_runs_jobs_on_both_nodes(folder):
    """Two `ray start` processes on the loopback address, one CPU each."""
    ray = ray_command()
    assert ray, "the ray command is missing"
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    try:
        subprocess.run([ray, "start", "--head", "--port", str(port), "--include-dashboard=false",
                        *common], env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", *common], env=env,
                       check=True, capture_output=True, timeout=120)
        out = folder / "out"
        proc = subprocess.run(
            command("--contents", folder / "p1.png", "--styles", folder / "s*.png", "-o", out,
                    "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", "--weights", "random",
                    "--max-size", "40", "--iterations", "25"),
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        jobs = jobs_of(out)
        assert len(jobs) == 4 and all(j["status"] == "done" for j in jobs.values())
        assert len({j["node"] for j in jobs.values()}) == 2  # both nodes did work
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


class _NotRay(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_address_without_a_ray_cluster_fails_within_seconds_in_one_line(folder, capsys,
                                                                            monkeypatch):
    """Nothing listening, and a server that is not Ray: the probe (a TCP
    connect and one gRPC call, each bounded by CONNECT_SECONDS) refuses
    both, and ray.init, which would retry for minutes, is never called."""
    import ray

    from tfstyle.workflows import ray_engine

    assert ray_engine.CONNECT_SECONDS <= 10
    tried = []

    def never(*args, **kwargs):
        tried.append(kwargs)
        raise AssertionError("ray.init was called")
    monkeypatch.setattr(ray, "init", never)
    server = HTTPServer(("127.0.0.1", 0), _NotRay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for address in (f"127.0.0.1:{free_port()}", f"127.0.0.1:{server.server_port}"):
            code = cli("batch", "--contents", folder / "p1.png", "--styles", folder / "s1.png",
                       "-o", folder / "out", "--engine", "ray", "--ray-address", address)
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1, err
            assert "--ray-address" in err and address in err
            assert not (folder / "out").exists()
    finally:
        server.shutdown()
    assert tried == []


# How a task's failure is told: no Ray instance needed -----------------------

def ray_errors():
    """Ray's exceptions as ray.get raises them: (error, expected one line)."""
    from ray import exceptions as rex

    cause = OSError(28, "No space left on device")
    task = rex.RayTaskError("_call", "Traceback (most recent call last):\n  ...\nOSError: ...",
                            cause, proctitle="ray::_call", pid=1, ip="127.0.0.1")
    retried = "Ray task failed after 3 retries: "
    return [  # Ray's own wording may change: its first words are enough
        (task.as_instanceof_cause(), "OSError: [Errno 28] No space left on device"),
        (task, "OSError: [Errno 28] No space left on device"),
        (rex.WorkerCrashedError(), retried + "WorkerCrashedError: The worker died"),
        (rex.NodeDiedError("node 10.0.0.2 died\nsee the logs"),
         retried + "NodeDiedError: node 10.0.0.2 died"),
        (rex.ObjectLostError("ab12", None, ""), retried + "ObjectLostError: Failed to retrieve "
                                                          "object ab12."),
        (rex.TaskUnschedulableError("no node has 4 GPUs"),
         "Ray could not run the task: TaskUnschedulableError: "),
    ]


def one_line_from(message, expected):
    claims_retries = "retries" in message
    return message.startswith(expected) and "\n" not in message \
        and claims_retries == ("retries" in expected)


def test_an_application_error_is_told_as_raised_and_only_lost_workers_claim_retries():
    from tfstyle.workflows.ray_engine import failure_message

    for error, expected in ray_errors():
        assert one_line_from(failure_message(error, 3), expected), (type(error), expected)
    assert failure_message(ray_errors()[0][0], 3) == "OSError: [Errno 28] No space left on device"


def test_the_batch_outcome_of_a_failed_task_names_its_own_error(folder, monkeypatch):
    from tfstyle.workflows import ray_engine
    from tfstyle.workflows.batch import JobTask, run_job_task
    from tfstyle.config import StyleConfig
    from tfstyle.workflows.jobs import cross_product

    jobs = cross_product(str(folder / "p1.png"), str(folder / "s*.png"), StyleConfig())
    errors = ray_errors()

    def ended(function, tasks, address, cpus, gpus, max_retries, started=None, polled=None):
        started()
        for index in range(len(tasks)):
            yield index, None, errors[index][0]

    monkeypatch.setattr(ray_engine, "_results", ended)
    heard = []
    tasks = [JobTask(job, str(folder / "out"), StyleConfig()) for job in jobs]
    ray_engine.run_on_ray(run_job_task, tasks, None, heard.append, max_retries=3)
    assert [o["status"] for o in heard] == ["failed"] * 4
    assert all(one_line_from(o["error"], expected) for o, (_, expected) in zip(heard, errors))
    assert [o["id"] for o in heard] == [j.id for j in jobs]
