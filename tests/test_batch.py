"""`tfstyle batch` on the local engine: manifests, cross products, one folder
per job, resumable after SIGKILL, failures kept local, bad input refused.

The command runs in this process (conftest.cli); a fresh process only where
it is killed."""

import json
import signal
import sys
from pathlib import Path

import pytest

from conftest import cli, cli_process, write_image
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.io.images import load_image
from tfstyle.workflows.jobs import assign_ids, cross_product, read_manifest

SHARED = ("--weights", "random", "--max-size", "40", "--iterations", "4", "--beta", "1e4",
          "--no-normalize")
# (conftest pins --jit off and --precision float32 as well.)
FAST = StyleConfig(weights="random", max_size=40, iterations=4, beta=1e4, normalize=False,
                   jit="off", precision="float32")


class Ran:
    """What `tfstyle batch` did in this process: its exit code and output."""

    def __init__(self, returncode, captured):
        self.returncode, self.stdout, self.stderr = returncode, captured.out, captured.err


@pytest.fixture
def batch(capsys, monkeypatch):
    """batch(*args): `tfstyle batch ARGS` in this process, with no fault armed."""
    monkeypatch.delenv("TFSTYLE_FAULT", raising=False)

    def run(*args):
        capsys.readouterr()
        code = cli("batch", *args)
        return Ran(code, capsys.readouterr())
    return run


@pytest.fixture
def folder(tmp_path):
    """photos/p1.png, photos/p2.png, paintings/s1.png, paintings/s2.png"""
    (tmp_path / "photos").mkdir()
    (tmp_path / "paintings").mkdir()
    for name, seed in (("p1", 1), ("p2", 2)):
        write_image(tmp_path / "photos" / f"{name}.png", 40, 48, seed)
    for name, seed in (("s1", 3), ("s2", 4)):
        write_image(tmp_path / "paintings" / f"{name}.png", 48, 48, seed)
    return tmp_path


def jobs_of(outdir):
    return {j["id"]: j for j in json.loads((outdir / "batch.json").read_text())["jobs"]}


def test_a_cross_product_runs_every_pair_into_its_own_folder_and_a_rerun_skips(folder, batch,
                                                                                own_networks):
    out = folder / "out"
    proc = batch("--contents", folder / "photos" / "*.png", "--styles",
                 folder / "paintings" / "*.png", "-o", out, *SHARED)
    assert proc.returncode == 0, proc.stderr
    jobs = jobs_of(out)
    assert sorted(jobs) == ["p1__s1", "p1__s2", "p2__s1", "p2__s2"]
    for name, job in jobs.items():
        assert job["status"] == "done" and job["iterations"] == 4 and job["host"]
        files = {p.name for p in (out / name).iterdir()}
        # As transfer writes them, plus the job's outcome.
        assert {f"{name}.png", f"{name}.json", f"{name}.loss.png", "job.json"} <= files
        record = json.loads((out / name / f"{name}.json").read_text())
        assert record["status"] == "finished" and record["inputs"]["content"].endswith(
            f"{name.split('__')[0]}.png")
        assert load_image(out / name / f"{name}.png").shape == (33, 40, 3)
    # One model and one trace for every job of the batch.
    assert sorted(j["traces"] for j in jobs.values()) == [0, 0, 0, 1]
    sheet = load_image(out / "contact_sheet.png")
    assert sheet.shape[0] > 40 and sheet.shape[1] > 4 * 40
    summary = json.loads((out / "batch.json").read_text())["summary"]
    assert summary["done"] == 4 and summary["failed"] == 0

    again = batch("--contents", folder / "photos" / "*.png", "--styles",
                  folder / "paintings" / "*.png", "-o", out, *SHARED)
    assert again.returncode == 0, again.stderr
    assert all(j["status"] == "skipped" for j in jobs_of(out).values())
    assert again.stderr.count("done earlier with the same settings") == 4
    # Other settings are other work: that job runs again.
    changed = batch("--contents", folder / "photos" / "p1.png", "--styles",
                    folder / "paintings" / "s1.png", "-o", out, *SHARED[:-1], "--normalize", "pair")
    assert changed.returncode == 0 and jobs_of(out)["p1__s1"]["status"] == "done"


