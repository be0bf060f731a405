"""Video (Ruder et al. 2016): flow, reliability, the temporal term, video
files, and `stylize_video` with its record, resume, cuts and shots."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfstyle.workflows.video
from conftest import cli, cli_process, smooth_image
from tfstyle import faults
from tfstyle.workflows import flow
from tfstyle.config import StyleConfig
from tfstyle.errors import ImageError, OutputError, TfstyleError
from tfstyle.events import Frame, Iterate
from tfstyle.core.losses import temporal_loss
from tfstyle.core.objective import Objective
from tfstyle.workflows.video_settings import VideoSettings
from tfstyle.workflows.video import (frames_folder, frames_log_path,
                                     read_video_record, stylize_video, video_record_path,
                                     video_temporal_error)
from tfstyle.io.video import read_video, write_video


def frames_heard(heard):
    """A video callback noting the frame of each iteration it hears."""
    def callback(event):
        if isinstance(event, Frame) and isinstance(event.event, Iterate):
            heard.append(event.frame)
    return callback


def textured(height, width, seed=0):
    """Smooth waves plus fine detail, so the flow has something to follow."""
    rng = np.random.default_rng(seed)
    detail = np.kron(rng.uniform(0, 255, (height // 4 + 1, width // 4 + 1, 3)),
                     np.ones((4, 4, 1)))[:height, :width]
    return (0.6 * smooth_image(height, width, seed) + 0.4 * detail).astype(np.float32)


def pan(frames=5, height=40, width=48, step=2, seed=0):
    """Frames of a window moving right by `step` px per frame over a larger picture."""
    big = textured(height, width + step * frames, seed)
    return [big[:, k * step:k * step + width] for k in range(frames)]


# Flow and reliability ------------------------------------------------------

def test_flow_follows_a_translation_and_warping_undoes_it():
    a, b = pan(2, 64, 64, step=3)[:2]  # b(p) = a(p + (3, 0))
    forward, backward = flow.optical_flow(a, b), flow.optical_flow(b, a)
    inner = (slice(8, -8), slice(8, -8))
    assert np.allclose(np.median(forward[inner], (0, 1)), (-3, 0), atol=0.3)
    assert np.allclose(np.median(backward[inner], (0, 1)), (3, 0), atol=0.3)
    warped = flow.warp(a, backward)
    assert np.abs(warped - b)[8:-8, 8:-14].mean() < 0.1 * np.abs(a - b)[8:-8, 8:-14].mean()


def test_reliability_by_the_papers_criteria():
    shape = (10, 12, 2)
    right, left = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    right[..., 0], left[..., 0] = 2.0, -2.0
    # Consistent flows: trusted, except where the source lies outside frame a.
    c = flow.reliability(right, left)
    assert (c[:, :2] == 0).all() and (c[:, 2:] == 1).all()
    # Forward and backward flows that do not undo each other: disoccluded.
    assert (flow.reliability(right, right) == 0).all()
    # A motion boundary in the backward flow: zero along the step only.
    step = np.zeros(shape, np.float32)
    step[:, 6:, 1] = 1.0
    carried = -step  # a forward flow that undoes it everywhere
    c = flow.reliability(flow.warp(carried, step), step)
    assert (c[:, 5:7] == 0).all() and (c[:-1, :4] == 1).all()


# The temporal term ---------------------------------------------------------

def test_temporal_loss_by_hand_and_its_gradient():
    rng = np.random.default_rng(0)
    x, target = rng.uniform(0, 255, (2, 6, 5, 3)).astype(np.float32)
    c = (rng.uniform(size=(6, 5)) > 0.4).astype(np.float32)
    expected = np.sum(c[..., None] * (x.astype(np.float64) - target) ** 2) / x.size
    image = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(image)
        value = temporal_loss(image, tf.constant(target), tf.constant(c))
    grad = tape.gradient(value, image).numpy()
    assert abs(float(value) - expected) <= 1e-5 * expected
    assert np.allclose(grad, 2 * c[..., None] * (x - target) / x.size, rtol=1e-5, atol=1e-9)
    h = 1e-2
    for index in [(0, 0, 0), (3, 2, 1), (5, 4, 2)]:
        bumped = x.astype(np.float64).copy()
        bumped[index] += h
        numeric = (np.sum(c[..., None] * (bumped - target) ** 2) / x.size - expected) / h
        assert abs(numeric - grad[index]) <= 1e-3 * max(1.0, abs(numeric))


def test_the_temporal_term_joins_the_objective_with_its_rescaled_weight(tiny):
    content, style = smooth_image(32, 32, 1), smooth_image(32, 32, 2)
    target = smooth_image(32, 32, 3)
    c = np.ones((32, 32), np.float32)
    c[:, :10] = 0
    config = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1",), beta=10.0,
                         jit="off", precision="float32")
    objective = Objective(content, style, config, tiny, temporal=(0.5, target, c))
    values = objective.values(content)
    expected = np.sum(c[..., None] * (content - target) ** 2) / content.size
    assert abs(values["temporal"] - expected) <= 1e-5 * expected
    d_l = 16 * 16 * 6  # conv2_1 of the stand-in: positions x filters
    weight = objective.terms["temporal"].weight
    assert weight == 0.5 * d_l / 2
    total = values["content"] + 10.0 * values["style"] + weight * values["temporal"]
    assert abs(values["total"] - total) <= 1e-5 * total
    # Its gradient (with the other terms switched off) against finite differences.
    alone = Objective(content, style, config.replace(alpha=0.0, beta=1e-30), tiny,
                      temporal=(0.5, target, c))
    x = smooth_image(32, 32, 4)
    _, grad = alone.value_and_grad(x)
    h = 8.0  # the term is quadratic, so central differences are exact for any step
    for index in [(3, 20, 0), (30, 31, 2), (5, 2, 1)]:
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        numeric = (alone.value_and_grad(up)[0] - alone.value_and_grad(down)[0]) / (2 * h)
        assert abs(numeric - grad[index]) <= 1e-2 * max(1.0, abs(numeric)), (index, numeric)


# Video files ---------------------------------------------------------------

def flat_frames(count=12, size=(24, 32)):
    """Frame k is one flat grey of value 20 k, so a frame is known by its value."""
    return [np.full((*size, 3), 20.0 * k, np.float32) for k in range(count)]


@pytest.mark.parametrize("name, tolerance", [("clip.mp4", 4.0), ("clip.gif", 1.0),
                                             ("frames/", 0.0), ("frames", 0.0)])
def test_video_files_round_trip(tmp_path, name, tolerance):
    frames = flat_frames()
    path = write_video(tmp_path / name, frames, 12)
    clip = read_video(path, fps=12 if name.startswith("frames") else None)
    assert len(clip.frames) == 12 and clip.frames[0].shape == (24, 32, 3)
    assert max(np.abs(a - b).max() for a, b in zip(clip.frames, frames)) <= tolerance
    if name.endswith(".mp4"):
        assert clip.fps == 12.0


def ffmpeg_children() -> int:
    """This process's ffmpeg children, from /proc."""
    count = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as handle:
                name = handle.read()
        except (OSError, IndexError):
            continue
        count += int(fields[1]) == os.getpid() and "ffmpeg" in name
    return count


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes through /proc")
def test_a_pass_that_fails_midway_ends_its_ffmpeg_at_once(tmp_path, monkeypatch):
    """A pass over the source that fails (or is interrupted) midway ends its
    ffmpeg process then, even while the error, and its traceback, live on."""
    from tfstyle.io.video import open_video
    from tfstyle.workflows import video

    clip = open_video(write_video(tmp_path / "clip.mp4", flat_frames(), 12))

    def fail_midway(frames, settings):
        next(frames)
        assert ffmpeg_children() == 1
        raise RuntimeError("the cut pass failed (test)")
    monkeypatch.setattr(video, "plan_shots", fail_midway)
    assert ffmpeg_children() == 0
    with pytest.raises(RuntimeError) as failure:
        video._plan(clip, CONFIG, VideoSettings(), tmp_path / "out.mp4", False)
    assert failure.value.__traceback__ is not None and ffmpeg_children() == 0


