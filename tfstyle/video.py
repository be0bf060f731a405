"""Video without flicker, after Ruder, Dosovitskiy and Brox, "Artistic style
transfer for videos" (GCPR 2016), the direct follow-up of Gatys et al.:

- each frame starts from the previous stylised frame, warped onto it by the
  optical flow (`flow`), rather than landing in a minimum of its own;
- a temporal loss holds it to that warped frame wherever the flow is
  reliable (objective.TemporalTerm).

    record = tfstyle.video.stylize_video("clip.mp4", ["painting.jpg"], "out.mp4",
                                         StyleConfig(weights="random", beta=1e6))

Beside `out.mp4`: `out.json` (the video record: settings, per-frame losses,
seconds and temporal error) and `out.frames/` (each frame's PNG and run
record). A run that is killed picks up after its last finished frame when
started again with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import flow
from .config import StyleConfig
from .errors import ConfigError, OutputError, TfstyleError
from .io import check_writable, load_image, read_json, write_json
from .runs import check_network_size, load_styles, paintings, save_result
from .video_io import is_folder_output, read_video, write_video

FRAME_INITS = ("warped", "content", "noise")


@dataclass(frozen=True)
class VideoSettings:
    """What a video adds to a transfer's StyleConfig."""
    # gamma, in TemporalTerm's units (per D_l/2 of the content layer, so its
    # balance against the content holds at any frame size). Ruder et al.'s
    # 200 was tuned against raw Caffe features; on our normalised ones it
    # freezes the frames (README, "Video": temporal error 0.00, style loss
    # 6x the independent frames'), so the default is measured: the largest
    # gamma that keeps the style loss near the independent frames'.
    temporal_weight: float = 0.005
    frame_init: str = "warped"  # warped (Ruder et al.), content or noise (independent frames)
    first_frame_iterations: int | None = None  # default: config.iterations
    frame_iterations: int | None = None  # default: half the first's, as the paper gives later frames fewer
    shot_length: int = 0  # frames per shot; 0: shots end only at detected cuts
    shot_overlap: int = 1  # frames a fixed-length shot starts early, cross-faded at its start
    cut_threshold: float = 0.12  # mean |frame - warped previous frame| / 255 that marks a cut

    def __post_init__(self):
        if not (self.temporal_weight >= 0 and np.isfinite(self.temporal_weight)):
            raise ConfigError("temporal_weight", f"expected a number >= 0, received "
                                                 f"{self.temporal_weight!r}")
        if self.frame_init not in FRAME_INITS:
            raise ConfigError("frame_init", f"expected one of {', '.join(FRAME_INITS)}, "
                                            f"received {self.frame_init!r}")
        for name in ("first_frame_iterations", "frame_iterations"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(name, f"expected a whole number from 1, received {value!r}")
        if self.shot_length < 0 or self.shot_overlap < 0:
            raise ConfigError("shot_length", "shot length and overlap must be >= 0")
        if not 0 < self.cut_threshold:
            raise ConfigError("cut_threshold", f"expected a number > 0, received "
                                               f"{self.cut_threshold!r}")

    def iterations(self, config: StyleConfig) -> tuple[int, int]:
        first = self.first_frame_iterations or config.iterations
        return first, self.frame_iterations or max(1, first // 2)


def frames_folder(output) -> Path:
    """out.mp4 -> out.frames/, out/ -> out.frames/"""
    output = Path(str(output).rstrip("/"))
    return output.with_name((output.stem if output.suffix else output.name) + ".frames")


def video_record_path(output) -> Path:
    output = Path(str(output).rstrip("/"))
    return output.with_name((output.stem if output.suffix else output.name) + ".json")


@dataclass(frozen=True)
class Shot:
    """Frames start..stop-1 (0-based), stylised in one sequence. `lead` are
    frames before `start` the shot runs first, from a fresh image, when it
    begins at a fixed boundary: cross-faded into the previous shot's
    versions, so the boundary does not pop."""
    index: int
    start: int
    stop: int
    lead: tuple[int, ...] = ()

    @property
    def order(self) -> list[int]:
        return [*self.lead, *range(self.start, self.stop)]


@dataclass
class Motion:
    """What the flow says about frame t against frame t - 1: the backward
    flow (to warp frame t - 1 onto t) and the reliability c of each pixel."""
    backward: np.ndarray  # (H, W, 2)
    reliable: np.ndarray  # (H, W)

    @classmethod
    def between(cls, earlier, later) -> "Motion":
        backward = flow.optical_flow(later, earlier)
        return cls(backward, flow.reliability(flow.optical_flow(earlier, later), backward))


def plan_shots(frames: list, settings: VideoSettings):
    """(shots, cut per frame, Motion per frame (None for the first)): a shot
    ends at a cut (the frame differs from the previous one, warped by the
    flow, by more than cut_threshold) and every shot_length frames."""
    motions = [None] + [Motion.between(frames[t - 1], frames[t]) for t in range(1, len(frames))]
    cuts = [False] + [bool(np.mean(np.abs(frames[t] - flow.warp(frames[t - 1], m.backward)))
                           / 255.0 > settings.cut_threshold)
                      for t, m in enumerate(motions) if m is not None]
    fixed = set(range(0, len(frames), settings.shot_length)) if settings.shot_length else {0}
    starts = sorted({t for t, cut in enumerate(cuts) if cut} | fixed)
    shots = []
    for k, (start, stop) in enumerate(zip(starts, [*starts[1:], len(frames)])):
        lead = () if start == 0 or cuts[start] else \
            tuple(range(max(shots[-1].start, start - settings.shot_overlap), start))
        shots.append(Shot(k, start, stop, lead))
    return shots, cuts, motions


def stylize_video(source, styles, output, config: StyleConfig = StyleConfig(),
                  settings: VideoSettings = VideoSettings(), *, fps: float | None = None,
                  start: float = 0.0, duration: float | None = None, overwrite: bool = False,
                  max_pixels=None, extractor=None, callback=None, report=None,
                  engine: str = "local", ray_address: str | None = None,
                  cpus_per_shot: float = 1.0, gpus_per_shot: float = 0.0) -> dict:
    """Stylise the frames of `source` into `output` (.mp4, .gif or a folder);
    returns the video record.

    callback(iterate) hears every iteration (`iterate.frame` is the frame
    number); report(text) hears a line per frame and per shot. The shots run
    one after another here (engine "local") or as Ray tasks (engine "ray",
    on this machine or the cluster at ray_address). A KeyboardInterrupt ends
    the run after saving the finished frames; the record then says
    "interrupted", and the same call resumes.
    """
    say = report or (lambda text: None)
    if engine not in ("local", "ray"):
        raise ConfigError("engine", f"expected local or ray, received {engine!r}")
    if engine == "ray":
        from .ray_engine import check_ready

        check_ready(ray_address, cpus_per_shot, gpus_per_shot, 3)
    source, output = Path(source).absolute(), Path(output).absolute()
    styles = [Path(s).absolute() for s in paintings(config, styles)]
    if config.masks or config.regions or config.style_masks:
        raise ConfigError("masks", "masks are images over one photo; a video has no such mask")
    folder, record_file = frames_folder(output), video_record_path(output)
    inputs = {"source": str(source), "styles": [str(s) for s in styles]}
    selection = {"fps": fps, "start": start, "duration": duration}
    digest = _digest(inputs, config, settings, selection)
    earlier = _earlier(record_file, digest, overwrite)
    if not is_folder_output(output) and not earlier:
        check_writable(output, overwrite, inputs=[source, *styles])
    clip = read_video(source, fps=fps, start=start, duration=duration, max_size=config.max_size)
    check_network_size(source, clip.frames[0], config)
    style_images = load_styles(styles, config, max_pixels)
    shots, cuts, motions = plan_shots(clip.frames, settings)
    first_iterations, later_iterations = settings.iterations(config)
    record = {"tfstyle_video": 1, "status": "running", "digest": digest, "inputs": inputs,
              "output": str(output), "frames_folder": str(folder), "selection": selection,
              "fps": clip.fps, "count": len(clip.frames), "size": list(clip.frames[0].shape[:2]),
              "settings": asdict(settings), "config": config.to_dict(), "engine": engine,
              "iterations": {"first": first_iterations, "later": later_iterations},
              "shots": [[s.start + 1, s.stop] for s in shots], "frames": []}
    folder.mkdir(parents=True, exist_ok=True)
    write_json(record_file, record)
    say(f"{len(clip.frames)} frames at {clip.fps:g} fps in {len(shots)} shot(s)")
    started, entries = time.perf_counter(), {}
    shot_args = (clip.times, cuts, config.to_dict(), asdict(settings), str(folder), digest,
                 inputs)  # what a shot needs besides frames, paintings and motion
    try:
        if engine == "local":
            from .batch import extractor_for

            extractor = extractor or extractor_for(config)
            for shot in shots:
                run_shot(shot, clip.frames, style_images, motions, *shot_args, extractor=extractor,
                         callback=callback, say=say,
                         on_frame=lambda entry: entries.__setitem__(entry["frame"], entry))
        else:
            from .ray_engine import map_on_ray

            def finished(index, shot_entries):
                entries.update({e["frame"]: e for e in shot_entries})
                say(f"shot {index + 1}/{len(shots)} finished")
            calls = [(shot, source, selection, config.max_size, styles, max_pixels,
                      [m if t in shot.order else None for t, m in enumerate(motions)],
                      *shot_args) for shot in shots]
            map_on_ray(_shot_task, calls, finished, ray_address, cpus_per_shot, gpus_per_shot)
    except KeyboardInterrupt:
        record.update(status="interrupted", seconds=round(time.perf_counter() - started, 3),
                      frames=[entries[t] for t in sorted(entries)])
        write_json(record_file, record)
        say(f"interrupted; {len(entries)} frames are kept, and the same command resumes")
        raise
    results = assemble(clip.frames, shots, folder)
    record.update(status="finished", seconds=round(time.perf_counter() - started, 3),
                  frames=[entries[t] for t in sorted(entries)])
    _temporal_errors(record, results, cuts, motions)
    write_json(record_file, record)
    write_video(output, results, clip.fps)
    return record


def frame_png(folder: Path, t: int, lead: bool = False) -> Path:
    return Path(folder) / (f"lead_{t + 1:04d}.png" if lead else f"frame_{t + 1:04d}.png")


def run_shot(shot: Shot, frames, styles, motions, times, cuts, config: dict, settings: dict,
             folder,
             digest, inputs, extractor=None, callback=None, say=None,
             on_frame=None) -> list[dict]:
    """Stylise one shot's frames in order, each from the previous one warped
    (Ruder et al.), writing each frame's PNG and run record as it finishes;
    frames already finished with these settings are read back instead.
    Returns the shot's per-frame entries of the video record; on_frame
    hears each as it is finished."""
    from .batch import extractor_for
    from .synthesis import stylize

    config, settings = StyleConfig.from_dict(config), VideoSettings(**settings)
    extractor = extractor or extractor_for(config)
    say = say or (lambda text: None)
    first_iterations, later_iterations = settings.iterations(config)
    entries, previous = [], None
    for n, t in enumerate(shot.order):
        lead = t < shot.start
        png = frame_png(folder, t, lead)
        done = _finished_frame(png, digest)
        if done is not None:
            previous = load_image(png)
            if not lead:
                entries.append(done)
                on_frame and on_frame(done)
            continue
        fresh = n == 0
        run = _frame_config(config, settings, fresh, first_iterations, later_iterations)
        init = temporal = None
        if not fresh:  # the shot's order is consecutive frames
            warped = flow.warp(previous, motions[t].backward)
            init = warped if settings.frame_init == "warped" else None
            if settings.temporal_weight > 0:
                temporal = (settings.temporal_weight, warped, motions[t].reliable)
        result = stylize(frames[t], styles, run, extractor=extractor, init_image=init,
                         temporal=temporal,
                         callback=None if callback is None else _tagged(callback, t + 1))
        if result.interrupted:
            raise KeyboardInterrupt
        entry = {"frame": t + 1, "time": round(times[t], 4), "shot": shot.index,
                 "cut": cuts[t], "fresh": fresh, "iterations": result.iterations,
                 "seconds": round(result.seconds, 3), "stop_reason": result.stop_reason,
                 "losses": {k: v for k, v in (result.history[-1] if result.history else {}).items()
                            if k not in ("iteration", "seconds", "size")}}
        save_result(png, result, {"content": f"{inputs['source']}#frame={t + 1}",
                                  "styles": inputs["styles"]}, "finished",
                    video={**entry, "digest": digest, "lead": lead})
        previous = load_image(png)  # as the video shows it, so a resume continues alike
        if not lead:
            entries.append(entry)
            on_frame and on_frame(entry)
        say(f"frame {t + 1}{' (lead-in)' if lead else ''}: {result.iterations} iterations, "
            f"{result.seconds:.1f} s, shot {shot.index + 1}")
    return entries


def _shot_task(shot, source, selection, max_size, styles, max_pixels, motions, *shot_args):
    """A shot as a Ray task: the worker reads the clip and paintings itself
    (the flows, computed once, come with the task)."""
    config = StyleConfig.from_dict(shot_args[2])
    clip = read_video(source, max_size=max_size, **selection)
    return run_shot(shot, clip.frames, load_styles(styles, config, max_pixels), motions,
                    *shot_args)


def _finished_frame(png: Path, digest: str) -> dict | None:
    """The video entry of a frame finished with these settings, else None."""
    record_file = png.with_suffix(".json")
    if not png.exists() or not record_file.exists():
        return None
    try:
        video = read_json(record_file).get("video", {})
    except (TfstyleError, AttributeError):  # damaged, or not a run record: run it again
        return None
    if video.get("digest") != digest:
        return None
    return {k: v for k, v in video.items() if k not in ("digest", "lead")}


def assemble(frames, shots: list[Shot], folder) -> list[np.ndarray]:
    """The video's frames: each frame's PNG, with every lead-in cross-faded
    into the previous shot's frames (weights 1/(k+1) ... k/(k+1))."""
    results = [load_image(frame_png(folder, t)) for t in range(len(frames))]
    for shot in shots:
        for step, t in enumerate(shot.lead):
            weight = (step + 1) / (len(shot.lead) + 1)
            results[t] = (1 - weight) * results[t] + weight * load_image(frame_png(folder, t,
                                                                                   lead=True))
    return results


def _frame_config(config, settings, fresh, first_iterations, later_iterations) -> StyleConfig:
    if fresh:  # a shot's first frame: the transfer as configured (coarse-to-fine too)
        return config.replace(iterations=first_iterations)
    init = {"warped": config.init, "content": "content", "noise": "noise"}[settings.frame_init]
    return config.replace(iterations=later_iterations, scales=(), scale_iterations=None,
                          init=init)


def _tagged(callback, frame: int):
    def tagged(iterate):
        iterate.frame = frame
        return callback(iterate)
    return tagged


def _temporal_errors(record, results, cuts, motions):
    """Each frame's temporal error, with the input's flow, and the means."""
    errors = []
    for entry in record["frames"]:
        t = entry["frame"] - 1
        entry["temporal_error"] = None if t == 0 or cuts[t] else flow.temporal_error(
            results[t], results[t - 1], motions[t].backward, motions[t].reliable)
        if entry["temporal_error"] is not None:
            errors.append(entry["temporal_error"])
    styles = [f["losses"].get("style") for f in record["frames"] if "style" in f["losses"]]
    record["temporal_error"] = float(np.mean(errors)) if errors else None
    record["style_loss"] = float(np.mean(styles)) if styles else None


def video_temporal_error(inputs: list, outputs: list) -> float:
    """Ruder et al.'s temporal error of a stylised video: the mean over
    frames of (1/D) sum c (x_t - w(x_{t-1}))^2, with the input's flow."""
    errors = []
    for t in range(1, len(inputs)):
        motion = Motion.between(inputs[t - 1], inputs[t])
        errors.append(flow.temporal_error(outputs[t], outputs[t - 1], motion.backward,
                                          motion.reliable))
    return float(np.mean(errors))


def _digest(inputs, config, settings, selection) -> str:
    data = json.dumps({"inputs": inputs, "config": config.to_dict(),
                       "settings": asdict(settings), "selection": selection},
                      sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()


def _earlier(record_file: Path, digest: str, overwrite: bool) -> dict | None:
    """The record of an unfinished run of the same settings, to resume."""
    if not record_file.exists() or overwrite:
        return None
    try:
        record = read_json(record_file)
    except TfstyleError:
        raise OutputError(f"{record_file}: exists and is not a video record; use --overwrite "
                          "to replace it") from None
    if record.get("digest") != digest:
        raise OutputError(f"{record_file}: a video made with other settings is there; use "
                          "--overwrite to replace it")
    if record.get("status") == "finished":
        raise OutputError(f"{record.get('output')}: already exists (use --overwrite to replace "
                          "it)")
    return record
