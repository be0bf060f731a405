"""The run plan, in-process and fast (the stand-in network): what remains of
a plan, where a checkpoint stands, and the defects of the "never lose work"
issue that need no process to show. The same invariants under real signals
and kills are in test_faults.py."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import write_image
from tfstyle.events import Iterate, only
from tfstyle import config as config_module
from tfstyle import faults
from tfstyle.workflows import runs
from tfstyle.workflows.resume import resume
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError, OutputError, RecordError
from tfstyle.io.images import ImageWarning, load_image
from tfstyle.io.files import load_array, write_json
from tfstyle.plan import Position, RunPlan, Scale, plan_run, remaining, settings_digest
from tfstyle.core.scales import fit_memory
from tfstyle.core.synthesis import _terms_at

CONFIG = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                     beta=1e4, weights="random", jit="off", precision="float32",
                     scales=(16, 32), scale_iterations=(6, 4), iterations=10, max_size=32)
PLAN = RunPlan((Scale((48, 64), 150), Scale((96, 128), 50)), "d")


# What remains -------------------------------------------------------------

@pytest.mark.parametrize("position, total, left", [
    (Position(0, 50), None, [(0, 100), (1, 50)]),  # the rest of the scale, then the next
    (Position(0, 50), 250, [(0, 100), (1, 100)]),  # more than planned: to the final scale
    (Position(0, 50), 120, [(0, 69), (1, 1)]),  # fewer: the later scales give first
    (Position(0, 149), 151, [(0, 1), (1, 1)]),
    (Position(1, 0), None, [(1, 50)]),  # a checkpoint at a scale's end
    (Position(1, 50), None, []),  # killed after its last checkpoint: nothing to run
    (Position(1, 50), 210, [(1, 10)]),
])
def test_what_remains_of_a_plan_by_hand(position, total, left):
    assert [(i, s.iterations) for i, s in remaining(PLAN, position, total)] == left
    for i, scale in remaining(PLAN, position, total):
        assert scale.size == PLAN.scales[i].size


def test_positions_and_records_of_a_plan():
    assert PLAN.total == 200 and PLAN.final_size == (96, 128)
    assert PLAN.done(Position(1, 20)) == 170
    assert PLAN.position_after(150) == Position(1, 0)
    assert PLAN.position_after(220) == Position(1, 70)
    assert RunPlan.from_dict(json.loads(json.dumps(PLAN.to_dict()))) == PLAN


def test_a_plan_reaches_the_final_size_of_its_scales():
    plan = plan_run(CONFIG, (24, 32))
    assert [s.size for s in plan.scales] == [(12, 16), (24, 32)]
    assert [s.iterations for s in plan.scales] == [6, 4]


def test_the_digest_holds_what_changes_results_and_resolves_the_defaults():
    base = settings_digest(CONFIG)
    for same in (dict(iterations=99, scale_iterations=(90, 9)), dict(jit="on"),
                 dict(tile_size=64), dict(memory_limit=3.0)):
        assert settings_digest(CONFIG.replace(**same)) == base, same
    assert settings_digest(CONFIG.replace(beta=2e4)) != base
    assert settings_digest(CONFIG.replace(seed=1)) != base
    default = CONFIG.replace(beta=None)
    assert settings_digest(default) == settings_digest(default.replace(beta=default.resolved_beta))


def test_a_batch_job_digest_is_the_plan_digest_with_its_files_and_length(tmp_path):
    from tfstyle.plan import run_length
    from tfstyle.workflows.batch import job_digest
    from tfstyle.workflows.jobs import Job

    job = Job("a", tmp_path / "p.png", (tmp_path / "s.png",))
    inputs = {"content": str(job.content), "styles": [str(job.styles[0])]}
    assert job_digest(job, CONFIG) == settings_digest(CONFIG, {**inputs, **run_length(CONFIG)})
    assert job_digest(job, CONFIG.replace(jit="on")) == job_digest(job, CONFIG)
    assert job_digest(job, CONFIG.replace(iterations=99)) != job_digest(job, CONFIG)


# Checkpoints and resumes ----------------------------------------------------

@pytest.fixture
def files(tmp_path):
    return (write_image(tmp_path / "c.png", 24, 32, 1), write_image(tmp_path / "s.png", 32, 32, 2),
            tmp_path / "out.png")


def interrupt_at(event, count):
    """A stand-in for faults.reached: Ctrl-C at the count-th `event`."""
    seen = []

    def reached(name):
        if name == event:
            seen.append(name)
            if len(seen) == count:
                raise KeyboardInterrupt
    return reached


def stop_at(iteration):
    def callback(iterate):
        if iterate.iteration == iteration:
            raise KeyboardInterrupt
    return only(Iterate, callback)


def test_a_run_stopped_at_a_coarse_scale_resumes_to_the_final_size(files, tiny):
    """Defect 1: the checkpoint of a coarse scale finished at that scale's size."""
    content, style, out = files
    run = runs.TransferRun(content, [style], out, checkpoint_every=2, plot=False)
    result = run.run(CONFIG, callback=stop_at(3), extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert result.interrupted and record["status"] == "interrupted"
    assert record["position"] == {"scale": 0, "done_in_scale": 3}
    assert record["plan"]["final_size"] == [24, 32] and load_image(out).shape[:2] == (12, 16)
    # The checkpoint is the exact float pixels, not an 8-bit image of them.
    assert np.array_equal(load_array(record["checkpoint"]), result.point)
    resumed = resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    final = json.loads(out.with_suffix(".json").read_text())
    assert resumed.iterations == 10 and final["status"] == "finished"
    assert load_image(out).shape[:2] == (24, 32)
    assert [h["iteration"] for h in final["history"]] == list(range(1, 11))
    assert final["history"][3]["total"] <= 1.01 * final["history"][2]["total"]
    assert final["settings_digest"] == record["settings_digest"]


def test_a_stop_as_the_plan_is_told_ends_a_resumed_run_where_it_stood(files, tiny):
    """Ctrl-C in the callback at Planned, before any work: the resumed run
    returns interrupted with its start, its record where it stood, and
    resumes again."""
    from tfstyle.events import Planned

    content, style, out = files
    runs.TransferRun(content, [style], out, checkpoint_every=2, plot=False).run(
        CONFIG, callback=stop_at(3), extractor=tiny)
    before = json.loads(out.with_suffix(".json").read_text())

    def stop_at_the_plan(event):
        if isinstance(event, Planned):
            raise KeyboardInterrupt
    result = resume(out.with_suffix(".json"), plot=False).run(callback=stop_at_the_plan,
                                                              extractor=tiny)
    after = json.loads(out.with_suffix(".json").read_text())
    assert result.interrupted and result.iterations == 3
    assert after["status"] == "interrupted" and after["position"] == before["position"]
    assert np.array_equal(load_array(after["checkpoint"]), load_array(before["checkpoint"]))
    final = resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert final.iterations == 10


def test_an_interrupt_between_scales_keeps_the_scale_before(files, tiny, monkeypatch):
    """Defect 3: a stop while the next scale's targets were encoded lost all."""
    content, style, out = files
    monkeypatch.setattr(faults, "reached", interrupt_at("scale", 2))
    result = runs.TransferRun(content, [style], out, plot=False).run(CONFIG, extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert result.interrupted and record["status"] == "interrupted"
    assert record["iterations"] == 6 and record["position"] == {"scale": 1, "done_in_scale": 0}
    assert load_image(out).shape[:2] == (12, 16)
    monkeypatch.undo()
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert json.loads(out.with_suffix(".json").read_text())["iterations"] == 10
    assert load_image(out).shape[:2] == (24, 32)


def test_the_auto_pyramid_resumes_as_planned(files, tiny, monkeypatch):
    """Defect 2: above PYRAMID_ABOVE a resume restarted the pyramid from a
    downsampled start; it continues the plan of its record."""
    monkeypatch.setattr(config_module, "PYRAMID_ABOVE", 24)
    monkeypatch.setattr(config_module, "PYRAMID_START", 8)
    content, style, out = files
    config = CONFIG.replace(scales=(), scale_iterations=None, iterations=12)
    runs.TransferRun(content, [style], out, plot=False).run(config, callback=stop_at(8),
                                                           extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert [s["size"] for s in record["plan"]["scales"]] == [[6, 8], [12, 16], [24, 32]]
    picked = resume(out.with_suffix(".json"), plot=False)
    assert picked.plan.to_dict() == record["plan"] and picked.start.done == 8
    picked.run(extractor=tiny)
    final = json.loads(out.with_suffix(".json").read_text())
    assert final["iterations"] == 12 and load_image(out).shape[:2] == (24, 32)
    # 8 of 8 at the coarsest done; then the plan's 3 at 12x16 and 1 at 24x32.
    assert [h["size"] for h in final["history"]][8:] == [[12, 16]] * 3 + [[24, 32]]


def test_a_killed_run_at_its_last_iteration_finishes_without_running(files, tiny):
    """Defect 5's root: a record at its planned total resumes to "finished"."""
    content, style, out = files
    run = runs.TransferRun(content, [style], out, checkpoint_every=1, plot=False)
    run.run(CONFIG, extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    # What a kill after the last checkpoint leaves: the record still running.
    exact, _ = runs.checkpoint_paths(out, 10)
    from tfstyle.io.files import save_array
    save_array(exact, load_image(out))
    write_json(out.with_suffix(".json"), {**record, "status": "running",
                                          "checkpoint": str(exact)})
    result = resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert result.iterations == 10 and not result.history[10:]
    assert json.loads(out.with_suffix(".json").read_text())["status"] == "finished"


def test_a_record_from_before_run_plans_still_resumes(files, tiny):
    content, style, out = files
    runs.TransferRun(content, [style], out, plot=False).run(
        CONFIG.replace(scales=(), scale_iterations=None, iterations=4), extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    for key in ("schema", "plan", "position", "settings_digest", "scales", "memory", "driver"):
        record.pop(key)
    record["config"]["beta"] = 1e4
    write_json(out.with_suffix(".json"), record)
    result = resume(out.with_suffix(".json"), 7, plot=False).run(extractor=tiny)
    assert result.iterations == 7 and load_image(out).shape[:2] == (24, 32)


def test_checkpoints_come_by_time_and_at_every_scale_end(files, tiny):
    content, style, out = files
    seen = {}

    def callback(iterate):  # the record as the run has it at iteration 7, scale 2's first
        if iterate.iteration == 7:
            seen.update(json.loads(out.with_suffix(".json").read_text()))
    run = runs.TransferRun(content, [style], out, plot=False, checkpoint_seconds=3600)
    run.run(CONFIG, callback=only(Iterate, callback), extractor=tiny)
    assert seen["status"] == "running" and seen["iterations"] == 6
    assert seen["position"] == {"scale": 0, "done_in_scale": 6}
    out.with_suffix(".json").unlink()
    times = runs.TransferRun(content, [style], out, plot=False, overwrite=True,
                             checkpoint_seconds=1e-9)
    times.run(CONFIG.replace(scales=(), scale_iterations=None, iterations=3),
              callback=only(Iterate, lambda it: seen.update(at=json.loads(
                  out.with_suffix(".json").read_text())["iterations"])), extractor=tiny)
    assert seen["at"] == 3  # every iteration checkpointed, before the callback hears it


# Errors, the quality step, paths --------------------------------------------

def test_the_result_is_on_disk_before_the_quality_step(files, tiny, monkeypatch):
    """Defect 4: an error or a stop in the quality step lost the result."""
    content, style, out = files

    def broken(*args, **kwargs):
        raise RuntimeError("the measure broke")
    monkeypatch.setattr(runs, "quality_of", broken)
    config = CONFIG.replace(scales=(), scale_iterations=None, iterations=3)
    runs.TransferRun(content, [style], out, plot=False).run(config, extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "finished" and "the measure broke" in record["quality"]["error"]

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runs, "quality_of", stopped)
    with pytest.raises(KeyboardInterrupt):
        runs.TransferRun(content, [style], out, plot=False, overwrite=True).run(
            config, extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "finished" and record["iterations"] == 3
    assert load_image(out).shape[:2] == (24, 32)


def test_an_error_that_is_not_tfstyles_keeps_the_last_iterate(files, tiny):
    content, style, out = files

    def full_disk(iterate):
        if iterate.iteration == 4:
            raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        runs.TransferRun(content, [style], out, plot=False).run(CONFIG, callback=only(Iterate, full_disk),
                                                                extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["status"] == "failed" and record["iterations"] == 4
    assert record["error"] == "OSError: [Errno 28] No space left on device"
    assert load_image(out).shape[:2] == (12, 16)
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert json.loads(out.with_suffix(".json").read_text())["status"] == "finished"


def test_the_record_names_every_file_absolutely(files, tiny, monkeypatch):
    """Defect 9: relative mask and start paths failed to resume elsewhere."""
    content, style, out = files
    monkeypatch.chdir(out.parent)
    write_image(out.parent / "m.png", 24, 32, 5)
    write_image(out.parent / "start.png", 24, 32, 6)
    config = CONFIG.replace(masks=("m.png",), init="start.png")
    runs.TransferRun(content, [style], out, plot=False).run(config, callback=stop_at(2),
                                                           extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["masks"] == [str(out.parent / "m.png")]
    assert record["config"]["init"] == str(out.parent / "start.png")


def test_memory_is_planned_for_the_largest_scale_run():
    """Defect 7: --scales above --max-size was checked at --max-size."""
    config = CONFIG.replace(scales=(32, 128), scale_iterations=(1, 1))
    plan = plan_run(config, (24, 32))
    run_config, memory = fit_memory(plan, config, config.layers)
    assert max(plan.scales[-1].size) == 128 and memory.shape == plan.scales[-1].size


def test_an_iterate_on_an_earlier_trial_point_gets_its_own_terms(tiny):
    """Defect 14: such an iterate recorded NaN terms (and bare NaN in JSON)."""
    from conftest import smooth_image
    from tfstyle.core.objective import Objective

    content, style = smooth_image(24, 32, 1), smooth_image(32, 32, 2)
    objective = Objective(content, [style], CONFIG, tiny)
    earlier, later = smooth_image(24, 32, 3), smooth_image(24, 32, 4)
    last = {"x": later, "terms": {"content": -1.0, "style": -1.0}}
    terms = _terms_at(objective, last, earlier)
    assert terms == pytest.approx({k: v for k, v in objective.values(earlier).items()
                                   if k in objective.term_names})
    assert _terms_at(objective, last, later) is last["terms"]


def test_json_records_never_hold_a_bare_nan(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": float("nan"), "b": [np.float32("inf"), 1.5],
                                            "c": np.array([1.0, np.nan])})
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == \
        {"a": None, "b": [None, 1.5], "c": [1.0, None]}


def test_later_video_frames_run_one_scale_at_the_final_size(tmp_path, tiny, monkeypatch):
    """Defect 2, for video: above PYRAMID_ABOVE every later frame re-climbed
    the pyramid from a shrunk start."""
    from test_video import make_clip, pan
    from tfstyle.workflows.video import stylize_video
    from tfstyle.workflows.video_settings import VideoSettings

    monkeypatch.setattr(config_module, "PYRAMID_ABOVE", 24)
    monkeypatch.setattr(config_module, "PYRAMID_START", 12)
    source, style = make_clip(tmp_path, pan(3, 32, 40))
    config = CONFIG.replace(scales=(), scale_iterations=None, iterations=4, max_size=40)
    stylize_video(source, [style], tmp_path / "out.gif", config, VideoSettings(),
                  extractor=tiny)
    plans = [json.loads((tmp_path / "out.frames" / f"frame_{t:04d}.json").read_text())["plan"]
             for t in (1, 2, 3)]
    assert len(plans[0]["scales"]) == 3  # a fresh start climbs the pyramid
    for plan in plans[1:]:
        assert [s["size"] for s in plan["scales"]] == [[32, 40]]


# What the review of the change found ----------------------------------------

def test_a_resume_starts_exactly_where_its_checkpoint_stood(files, tiny):
    """The resumed process's first evaluation is the checkpoint's last loss:
    the same pixels (not an 8-bit image of them), the same objective."""
    content, style, out = files
    runs.TransferRun(content, [style], out, checkpoint_every=1, plot=False).run(
        CONFIG, callback=stop_at(8), extractor=tiny)
    before = json.loads(out.with_suffix(".json").read_text())
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    after = json.loads(out.with_suffix(".json").read_text())
    assert after["initial_loss"] == pytest.approx(before["history"][-1]["total"], rel=1e-5)


def test_a_luminance_run_resumes_from_the_networks_pixels(files, tiny):
    """Under luminance-only transfer the network optimises pixels that start
    grey, and the user sees the photo's colours on their luminance: the
    checkpoint holds the network's pixels, and the resume starts there."""
    content, style, out = files
    config = CONFIG.replace(preserve_color="luminance")
    runs.TransferRun(content, [style], out, checkpoint_every=1, plot=False).run(
        config, callback=stop_at(8), extractor=tiny)
    before = json.loads(out.with_suffix(".json").read_text())
    pixels, shown = load_array(before["checkpoint"]), load_image(out)
    # The network's pixels, not the photo's colours rendered on them.
    assert np.abs(pixels - shown).max() > 5
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    after = json.loads(out.with_suffix(".json").read_text())
    assert after["initial_loss"] == pytest.approx(before["history"][-1]["total"], rel=1e-5)


def test_a_resume_never_finishes_short_of_the_final_size(files, tiny):
    content, style, out = files
    runs.TransferRun(content, [style], out, plot=False).run(CONFIG, callback=stop_at(6),
                                                           extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["position"] == {"scale": 0, "done_in_scale": 6}  # stopped at 6 of 6
    with pytest.raises(ConfigError, match="ask for at least 7"):
        resume(out.with_suffix(".json"), 6)
    # remaining itself never ends short of the final scale either.
    assert remaining(PLAN, Position(0, 150), 150) == [(1, Scale((96, 128), 1))]


def test_a_resume_keeps_the_optimiser_its_plan_chose(files, tiny):
    """The memory budget picks scipy or the projected L-BFGS at the start; a
    resume under another budget must not switch."""
    content, style, out = files
    runs.TransferRun(content, [style], out, checkpoint_every=1, plot=False).run(
        CONFIG, callback=stop_at(3), extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["plan"]["driver"] == record["driver"] == "lbfgs"
    record["plan"]["driver"] = "lbfgs-projected"  # as a print under a small budget has it
    write_json(out.with_suffix(".json"), record)
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert json.loads(out.with_suffix(".json").read_text())["driver"] == "lbfgs-projected"


def test_an_edited_record_or_a_damaged_checkpoint(files, tiny):
    content, style, out = files
    runs.TransferRun(content, [style], out, checkpoint_every=1, plot=False).run(
        CONFIG, callback=stop_at(3), extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    write_json(out.with_suffix(".json"), {**record, "config": {**record["config"], "seed": 7}})
    with pytest.raises(RecordError, match="do not match"):
        resume(out.with_suffix(".json"))
    write_json(out.with_suffix(".json"), record)
    Path(record["checkpoint"]).write_bytes(b"torn")
    with pytest.warns(ImageWarning, match="8-bit image"):
        picked = resume(out.with_suffix(".json"))
    # A stopped run's record names no preview: its output is the same pixels.
    assert np.array_equal(picked.start.x, load_image(record.get("checkpoint_image")
                                                      or record["output"]))


def test_pixels_and_record_agree_when_a_checkpoint_write_fails(files, tiny, monkeypatch):
    """A full disk while the second checkpoint's pixels are written: the
    record still names the first checkpoint, whose pixels are whole."""
    content, style, out = files
    from tfstyle.io.files import save_array

    writes = []

    def full_disk(path, array):
        writes.append(path)
        if len(writes) >= 2:
            raise OutputError(f"{path}: cannot write (No space left on device)")
        return save_array(path, array)
    monkeypatch.setattr(runs, "save_array", full_disk)
    with pytest.raises(OutputError):
        runs.TransferRun(content, [style], out, checkpoint_every=2, plot=False).run(
            CONFIG, extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["iterations"] == 2 and record["status"] == "failed"
    assert "No space left on device" in record["error"]
    pixels = load_array(record["checkpoint"])
    assert pixels.shape[:2] == tuple(record["plan"]["scales"][0]["size"])
    monkeypatch.undo()
    resume(out.with_suffix(".json"), plot=False).run(extractor=tiny)
    assert json.loads(out.with_suffix(".json").read_text())["status"] == "finished"


def test_a_stop_before_the_first_iterate_is_an_interrupt(files, tiny, monkeypatch):
    """It was reported as a bad --scale-iterations (exit 2)."""
    content, style, out = files

    def reached(event):
        if event == "scale":
            raise KeyboardInterrupt
    monkeypatch.setattr(faults, "reached", reached)
    with pytest.raises(KeyboardInterrupt):
        runs.TransferRun(content, [style], out, plot=False).run(CONFIG, extractor=tiny)
    assert not out.exists()  # nothing to keep yet, and nothing pretends otherwise


def test_a_stop_at_the_final_scales_start_still_owes_the_final_size(files, tiny, monkeypatch):
    """Stopped as the last scale was about to start: the pixels are the scale
    before's, so a resume asking for no more must still run there."""
    content, style, out = files
    monkeypatch.setattr(faults, "reached", interrupt_at("scale", 2))
    runs.TransferRun(content, [style], out, plot=False).run(CONFIG, extractor=tiny)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="ask for at least 7"):
        resume(out.with_suffix(".json"), 6)
    two = RunPlan((Scale((12, 16), 6), Scale((24, 32), 4)), "d")
    assert remaining(two, Position(1, 0), 6) == [(1, Scale((24, 32), 1))]


def test_a_converged_scale_counts_the_iterations_it_ran():
    """After a scale that converged early, the budget is the iterations
    asked for less those actually run, not the plan's count."""
    three = RunPlan((Scale((8, 8), 6), Scale((16, 16), 6), Scale((32, 32), 6)), "d")
    # Scale 0 converged at 4; stopped 3 into scale 1: 7 done, the plan says 9.
    assert [(i, s.iterations) for i, s in remaining(three, Position(1, 3), 10, done=7)] == \
        [(1, 2), (2, 1)]


def test_old_checkpoints_are_dropped_but_no_other_runs(tmp_path):
    (tmp_path / "a.ckpt.000002.npy").write_bytes(b"")
    (tmp_path / "a.ckpt.000004.npy").write_bytes(b"")
    (tmp_path / "a.ckpt.ckpt.000007.npy").write_bytes(b"")  # the run whose output is a.ckpt.png
    runs.drop_checkpoints(tmp_path / "a.png", keep=tmp_path / "a.ckpt.000004.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt.000004.npy",
                                                           "a.ckpt.ckpt.000007.npy"]


def test_an_emergency_save_names_an_image_that_exists(files, tiny):
    content, style, out = files
    run = runs.TransferRun(content, [style], out, plot=False, checkpoint_seconds=0)

    def stuck(iterate):  # what the main thread does while the worker cannot stop
        if iterate.iteration == 5:
            assert run.emergency_save(host_only=True) == "written"
            raise KeyboardInterrupt
    run.run(CONFIG, callback=only(Iterate, stuck), extractor=tiny)
    record = json.loads(out.with_suffix(".json").read_text())
    shown = record.get("checkpoint_image") or record["output"]
    assert Path(shown).exists()