def test_fps_start_and_duration_pick_the_nearest_frames(tmp_path):
    path = write_video(tmp_path / "clip.mp4", flat_frames(), 12)
    clip = read_video(path, fps=6, start=0.25, duration=0.5)
    # Output times 0.25, 0.417, 0.583 s are source frames 3, 5 and 7.
    assert [round(f.mean() / 20) for f in clip.frames] == [3, 5, 7]
    assert clip.fps == 6 and np.allclose(clip.times, [0.25, 0.25 + 1 / 6, 0.25 + 2 / 6])


def test_odd_sizes_are_padded_for_h264(tmp_path):
    frames = [textured(25, 31, k) for k in range(3)]
    clip = read_video(write_video(tmp_path / "odd.mp4", frames, 10))
    assert clip.frames[0].shape == (26, 32, 3)  # yuv420p needs even sides


@pytest.mark.parametrize("name, content, message", [
    ("missing.mp4", None, "no such file"),
    ("notes.txt", b"hello", "not a video"),
    ("broken.mp4", b"\x00\x01 not an mp4" * 50, "not a video ffmpeg can read"),
    ("broken.gif", b"GIF89a garbage", "not a GIF Pillow can read"),
])
def test_bad_videos_are_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as error:
        read_video(path)
    assert "\n" not in str(error.value)


# stylize_video -------------------------------------------------------------

CONFIG = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                     beta=1e4, iterations=8, max_size=48, weights="random", jit="off",
                     precision="float32")


def make_clip(tmp_path, frames):
    folder = tmp_path / "clip"
    write_video(folder, frames, 12)
    style = tmp_path / "style.png"
    Image.fromarray(smooth_image(48, 48, 9).astype(np.uint8)).save(style)
    return folder, style