def test_a_manifest_row_overrides_the_shared_settings(folder, batch):
    (folder / "jobs.csv").write_text(
        "id,content,style,beta,iterations\n"
        "first,photos/p1.png,paintings/s1.png,50,3\n"
        ',photos/p2.png,"paintings/s1.png,paintings/s2.png",,\n')
    out = folder / "out"
    proc = batch(folder / "jobs.csv", "-o", out, *SHARED)
    assert proc.returncode == 0, proc.stderr
    jobs = jobs_of(out)
    assert set(jobs) == {"first", "p2__s1+s2"}
    first = json.loads((out / "first" / "first.json").read_text())
    assert first["config"]["beta"] == 50 and first["iterations"] == 3
    both = json.loads((out / "p2__s1+s2" / "p2__s1+s2.json").read_text())
    assert both["config"]["beta"] == 1e4 and len(both["inputs"]["styles"]) == 2

    (folder / "jobs.jsonl").write_text(
        json.dumps({"content": "photos/p1.png", "style": ["paintings/s2.png"], "tv_weight": 1}) + "\n")
    jobs = read_manifest(folder / "jobs.jsonl", StyleConfig())
    assert jobs[0].content == folder / "photos" / "p1.png" and jobs[0].overrides == {"tv_weight": 1}


def test_a_failing_job_fails_alone_and_is_rerun_only_when_asked(folder, batch):
    (folder / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "jobs.csv").write_text("content,style\nphotos/p1.png,paintings/s1.png\n"
                                     "photos/broken.png,paintings/s1.png\n"
                                     "photos/p2.png,paintings/s1.png\n")
    out = folder / "out"
    proc = batch(folder / "jobs.csv", "-o", out, *SHARED)
    assert proc.returncode == 3, proc.stderr  # some jobs failed; the others ran
    assert "Traceback" not in proc.stderr
    jobs = jobs_of(out)
    assert jobs["p1__s1"]["status"] == "done" and jobs["p2__s1"]["status"] == "done"
    assert jobs["broken__s1"]["status"] == "failed"
    assert "broken.png" in jobs["broken__s1"]["error"] and "\n" not in jobs["broken__s1"]["error"]

    again = batch(folder / "jobs.csv", "-o", out, *SHARED)
    assert again.returncode == 3
    assert jobs_of(out)["broken__s1"]["reason"] == "failed earlier"
    assert "--retry-failed" in jobs_of(out)["broken__s1"]["error"]

    write_image(folder / "photos" / "broken.png", 40, 48, 9)  # the user mends the file
    fixed = batch(folder / "jobs.csv", "-o", out, "--retry-failed", *SHARED)
    assert fixed.returncode == 0, fixed.stderr
    assert [j["status"] for j in jobs_of(out).values()].count("done") == 1  # only the mended one
    assert jobs_of(out)["broken__s1"]["status"] == "done"


@pytest.mark.slow
def test_a_killed_batch_resumes_its_interrupted_job_from_the_checkpoint(folder, batch):
    """SIGKILL mid-job (at its third checkpoint, an event rather than a
    moment, so it falls alike on every CPU): the killed batch runs in a
    process of its own, the rerun in this one."""
    out = folder / "out"
    args = ["--contents", folder / "photos" / "p1.png", "--styles", folder / "paintings" / "*.png",
            "-o", out, "--weights", "random", "--max-size", "40", "--iterations", "24",
            "--checkpoint-every", "3", "-q"]
    run = cli_process("batch", *args, env={"TFSTYLE_FAULT": "checkpoint:3:KILL"})
    assert run.returncode == -signal.SIGKILL, run.stderr
    record = out / "p1__s1" / "p1__s1.json"
    killed = json.loads(record.read_text())
    assert killed["status"] == "running" and killed["iterations"] == 9
    assert not (out / "p1__s2").exists()  # the batch died in its first job

    proc = batch(*args)
    assert proc.returncode == 0, proc.stderr
    jobs = jobs_of(out)
    assert jobs["p1__s1"]["reason"] == "resume" and jobs["p1__s2"]["status"] == "done"
    final = json.loads(record.read_text())
    assert final["status"] == "finished" and final["iterations"] == 24
    assert final["resumed_from"] == killed["iterations"]
    assert [h["iteration"] for h in final["history"]] == list(range(1, 25))