def test_a_video_writes_frames_records_and_the_temporal_error(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(4))
    heard = []
    record = stylize_video(source, [style], tmp_path / "out.gif", CONFIG, VideoSettings(),
                           extractor=tiny, callback=frames_heard(heard), fps=12)
    assert record["status"] == "finished" and record["count"] == 4
    assert read_video(tmp_path / "out.gif").frames[0].shape == (40, 48, 3)
    saved = json.loads(video_record_path(tmp_path / "out.gif").read_text())
    assert saved == json.loads(json.dumps(record))
    assert [f["frame"] for f in saved["frames"]] == [1, 2, 3, 4]
    assert "temporal" not in saved["frames"][0]["losses"]
    assert all("temporal" in f["losses"] for f in saved["frames"][1:])
    assert saved["iterations"] == {"first": 8, "later": 4}
    assert [f["iterations"] for f in saved["frames"]] == [8, 4, 4, 4]
    assert saved["frames"][0]["temporal_error"] is None  # no frame before it
    errors = [f["temporal_error"] for f in saved["frames"][1:]]
    assert np.isclose(saved["temporal_error"], np.mean(errors))
    assert sorted(set(heard)) == [1, 2, 3, 4]
    folder = frames_folder(tmp_path / "out.gif")
    for k in range(1, 5):
        frame_record = json.loads((folder / f"frame_{k:04d}.json").read_text())
        assert frame_record["status"] == "finished" and frame_record["video"]["frame"] == k
        assert (folder / f"frame_{k:04d}.png").exists()


def test_temporal_consistency_beats_independent_frames(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(5, step=2, seed=3))
    config = CONFIG.replace(iterations=20)
    independent = stylize_video(source, [style], tmp_path / "a/", config,
                                VideoSettings(temporal_weight=0, frame_init="noise",
                                              frame_iterations=20), extractor=tiny, fps=12)
    consistent = stylize_video(source, [style], tmp_path / "b/", config,
                               VideoSettings(temporal_weight=0.05, frame_iterations=20),
                               extractor=tiny, fps=12)
    assert consistent["temporal_error"] < independent["temporal_error"] / 3
    # The record's figure is the library's measure of the frames the video shows.
    frames = read_video(source, fps=12).frames
    shown = [np.asarray(Image.open(tmp_path / "b" / f"frame_{k:04d}.png"), np.float32)
             for k in range(1, 6)]
    assert np.isclose(consistent["temporal_error"], video_temporal_error(frames, shown),
                      rtol=1e-5)
    assert len(list((tmp_path / "b").glob("frame_*.png"))) == 5


def test_a_video_begun_under_the_earlier_digest_resumes_with_its_frames(tmp_path, tiny,
                                                                        monkeypatch):
    """A record and frames stamped by an older tfstyle (its video digest of
    the same settings): the run resumes after its last finished frame."""
    source, style = make_clip(tmp_path, pan(4))
    output = tmp_path / "out.mp4"

    def stop_in_frame_3(event):
        if isinstance(event, Frame) and event.frame == 3 and isinstance(event.event, Iterate):
            raise KeyboardInterrupt

    # The older tfstyle: its formula wrote the digests.
    monkeypatch.setattr(tfstyle.workflows.video, "_digest", tfstyle.workflows.video.earlier_digest)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(source, [style], output, CONFIG, extractor=tiny, callback=stop_in_frame_3,
                      fps=12)
    monkeypatch.undo()
    heard = []
    record = stylize_video(source, [style], output, CONFIG, extractor=tiny,
                           callback=frames_heard(heard), fps=12)
    assert min(heard) == 3 and record["status"] == "finished" and record["count"] == 4


def test_a_frame_its_callback_stopped_is_not_kept_as_finished(tmp_path, tiny):
    """False from the callback ends the video like Ctrl-C: the frame it
    stopped is not finished, so the same call runs it again."""
    source, style = make_clip(tmp_path, pan(3))
    output = tmp_path / "out.mp4"

    def stop_in_frame_2(event):
        if isinstance(event, Frame) and event.frame == 2 and isinstance(event.event, Iterate):
            return False
        return None

    with pytest.raises(KeyboardInterrupt):
        stylize_video(source, [style], output, CONFIG, extractor=tiny, callback=stop_in_frame_2,
                      fps=12)
    assert [f["frame"] for f in read_video_record(output)["frames"]] == [1]
    heard = []
    stylize_video(source, [style], output, CONFIG, extractor=tiny, callback=frames_heard(heard),
                  fps=12)
    assert min(heard) == 2


def test_a_killed_run_resumes_after_its_last_finished_frame(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(4))
    output = tmp_path / "out.mp4"

    def kill_in_frame_3(event):
        if isinstance(event, Frame) and event.frame == 3 and isinstance(event.event, Iterate):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stylize_video(source, [style], output, CONFIG, extractor=tiny,
                      callback=kill_in_frame_3, fps=12)
    interrupted = json.loads(video_record_path(output).read_text())
    assert interrupted["status"] == "interrupted"
    assert [f["frame"] for f in interrupted["frames"]] == [1, 2]
    assert not output.exists()
    heard = []
    record = stylize_video(source, [style], output, CONFIG, extractor=tiny,
                           callback=frames_heard(heard), fps=12)
    assert min(heard) == 3 and record["status"] == "finished" and record["count"] == 4
    assert len(read_video(output).frames) == 4
    # Finished: the same command now refuses to write over it.
    with pytest.raises(Exception, match="already exists"):
        stylize_video(source, [style], output, CONFIG, extractor=tiny, fps=12)
    # Other settings are not mixed with these frames.
    with pytest.raises(Exception, match="other settings"):
        stylize_video(source, [style], output, CONFIG.replace(beta=1.0), extractor=tiny, fps=12)


def test_a_cut_starts_a_fresh_shot(tmp_path, tiny):
    frames = pan(3, seed=1) + pan(3, seed=2)
    source, style = make_clip(tmp_path, frames)
    record = stylize_video(source, [style], tmp_path / "out/", CONFIG, extractor=tiny, fps=12)
    assert [f["cut"] for f in record["frames"]] == [False, False, False, True, False, False]
    assert [f["shot"] for f in record["frames"]] == [0, 0, 0, 1, 1, 1]
    assert record["frames"][3]["fresh"] and record["frames"][3]["iterations"] == 8
    assert record["frames"][3]["temporal_error"] is None
    assert record["frames"][4]["temporal_error"] is not None


def test_fixed_shots_start_early_and_cross_fade(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(6))
    settings = VideoSettings(shot_length=3, shot_overlap=1)
    record = stylize_video(source, [style], tmp_path / "out/", CONFIG, settings,
                           extractor=tiny, fps=12)
    assert [f["shot"] for f in record["frames"]] == [0, 0, 0, 1, 1, 1]
    # Frame 4 carries on from the new shot's own lead-in, not fresh.
    assert [f["fresh"] for f in record["frames"]] == [True, False, False, False, False, False]
    # Frame 3 is shown as the cross-fade of the old shot's version and the
    # new shot's lead-in, half and half.
    folder = frames_folder(tmp_path / "out")
    old, lead = (np.asarray(Image.open(folder / name), np.float32)
                 for name in ("frame_0003.png", "lead_0003.png"))
    shown = np.asarray(Image.open(tmp_path / "out" / "frame_0003.png"), np.float32)
    assert np.abs(old - lead).mean() > 1.0
    assert np.abs(shown - (old + lead) / 2).max() <= 1.0


def test_colour_preservation_and_several_styles(tmp_path, tiny):
    from tfstyle.workflows.inputs import load_styles
    from tfstyle.core.synthesis import stylize

    source, style = make_clip(tmp_path, pan(3))
    second = tmp_path / "second.png"
    Image.fromarray(textured(48, 48, 11).astype(np.uint8)).save(second)
    config = CONFIG.replace(preserve_color="luminance", style_blend=(0.7, 0.3))
    record = stylize_video(source, [style, second], tmp_path / "out/", config,
                           extractor=tiny, fps=12)
    assert record["status"] == "finished"
    frame = np.asarray(Image.open(tmp_path / "out" / "frame_0002.png"), np.float32)
    assert np.abs(frame[..., 0] - frame[..., 2]).mean() > 1.0  # in colour, not grey
    # The blend: the target Grams are 0.7 A_1 + 0.3 A_2, so along the blends
    # (1 - t, t) of the two paintings the style loss at a fixed image is a
    # quadratic in t (the normalisation is the same for every blend that
    # keeps both). Three other blends fix the quadratic; at t = 0.3 it must
    # give frame 1's starting style loss, as the video recorded it.
    started = json.loads((frames_folder(tmp_path / "out") / "frame_0001.json").read_text())
    photo = read_video(source, fps=12).frames[0]

    def style_loss(t):
        blend = config.replace(style_blend=(1 - t, t), iterations=1)
        return stylize(photo, load_styles([style, second], blend, None), blend,
                       extractor=tiny).initial["style"]
    ts = np.array([0.1, 0.5, 0.9])
    losses = np.array([style_loss(t) for t in ts])
    assert np.ptp(losses) > 0.05 * losses.max()  # the paintings differ: the blend shows
    expected = np.polyval(np.polyfit(ts, losses, 2), 0.3)
    assert started["initial_terms"]["style"] == pytest.approx(expected, rel=1e-4)
    assert abs(expected - style_loss(0.5)) > 0.01 * expected  # not the even blend


# The command ---------------------------------------------------------------

# The command end to end: the fast lane keeps stylize_video's and the mp4 round trip's tests.
@pytest.mark.slow
def test_tfstyle_video_writes_an_mp4(tmp_path, capsys):
    source, style = make_clip(tmp_path, pan(3, 32, 40))
    out = tmp_path / "out.mp4"
    code = cli("video", source, style, "-o", out, "--weights", "random", "--beta", "1e6",
               "--iterations", 4, "--max-size", 40, "--fps", 12, "--quiet")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert len(read_video(out).frames) == 3
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["count"] == 3 and record["temporal_error"] is not None