@pytest.mark.parametrize("manifest, text, expected", [
    ("jobs.txt", "content,style\n", "must be CSV"),
    ("jobs.csv", "content,style,bta\nphotos/p1.png,paintings/s1.png,3\n", "jobs.csv row 2: unknown setting 'bta'"),
    ("jobs.csv", "content,style,iterations\nphotos/p1.png,paintings/s1.png,many\n", "jobs.csv row 2: iterations"),
    ("jobs.csv", "id,content,style\na,photos/p1.png,paintings/s1.png\na,photos/p2.png,paintings/s1.png\n",
     "jobs.csv row 2: duplicate id 'a'"),
    ("jobs.jsonl", '{"content": "photos/p1.png", "style": "paintings/s1.png"}\n[1]\n', "jobs.jsonl line 2"),
    ("jobs.csv", "content,style,pooling\nphotos/p1.png,paintings/s1.png,median\n", "jobs.csv row 2: pooling"),
])
def test_bad_manifests_are_refused_before_any_job_runs(folder, batch, manifest, text, expected):
    (folder / manifest).write_text(text)
    out = folder / "out"
    proc = batch(folder / manifest, "-o", out, *SHARED)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert not out.exists()


def test_a_glob_matching_nothing_is_refused(folder, batch):
    proc = batch("--contents", folder / "photos" / "*.jpg", "--styles",
                 folder / "paintings" / "*.png", "-o", folder / "out")
    assert proc.returncode == 2 and "--contents" in proc.stderr and "matches no files" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_ids_are_readable_and_unique_when_names_collide(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        write_image(tmp_path / sub / "photo.png", 32, 32, 1)
    write_image(tmp_path / "s.png", 32, 32, 2)
    jobs = cross_product(str(tmp_path / "*" / "photo.png"), str(tmp_path / "s.png"), StyleConfig())
    ids = [j.id for j in jobs]
    assert len(set(ids)) == 2 and all(i.startswith("photo__s-") for i in ids)
    # Deterministic: the same inputs give the same ids.
    assert ids == [j.id for j in cross_product(str(tmp_path / "*" / "photo.png"),
                                               str(tmp_path / "s.png"), StyleConfig())]
    with pytest.raises(ConfigError, match="the same job appears twice"):
        assign_ids([jobs[0].__class__("", jobs[0].content, jobs[0].styles, {}, "row 2")] * 2)


@pytest.mark.parametrize("options, expected", [
    (["--engine", "nope"], "--engine"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address: goes with --engine ray"),
    (["--engine", "ray", "--cpus-per-job", "0"], "--cpus-per-job"),
    (["--engine", "ray", "--gpus-per-job", "-1"], "--gpus-per-job"),
])
def test_bad_engine_options_are_one_line_before_anything_is_written(folder, batch, options,
                                                                       expected):
    out = folder / "out"
    proc = batch("--contents", folder / "photos" / "p1.png", "--styles",
                 folder / "paintings" / "s1.png", "-o", out, *options)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and expected in proc.stderr, \
        proc.stderr
    assert not out.exists()


def test_the_ray_engine_without_ray_says_how_to_get_it(folder, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    code = cli("batch", "--contents", folder / "photos" / "p1.png", "--styles",
               folder / "paintings" / "s1.png", "-o", folder / "out", "--engine", "ray")
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "tfstyle[ray]"' in err and err.count("\n") == 1


# Never lose work: errors that are not tfstyle's own -------------------------


@pytest.mark.parametrize("error, line", [
    (OSError(28, "No space left on device"), "OSError: [Errno 28] No space left on device"),
    (MemoryError("out of\n  memory"), "MemoryError: out of memory"),
])
def test_an_unexpected_error_fails_its_job_alone_and_the_batch_goes_on(folder, monkeypatch,
                                                                         error, line):
    from tfstyle.workflows import runs
    from tfstyle.workflows.batch import run_batch

    jobs = cross_product(str(folder / "photos" / "*.png"), str(folder / "paintings" / "*.png"),
                         FAST)[:3]
    assert [j.id for j in jobs] == ["p1__s1", "p1__s2", "p2__s1"]
    checkpoint = runs.TransferRun.checkpoint

    def full_disk(self, iterate):  # the second job's snapshot cannot be written
        if self.output.stem == "p1__s2":
            raise error
        return checkpoint(self, iterate)

    monkeypatch.setattr(runs.TransferRun, "checkpoint", full_disk)
    out = folder / "out"
    record = run_batch(jobs, out, FAST, checkpoint_every=2)
    statuses = {o["id"]: o["status"] for o in record["jobs"]}
    assert statuses == {"p1__s1": "done", "p1__s2": "failed", "p2__s1": "done"}
    assert record["jobs"][1]["error"] == line
    written = json.loads((out / "p1__s2" / "job.json").read_text())
    assert written["status"] == "failed" and written["error"] == line
    assert jobs_of(out)["p1__s2"]["error"] == line
    summary = json.loads((out / "batch.json").read_text())["summary"]
    assert (summary["done"], summary["failed"]) == (2, 1)
    assert load_image(out / "p2__s1" / "p2__s1.png").shape == (33, 40, 3)
    assert (out / "contact_sheet.png").exists()
    # Failed for good with these settings until asked: the rerun runs nothing.
    again = run_batch(jobs, out, FAST, checkpoint_every=2)
    assert [o["status"] for o in again["jobs"]] == ["skipped", "failed", "skipped"]
    assert again["jobs"][1]["reason"] == "failed earlier" and line in again["jobs"][1]["error"]


# slow: an end-to-end CLI run; the lane keeps the library-level tests of the same paths
@pytest.mark.slow
def test_an_os_error_in_a_cli_batch_is_one_line_and_exit_3(folder, batch, monkeypatch):
    """TFSTYLE_FAULT raises at the second job's start, as a full disk would."""
    from tfstyle import faults

    out = folder / "out"
    monkeypatch.setattr(faults, "_counts", {})  # counted from this run's start
    monkeypatch.setenv("TFSTYLE_FAULT", "job:2:OSError")
    proc = batch("--contents", folder / "photos" / "*.png", "--styles",
                 folder / "paintings" / "*.png", "-o", out, *SHARED, "-q")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    line = "OSError: [Errno 28] No space left on device (injected)"
    # --quiet hides the progress, not the failure: its one line alone.
    [shown] = proc.stderr.splitlines()
    assert shown.split()[:2] == ["failed", "p1__s2"] and shown.endswith(f"s  {line}"), shown
    jobs = jobs_of(out)
    assert [jobs[k]["status"] for k in ("p1__s1", "p1__s2", "p2__s1", "p2__s2")] == \
        ["done", "failed", "done", "done"]
    assert jobs["p1__s2"]["error"] == line
    assert json.loads((out / "batch.json").read_text())["summary"]["failed"] == 1
    assert (out / "contact_sheet.png").exists() and "failed" in proc.stdout  # the table


def test_a_manifests_mask_region_init_and_weights_paths_are_read_from_its_folder(folder,
                                                                                 monkeypatch):
    from tfstyle.io.images import load_mask
    from tfstyle.workflows.inputs import load_masks

    sub = folder / "sub"
    sub.mkdir()
    for name, seed in (("mask.png", 5), ("start.png", 6), ("regions.png", 7)):
        write_image(sub / name, 40, 48, seed)
    (sub / "vgg.weights.h5").write_bytes(b"not read here")
    (sub / "jobs.csv").write_text(
        "id,content,style,masks,style_masks,init,weights\n"
        'masked,../photos/p1.png,"../paintings/s1.png,../paintings/s2.png",'
        '"mask.png,mask.png","-,mask.png",start.png,vgg.weights.h5\n'
        "plain,../photos/p2.png,../paintings/s1.png,,,noise,random\n")
    (sub / "jobs.jsonl").write_text(json.dumps(
        {"id": "regions", "content": "../photos/p1.png", "style": "../paintings/s1.png",
         "regions": "regions.png", "region_styles": ["#ff0000=../paintings/s2.png"]}) + "\n")
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    write_image(elsewhere / "mask.png", 48, 40, 8)  # what a cwd-relative read would find
    monkeypatch.chdir(elsewhere)
    masked, plain = (j.config(FAST) for j in read_manifest(sub / "jobs.csv", FAST))
    assert masked.masks == (str(sub / "mask.png"),) * 2
    assert masked.style_masks == ("-", str(sub / "mask.png"))
    assert masked.init == str(sub / "start.png") and masked.init_path == sub / "start.png"
    assert masked.weights == str(sub / "vgg.weights.h5")
    assert (plain.init, plain.weights, plain.masks) == ("noise", "random", None)
    [regions] = (j.config(FAST) for j in read_manifest(sub / "jobs.jsonl", FAST))
    assert regions.regions == str(sub / "regions.png")
    [(colour, painting)] = regions.region_colours
    assert colour == (255, 0, 0) and Path(painting).is_absolute()
    assert Path(painting).samefile(folder / "paintings" / "s2.png")
    # The run reads the manifest's mask, not the one in the current folder.
    photo = load_image(folder / "photos" / "p1.png")
    masks, style_masks = load_masks(masked, photo, [photo, photo])
    assert masks[0].shape == load_mask(sub / "mask.png").shape == (40, 48)
    assert style_masks[0] is None and style_masks[1].shape == (40, 48)


@pytest.mark.slow
def test_a_job_killed_after_its_last_checkpoint_finishes_on_the_rerun(folder, batch):
    """Defect 5: the checkpoint interval divides the iterations, and the
    kill comes after the last checkpoint, before the final image. The
    killed batch runs in a process of its own; the reruns in this one."""
    out = folder / "out"
    args = ["--contents", folder / "photos" / "p1.png", "--styles", folder / "paintings" / "s1.png",
            "-o", out, "--weights", "random", "--max-size", "40", "--iterations", "6",
            "--beta", "1e4", "--no-normalize", "--checkpoint-every", "3", "-q"]
    killed = cli_process("batch", *args, env={"TFSTYLE_FAULT": "checkpoint:2:KILL"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # the fault did happen
    record = out / "p1__s1" / "p1__s1.json"
    seen = json.loads(record.read_text())
    assert (seen["status"], seen["iterations"]) == ("running", 6)
    assert not (out / "p1__s1" / "p1__s1.png").exists()

    again = batch(*args)
    assert again.returncode == 0, again.stderr
    job = jobs_of(out)["p1__s1"]
    assert job["status"] == "done" and job["iterations"] == 6, job
    final = json.loads(record.read_text())
    assert final["status"] == "finished" and final["iterations"] == 6
    assert load_image(out / "p1__s1" / "p1__s1.png").shape == (33, 40, 3)
    # Done, not failed for good: a third run skips it.
    assert batch(*args).returncode == 0
    assert jobs_of(out)["p1__s1"]["status"] == "skipped"


def test_a_job_recorded_under_the_old_job_digest_is_kept_or_resumed(folder, batch,
                                                                     monkeypatch):
    """Records stamped before job digests were plan digests: the run's own
    settings digest and length say it is this job, so it is skipped when
    done and resumed when it stopped, never restarted from nothing. The
    paths are relative, as a shell's glob gives them."""
    from tfstyle.workflows.batch import plan_job
    from tfstyle.workflows.jobs import cross_product

    monkeypatch.chdir(folder)
    out = folder / "out"
    args = ["--contents", "photos/p1.png", "--styles", "paintings/s1.png", "-o", "out", *SHARED]
    assert batch(*args).returncode == 0
    path = out / "p1__s1" / "p1__s1.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "batch_settings": "0" * 40}))  # an older formula's
    again = batch(*args)
    assert again.returncode == 0 and jobs_of(out)["p1__s1"]["status"] == "skipped", again.stderr

    (job,) = cross_product("photos/p1.png", "paintings/s1.png", FAST)
    stopped = {**record, "batch_settings": "0" * 40, "status": "running",
               "checkpoint": record["output"]}
    path.write_text(json.dumps(stopped))
    assert plan_job(job, out, job.config(FAST))[0] == "resume"
    # Another length, or other settings, is other work.
    assert plan_job(job, out, job.config(FAST.replace(iterations=5)))[0] == "run"
    assert plan_job(job, out, job.config(FAST.replace(beta=1e3)))[0] == "run"
    # A run taken on past its plan (tfstyle resume --iterations 8) is not this job's.
    path.write_text(json.dumps({**stopped, "iterations": 8}))
    assert plan_job(job, out, job.config(FAST))[0] == "run"


# The disk first --------------------------------------------------------------


def test_a_batch_the_disk_cannot_hold_is_refused_before_any_job_runs(folder, batch,
                                                                      monkeypatch):
    """Four jobs at 40 px: each its image, plot and record, and the
    checkpoints of the job in flight. With free disk for the bare images only: one line
    with the figures, exit 2, nothing written; with room: the batch runs,
    and a rerun, with every job done, needs nothing."""
    from collections import namedtuple

    from tfstyle.io import files

    usage = namedtuple("usage", "total used free")
    free = {"bytes": 4 * 40 * 40 * 3.0}
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: usage(1e12, 0, free["bytes"]))
    out = folder / "out"
    args = ("--contents", folder / "photos" / "*.png", "--styles", folder / "paintings" / "*.png",
            "-o", out, *SHARED)
    refused = batch(*args)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"{out}: needs about" in refused.stderr and "(outputs " in refused.stderr \
        and ", checkpoints " in refused.stderr and "but only 0.00 GB is free" in refused.stderr
    assert not out.exists()
    free["bytes"] = 1e12
    assert batch(*args).returncode == 0
    from tfstyle.workflows.batch import disk_needed

    jobs = cross_product(str(folder / "photos" / "*.png"), str(folder / "paintings" / "*.png"),
                         FAST)
    assert disk_needed(jobs, out, FAST) == {"outputs": 0.0, "checkpoints": 0.0}
    assert disk_needed(jobs, out, FAST, retry_failed=True) == {"outputs": 0.0,
                                                               "checkpoints": 0.0}
    fresh = disk_needed(jobs, folder / "other", FAST)
    # One job in flight here, its checkpoint and the next one; all four on Ray.
    assert fresh["checkpoints"] == 40 * 40 * (15 + 12)
    assert disk_needed(jobs, folder / "other", FAST, engine="ray")["checkpoints"] == \
        4 * fresh["checkpoints"]
    assert fresh["outputs"] >= 4 * 40 * 40 * 3


def test_a_job_stopped_by_an_interrupt_is_interrupted_not_failed(folder, monkeypatch):
    """A stop (here `Interrupted`, as a caller's callback may raise it mid-run)
    is not one job's failure: the job is "interrupted", its run saved as
    interrupted to resume from, and the batch stops there."""
    from tfstyle.errors import Interrupted, TfstyleError
    from tfstyle.workflows import runs
    from tfstyle.workflows.batch import run_batch

    jobs = cross_product(str(folder / "photos" / "*.png"), str(folder / "paintings" / "*.png"),
                         FAST)[:3]
    checkpoint = runs.TransferRun.checkpoint

    def stopped(self, iterate):
        checkpoint(self, iterate)
        if self.output.stem == "p1__s2":
            raise Interrupted("stopped")

    monkeypatch.setattr(runs.TransferRun, "checkpoint", stopped)
    out = folder / "out"
    record = run_batch(jobs, out, FAST, checkpoint_every=2)
    assert [(o["id"], o["status"]) for o in record["jobs"]] == \
        [("p1__s1", "done"), ("p1__s2", "interrupted")]
    assert record["interrupted"] and record["jobs"][1]["error"] is None
    run_record = json.loads((out / "p1__s2" / "p1__s2.json").read_text())
    assert run_record["status"] == "interrupted" and Path(run_record["checkpoint"]).exists()
    assert not issubclass(Interrupted, (TfstyleError, Exception))