@pytest.mark.parametrize("args, message", [
    (["missing.mp4"], "missing.mp4: no such file or folder"),
    (["notes.txt"], "not a video"),
    (["clip", "--frame-init", "sideways"], "--frame-init: expected one of warped, content, noise"),
    (["clip", "--fps", "0"], "--fps: expected a rate above 0, received 0.0"),
])
def test_tfstyle_video_bad_input_is_one_line(tmp_path, monkeypatch, capsys, args, message):
    make_clip(tmp_path, pan(2))
    (tmp_path / "notes.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    code = cli("video", *args, "style.png", "-o", "out.mp4", "--weights", "random")
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


@pytest.mark.slow
def test_shots_run_as_ray_tasks_give_the_local_video(tmp_path, capsys):
    """Ray starts a local instance: the Ray run is a process of its own, so
    this one never becomes a Ray driver; the local run is in this process."""
    pytest.importorskip("ray")
    source, style = make_clip(tmp_path, pan(4, 32, 40))
    common = ["--weights", "random", "--beta", "1e6", "--iterations", 4, "--max-size", 40,
              "--fps", 12, "--shot-length", 2, "--shot-overlap", 1, "--quiet"]
    assert cli("video", source, style, "-o", tmp_path / "local/", *common) == 0, \
        capsys.readouterr().err
    ray = cli_process("video", source, style, "-o", tmp_path / "ray/", *common,
                      "--engine", "ray")
    assert ray.returncode == 0, ray.stderr
    record = json.loads((tmp_path / "ray.json").read_text())
    assert record["engine"] == "ray" and record["shots"] == [[1, 2], [3, 4]]
    assert [f["frame"] for f in record["frames"]] == [1, 2, 3, 4]
    assert (tmp_path / "ray.frames" / "lead_0002.png").exists()
    for k in range(1, 5):
        a, b = (np.asarray(Image.open(tmp_path / name / f"frame_{k:04d}.png"), np.float32)
                for name in ("local", "ray"))
        assert np.abs(a - b).mean() < 2.0  # the same computation; threads may round apart


# video-bench ---------------------------------------------------------------

def test_video_bench_reports_a_missing_temporal_error_as_na(tmp_path, tiny):
    """Two unrelated frames are a cut: no run has a temporal error (None),
    which once ended `tfstyle video-bench` in "internal error"."""
    from tfstyle.bench.speed import (VIDEO_HEADINGS, video_flicker, video_report_line,
                                     video_table_rows)

    source, style = make_clip(tmp_path, pan(1, seed=1) + pan(1, seed=2))
    heard = []
    rows = video_flicker(source, style, tmp_path, CONFIG.replace(max_size=40), 2,
                         callback=lambda event: heard.append(video_report_line(event.values)),
                         extractor=tiny)
    assert len(rows) == 4 and all(r["temporal_error"] is None for r in rows)
    assert all(r["temporal_error_note"] == "no frame pair without a cut" for r in rows)
    assert all(r["style_loss"] > 0 for r in rows)
    assert all("temporal error n/a (no frame pair without a cut), style loss" in line
               for line in heard), heard
    table = video_table_rows(rows)
    assert all(len(cells) == len(VIDEO_HEADINGS) for cells in table)
    for cells in table:
        assert cells[2:5] == ["n/a (no frame pair without a cut)", "n/a", "n/a"]
        assert cells[6] != "n/a" and float(cells[6]) > 0  # the style loss still compares


def test_video_bench_ratios_against_a_zero_temporal_error():
    """A frozen video measures 0.00: shown as such, and no ratio divides by it."""
    from tfstyle.bench.speed import video_report_line, video_table_rows

    def row(run, weight, init, error, loss):
        return {"run": run, "temporal_weight": weight, "frame_init": init, "temporal_error": error,
                "temporal_error_note": None, "style_loss": loss, "seconds_per_frame": 1.0}

    rows = [row("content", 0, "content", 0.0, 2.0), row("noise", 0, "noise", 4.0, 4.0),
            row("ruder", 0.005, "warped", 1.0, 3.0)]
    table = video_table_rows(rows)
    assert table[2][2:5] == ["1.00", "n/a (against 0)", "0.250"]
    assert table[0][2:5] == ["0.00", "n/a (against 0)", "0.000"]
    assert table[2][5:8] == ["3.0000", "1.50", "0.75"]
    assert video_report_line(rows[0]) == "content: temporal error 0.00, style loss 2.0000"
# Never lose work -------------------------------------------------------------

@pytest.mark.parametrize("output, init, message", [
    ("out.png", None, "out.png: unsupported video type .png"),
    ("out.mp4", "missing.png", "missing.png: no such file"),
])
def test_bad_output_or_init_is_refused_before_the_clip_is_read(tmp_path, tiny, monkeypatch,
                                                              output, init, message):
    source, style = make_clip(tmp_path, pan(2))

    def no_reading(*args, **kwargs):
        raise AssertionError("the clip was read before the options were checked")
    monkeypatch.setattr("tfstyle.workflows.video.open_video", no_reading)
    config = CONFIG if init is None else CONFIG.replace(init=str(tmp_path / init))
    with pytest.raises(TfstyleError, match=message):
        stylize_video(source, [style], tmp_path / output, config, extractor=tiny, fps=12)
    assert not video_record_path(tmp_path / output).exists()
    assert not frames_folder(tmp_path / output).exists()


def test_a_failed_encode_keeps_the_frames_and_the_rerun_only_encodes(tmp_path, tiny,
                                                                    monkeypatch):
    source, style = make_clip(tmp_path, pan(3))
    output = tmp_path / "out.mp4"
    monkeypatch.setattr(faults, "_counts", {})
    monkeypatch.setenv("TFSTYLE_FAULT", "encode:1:OSError")
    with pytest.raises(OutputError, match="No space left on device") as error:
        stylize_video(source, [style], output, CONFIG, extractor=tiny, fps=12)
    assert "\n" not in str(error.value)
    failed = json.loads(video_record_path(output).read_text())
    assert failed["status"] == "failed" and "No space left on device" in failed["error"]
    assert [f["frame"] for f in failed["frames"]] == [1, 2, 3] and not output.exists()
    monkeypatch.delenv("TFSTYLE_FAULT")
    # The re-run stylises nothing and encodes; the record says "finished"
    # only once the video is on disk.
    status_at_encode, real_write = [], tfstyle.workflows.video.write_video

    def watched(*args):
        status_at_encode.append(json.loads(video_record_path(output).read_text())["status"])
        return real_write(*args)
    monkeypatch.setattr("tfstyle.workflows.video.write_video", watched)
    heard = []
    record = stylize_video(source, [style], output, CONFIG, extractor=tiny, fps=12,
                           callback=frames_heard(heard))
    assert heard == [] and status_at_encode == ["running"]
    assert record["status"] == "finished" and "error" not in record
    assert len(read_video(output).frames) == 3


def test_a_finished_record_without_its_video_encodes_again(tmp_path, tiny):
    # What an encode that failed after the record said "finished" left behind.
    source, style = make_clip(tmp_path, pan(2))
    output = tmp_path / "out.gif"
    stylize_video(source, [style], output, CONFIG, extractor=tiny, fps=12)
    output.unlink()
    heard = []
    record = stylize_video(source, [style], output, CONFIG, extractor=tiny, fps=12,
                           callback=frames_heard(heard))
    assert heard == [] and record["status"] == "finished"
    assert len(read_video(output).frames) == 2


def test_an_error_in_a_frame_marks_the_record_failed(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(3))
    output = tmp_path / "out/"

    def fail_in_frame_2(event):
        if isinstance(event, Frame) and event.frame == 2:
            raise ImageError("a frame could not be made (test)")
    with pytest.raises(ImageError):
        stylize_video(source, [style], output, CONFIG, extractor=tiny,
                      callback=fail_in_frame_2, fps=12)
    record = json.loads(video_record_path(output).read_text())
    assert record["status"] == "failed"
    assert record["error"] == "a frame could not be made (test)"
    assert [f["frame"] for f in record["frames"]] == [1]
    heard = []  # the same call resumes at the frame that failed
    record = stylize_video(source, [style], output, CONFIG, extractor=tiny,
                           callback=frames_heard(heard), fps=12)
    assert min(heard) == 2 and record["status"] == "finished" and "error" not in record


def test_a_callbacks_stop_marks_the_record_interrupted(tmp_path, tiny):
    from tfstyle.errors import Interrupted

    source, style = make_clip(tmp_path, pan(3))
    output = tmp_path / "out/"

    def stop_in_frame_2(event):
        if isinstance(event, Frame) and event.frame == 2:
            raise Interrupted("stopped by the caller (test)")
    with pytest.raises(Interrupted):
        stylize_video(source, [style], output, CONFIG, extractor=tiny,
                      callback=stop_in_frame_2, fps=12)
    record = json.loads(video_record_path(output).read_text())
    assert record["status"] == "interrupted" and "error" not in record


def test_the_record_is_current_after_every_frame(tmp_path, tiny):
    source, style = make_clip(tmp_path, pan(3))
    output = tmp_path / "out.gif"
    seen = {}

    def look_in_frame_3(event):
        if isinstance(event, Frame) and event.frame == 3 and not seen:
            seen["header"] = json.loads(video_record_path(output).read_text())
            seen["record"] = read_video_record(output)
    stylize_video(source, [style], output, CONFIG, extractor=tiny, callback=look_in_frame_3,
                  fps=12)
    header, record = seen["header"], seen["record"]
    assert header["status"] == "running" and header["frames_done"] == 2
    assert "frames" not in header  # the list is in the log, so each frame's write is small
    assert [f["frame"] for f in record["frames"]] == [1, 2]
    assert record["frames"][1]["iterations"] == 4
    log = frames_log_path(output).read_text().splitlines()
    assert [json.loads(line)["frame"] for line in log] == [1, 2, 3]


def test_a_torn_last_line_of_the_frames_log_is_ignored(tmp_path):
    output = tmp_path / "out.mp4"
    video_record_path(output).write_text(json.dumps({"tfstyle_video": 1, "status": "running",
                                                     "frames_done": 2}))
    frames_log_path(output).write_text('{"frame": 1}\n{"frame": 2}\n{"frame": 3, "ti')
    assert [f["frame"] for f in read_video_record(output)["frames"]] == [1, 2]


def test_an_init_image_starts_each_shot_and_later_frames_start_warped(tmp_path, tiny):
    from tfstyle.workflows.inputs import load_styles
    from tfstyle.core.synthesis import stylize

    source, style = make_clip(tmp_path, pan(2))
    start = tmp_path / "start.png"
    Image.fromarray(textured(40, 48, seed=7).astype(np.uint8)).save(start)
    config = CONFIG.replace(init=str(start), iterations=2)
    stylize_video(source, [style], tmp_path / "out/", config, extractor=tiny, fps=12)
    folder = frames_folder(tmp_path / "out")
    first, second = (json.loads((folder / f"frame_{k:04d}.json").read_text())["initial_terms"]
                     for k in (1, 2))
    # Frame 1's starting terms are those of a transfer started at the image.
    frames = read_video(source, fps=12).frames
    expected = stylize(frames[0], load_styles([style], config, None), config, extractor=tiny,
                       init_image=np.asarray(Image.open(start), np.float32)).initial
    assert first["content"] > 0  # not the photo, the default start
    for name, value in expected.items():
        assert np.isclose(first[name], value, rtol=1e-5), name
    # Frame 2 starts at the warped frame 1, its temporal target.
    assert second["temporal"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["-o", "out.png"], "out.png: unsupported video type .png"),
    (["-o", "out.mp4", "--init", "missing.png"], "missing.png: no such file"),
])
def test_tfstyle_video_refuses_bad_output_and_init_in_one_line(tmp_path, monkeypatch, capsys,
                                                               args, message):
    make_clip(tmp_path, pan(2))
    monkeypatch.chdir(tmp_path)
    code = cli("video", "clip", "style.png", *args, "--weights", "random", "--iterations", 2,
               "--max-size", 32)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.frames").exists()


@pytest.mark.slow
def test_a_run_killed_after_frame_3_resumes_with_the_same_command(tmp_path, capsys):
    """The killed run is a process of its own; the same command then runs
    in this one."""
    source, style = make_clip(tmp_path, pan(5, 32, 40))
    out = tmp_path / "out.gif"
    command = ["video", source, style, "-o", out, "--weights", "random", "--beta", "1e6",
               "--iterations", 2, "--max-size", 40, "--fps", 12, "--quiet"]
    killed = cli_process(*command, env={"TFSTYLE_FAULT": "frame:3:KILL"})
    assert killed.returncode == -9, killed.stderr
    record = read_video_record(out)
    assert record["status"] == "running" and record["frames_done"] == 3
    assert [f["frame"] for f in record["frames"]] == [1, 2, 3] and not out.exists()
    frame_1 = frames_folder(out) / "frame_0001.json"
    made = frame_1.stat().st_mtime_ns
    assert cli(*command) == 0, capsys.readouterr().err
    record = json.loads(video_record_path(out).read_text())
    assert record["status"] == "finished" and [f["frame"] for f in record["frames"]] == [1, 2,
                                                                                        3, 4, 5]
    assert frame_1.stat().st_mtime_ns == made  # kept, not stylised again
    assert len(read_video(out).frames) == 5


@pytest.mark.parametrize("output", [".", "./"])
def test_tfstyle_video_interrupted_names_the_frames_folder_it_kept(tmp_path, monkeypatch,
                                                                   capsys, output):
    """The message names the folder stylize_video writes the frames to
    (video.frames_folder of the absolute output), for an output "." too."""
    make_clip(tmp_path, pan(2))
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("tfstyle.workflows.video.stylize_video", interrupted)
    code = cli("video", tmp_path / "clip", tmp_path / "style.png", "-o", output, "--weights",
               "random")
    err = capsys.readouterr().err
    assert code == 130 and "internal error" not in err, err
    assert f"the finished frames are kept in {tmp_path / 'out.frames'};" in err, err
    assert frames_folder((tmp_path / "out").absolute()) == tmp_path / "out.frames"


# A long video streams --------------------------------------------------------

def test_a_video_holds_a_few_decoded_frames_not_the_clip(tmp_path, tiny, monkeypatch):
    """While frame t is stylised, the decoded frames alive are the working
    set (a frame, its predecessor, the window), not all eight."""
    import gc
    import weakref

    import tfstyle.io.video

    source, style = make_clip(tmp_path, pan(8))
    decoded, real_load = [], tfstyle.io.video.load_image

    def tracked(*args, **kwargs):
        frame = real_load(*args, **kwargs)
        decoded.append(weakref.ref(frame))
        return frame
    monkeypatch.setattr(tfstyle.io.video, "load_image", tracked)
    alive = {}

    def count_alive(event):
        if isinstance(event, Frame) and isinstance(event.event, Iterate):
            gc.collect()
            alive[event.frame] = sum(ref() is not None for ref in decoded)
    record = stylize_video(source, [style], tmp_path / "out.mp4", CONFIG.replace(iterations=2),
                           extractor=tiny, callback=count_alive, fps=12)
    assert record["status"] == "finished" and sorted(alive) == list(range(1, 9))
    assert max(alive.values()) <= 3, alive


def test_a_frame_window_goes_forward_and_reopens_behind(tmp_path):
    from tfstyle.io.video import FrameWindow, open_video

    frames = flat_frames()
    path = write_video(tmp_path / "frames/", frames, 12)
    window = FrameWindow(open_video(path, fps=12), size=3)
    assert [round(window[t].mean() / 20) for t in (0, 1, 2, 5, 4, 3, 11)] == [0, 1, 2, 5, 4, 3,
                                                                             11]
    assert len(window._kept) <= 3
    assert round(window[0].mean() / 20) == 0  # behind the window: a new pass
    window.close()
    with pytest.raises(IndexError):
        window[12]


def test_a_stream_of_unknown_length_is_counted_as_it_passes(tmp_path, monkeypatch):
    """A container that tells neither its frames nor its duration: read
    whole within the limit, refused at the frame past it (once, a list of
    ten million entries was built, and every such stream refused); with a
    --duration, its length is known, and refused before any frame."""
    import imageio.v3

    import tfstyle.io.video

    path = write_video(tmp_path / "clip.mp4", flat_frames(), 12)
    monkeypatch.setattr(imageio.v3, "immeta", lambda *args, **kwargs: {"fps": 12.0})
    clip = read_video(path)
    assert [round(f.mean() / 20) for f in clip.frames] == list(range(12))
    with pytest.raises(ImageError, match="more than 5 frames selected, over the limit") as error:
        read_video(path, max_frames=5)
    assert "\n" not in str(error.value)
    monkeypatch.setattr(tfstyle.io.video, "_decoded", lambda *a: pytest.fail("decoded"))
    with pytest.raises(ImageError, match="7 frames selected, over the limit of 5"):
        tfstyle.io.video.open_video(path, duration=7 / 12, max_frames=5)


def test_a_known_length_past_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    import tfstyle.io.video

    path = write_video(tmp_path / "clip.mp4", flat_frames(), 12)

    def no_decoding(*args):
        raise AssertionError("a frame was decoded")
    monkeypatch.setattr(tfstyle.io.video, "_decoded", no_decoding)
    with pytest.raises(ImageError, match="12 frames selected, over the limit of 5"):
        read_video(path, max_frames=5)


def test_a_video_whose_files_cannot_fit_is_refused_before_any_frame(tmp_path, tiny,
                                                                    monkeypatch):
    from collections import namedtuple

    from tfstyle.io import files

    source, style = make_clip(tmp_path, pan(4))
    usage = namedtuple("usage", "total used free")
    free = {"bytes": 1e5}
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: usage(1e12, 1e12 - free["bytes"],
                                                                      free["bytes"]))
    heard = []
    with pytest.raises(OutputError, match=r"needs about 0\.00 GB of disk \(frames 0\.00, video "
                                          r"0\.00\), but only 0\.00 GB is free") as error:
        stylize_video(source, [style], tmp_path / "out/", CONFIG, extractor=tiny, fps=12,
                      callback=heard.append)
    assert "\n" not in str(error.value) and heard == []
    assert not video_record_path(tmp_path / "out/").exists()
    free["bytes"] = 1e9  # room enough: the same call runs
    assert stylize_video(source, [style], tmp_path / "out/", CONFIG.replace(iterations=2),
                         extractor=tiny, fps=12)["status"] == "finished"


def test_the_disk_estimate_counts_the_frames_still_to_make(tmp_path, monkeypatch):
    """Four frames at 40x48 into a folder: each frame's PNG bound (its raw
    bytes) and record, and the folder output's PNGs; frames already in the
    frames folder are rewritten in place, so need no more room."""
    import tfstyle.workflows.video as video

    output, seen = tmp_path / "out", []
    monkeypatch.setattr(video, "check_disk", lambda folder, needed: seen.append(needed))
    video.check_video_disk(output, True, (40, 48, 3), 4, CONFIG, VideoSettings())
    frames_folder(output).mkdir()
    for t in (1, 2):
        (frames_folder(output) / f"frame_{t:04d}.png").write_bytes(b"x")
    video.check_video_disk(output, True, (40, 48, 3), 4, CONFIG, VideoSettings())
    first, second = seen
    assert first["frames"] == 2 * second["frames"] > 4 * 3 * 40 * 48
    assert first["video"] == second["video"] >= 4 * 3 * 40 * 48


def test_video_footprint_splits_each_frame_into_set_up_and_iterations(tmp_path, tiny):
    from tfstyle.bench.speed import video_footprint

    source, style = make_clip(tmp_path, pan(3))
    row = video_footprint(source, style, tmp_path, CONFIG, 2, extractor=tiny)
    assert row["frames"] == 3 and row["size"] == [40, 48] and row["peak_rss_mb"] > 0
    assert 0 < row["iterations_per_frame"] < row["seconds_per_frame"]
    assert np.isclose(row["setup_per_frame"] + row["iterations_per_frame"],
                      row["seconds_per_frame"])
    assert (tmp_path / "footprint.mp4").exists()
