"""A video's shots (after Ruder et al., see workflows.video): where they
start and end, each frame's transfer from its warped predecessor, the
frames finished on disk, and the shots run here or as Ray tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import faults
from . import flow
from ..config import StyleConfig
from ..core.paintings import EncodedPaintings
from ..errors import TfstyleError
from ..events import Frame
from ..io.files import read_json
from ..io.images import load_image
from ..io.video import FrameWindow, open_video
from ..plan import single_scale
from .inputs import load_styles
from .runs import save_result
from .video_settings import VideoSettings


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


@dataclass(frozen=True)
class ShotSettings:
    """What every shot of a video shares: each frame's time and whether it
    is a cut, the transfer and video settings, the frames folder, the run's
    settings digest and its input files ({"source", "styles"}); `earlier`,
    the digest that records of the same settings written by an older
    tfstyle carry (video.earlier_digest), so that their frames are kept."""
    times: tuple[float, ...]
    cuts: tuple[bool, ...]
    config: StyleConfig
    video: VideoSettings
    folder: Path
    digest: str
    inputs: dict
    earlier: str | None = None


@dataclass(frozen=True)
class ShotTask:
    """A shot as a Ray task, passed whole (pickled) to the worker, which
    reads the clip's frames (`selection` is open_video's fps, start and
    duration), their flows and the paintings itself."""
    shot: Shot
    common: ShotSettings
    source: Path
    selection: dict
    styles: tuple[Path, ...]
    max_pixels: int | None


@dataclass(frozen=True)
class Motion:
    """What the flow says about frame t against frame t - 1: the backward
    flow (to warp frame t - 1 onto t) and the reliability c of each pixel."""
    backward: np.ndarray  # (H, W, 2)
    reliable: np.ndarray  # (H, W)

    @classmethod
    def between(cls, earlier, later) -> "Motion":
        backward = flow.optical_flow(later, earlier)
        return cls(backward, flow.reliability(flow.optical_flow(earlier, later), backward))


class Motions:
    """Motion of frame t against t - 1 of `frames` (indexed, as a
    FrameWindow), computed for the pair at hand and kept for it alone."""

    def __init__(self, frames):
        self.frames, self._last = frames, (None, None)

    def __getitem__(self, t: int) -> Motion:
        if self._last[0] != t:
            self._last = (t, Motion.between(self.frames[t - 1], self.frames[t]))
        return self._last[1]


def is_cut(earlier, later, settings: VideoSettings) -> bool:
    """The frame differs from the previous one, warped by the flow, by more
    than cut_threshold (mean |difference| / 255)."""
    backward = flow.optical_flow(later, earlier)
    return bool(np.mean(np.abs(later - flow.warp(earlier, backward))) / 255.0
                > settings.cut_threshold)


def plan_shots(frames: Iterable, settings: VideoSettings):
    """(shots, cut per frame) in one pass over the frames, holding two: a
    shot ends at a cut and every shot_length frames."""
    cuts, previous = [], None
    for frame in frames:
        cuts.append(previous is not None and is_cut(previous, frame, settings))
        previous = frame
    fixed = set(range(0, len(cuts), settings.shot_length)) if settings.shot_length else {0}
    starts = sorted({t for t, cut in enumerate(cuts) if cut} | fixed)
    shots = []
    for k, (start, stop) in enumerate(zip(starts, [*starts[1:], len(cuts)])):
        lead = () if start == 0 or cuts[start] else \
            tuple(range(max(shots[-1].start, start - settings.shot_overlap), start))
        shots.append(Shot(k, start, stop, lead))
    return shots, cuts


def start_image(config: StyleConfig, max_pixels=None):
    """The image `--init` names, read once: it starts every shot's first
    frame (later frames start from the previous one, warped). None when
    config.init is not a file."""
    if config.init_path is None:
        return None
    return load_image(config.init_path, max_size=max((config.max_size, *config.scales)),
                      max_pixels=max_pixels)


def run_shots_locally(shots, frames, style_images, motions, common: ShotSettings, on_frame,
                      extractor=None, callback=None, say=None, init_image=None):
    """The shots one after another in this process, with one network."""
    from ..core.extractor import FeatureExtractor

    extractor = extractor or FeatureExtractor.shared(common.config)
    for shot in shots:
        run_shot(shot, frames, style_images, motions, common, extractor=extractor,
                 callback=callback, say=say, on_frame=on_frame, init_image=init_image)


def run_shots_on_ray(shots, common: ShotSettings, source, selection, styles, max_pixels,
                     on_frame, say, ray_address, cpus_per_shot, gpus_per_shot):
    """Each shot a Ray task (run_ray_shot); on_frame hears a shot's frames
    when it ends."""
    from .ray_engine import map_on_ray

    def finished(index, shot_entries):
        for entry in shot_entries:
            on_frame(entry)
        say(f"shot {index + 1}/{len(shots)} finished")
    tasks = [ShotTask(shot, common, Path(source), dict(selection), tuple(map(Path, styles)),
                      max_pixels) for shot in shots]
    map_on_ray(run_ray_shot, tasks, finished, ray_address, cpus_per_shot, gpus_per_shot)


def frame_png(folder: Path, t: int, lead: bool = False) -> Path:
    return Path(folder) / (f"lead_{t + 1:04d}.png" if lead else f"frame_{t + 1:04d}.png")


def run_shot(shot: Shot, frames, styles, motions, common: ShotSettings, extractor=None,
             callback=None, say=None, on_frame=None, init_image=None) -> list[dict]:
    """Stylise one shot's frames in order, each from the previous one warped
    (Ruder et al.), writing each frame's PNG and run record as it finishes;
    frames already finished with these settings are read back instead.
    The shot's first frame starts from init_image (config.init's file) when
    given. Returns the shot's per-frame entries of the video record;
    on_frame hears each as it is finished."""
    from ..core.extractor import FeatureExtractor
    from ..core.synthesis import stylize

    config, settings, digest = common.config, common.video, common.digest
    times, cuts, inputs = common.times, common.cuts, common.inputs
    extractor = extractor or FeatureExtractor.shared(config)
    say = say or (lambda text: None)
    first_iterations, later_iterations = settings.iterations(config)
    entries, previous = [], None
    paintings = EncodedPaintings()  # the shot's frames encode the paintings once per size
    for n, t in enumerate(shot.order):
        lead = t < shot.start
        png = frame_png(common.folder, t, lead)
        done = _finished_frame(png, digest, common.earlier)
        if done is not None:
            previous = load_image(png)
            if not lead:
                entries.append(done)
                on_frame and on_frame(done)
            continue
        fresh = n == 0
        run = _frame_config(config, settings, fresh, first_iterations, later_iterations)
        init, temporal = (init_image if fresh else None), None
        if not fresh:  # the shot's order is consecutive frames
            warped = flow.warp(previous, motions[t].backward)
            init = warped if settings.frame_init == "warped" else None
            if settings.temporal_weight > 0:
                temporal = (settings.temporal_weight, warped, motions[t].reliable)
        # A later frame starts from its warped predecessor at the final size:
        # one scale there, never the pyramid a fresh start would climb.
        plan = None if fresh else single_scale(run, frames[t].shape[:2], later_iterations)
        result = stylize(frames[t], styles, run, extractor=extractor, init_image=init,
                         temporal=temporal, plan=plan, paintings=paintings,
                         callback=None if callback is None else _tagged(callback, t + 1))
        if result.stopped:  # the frame is not finished: it runs again on resume
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
        faults.reached("frame")  # its PNG and records are on disk
        say(f"frame {t + 1}{' (lead-in)' if lead else ''}: {result.iterations} iterations, "
            f"{result.seconds:.1f} s, shot {shot.index + 1}")
    return entries


def run_ray_shot(task: ShotTask) -> list[dict]:
    """In a Ray worker: the shot's frames, read here, stylised; its entries."""
    config = task.common.config
    frames = window(open_video(task.source, max_size=config.max_size, **task.selection),
                    task.common.video)
    try:
        return run_shot(task.shot, frames, load_styles(task.styles, config, task.max_pixels),
                        Motions(frames), task.common,
                        init_image=start_image(config, task.max_pixels))
    finally:
        frames.close()


def window(source, settings: VideoSettings) -> FrameWindow:
    """The frames a run of shots needs at once: a frame, its predecessor and
    the next shot's lead-in, which starts shot_overlap frames back."""
    return FrameWindow(source, settings.shot_overlap + 2)


def finished_frames(folder: Path, count: int, digest: str, earlier: str | None = None) -> dict:
    """{frame number: video entry} of the frames on disk finished with these
    settings (lead-ins aside: they are not the video's frames)."""
    found = {t + 1: _finished_frame(frame_png(folder, t), digest, earlier) for t in range(count)}
    return {frame: entry for frame, entry in found.items() if entry is not None}


def _finished_frame(png: Path, digest: str, earlier: str | None = None) -> dict | None:
    """The video entry of a frame finished with these settings (under this
    digest, or the `earlier` one of an older tfstyle), else None."""
    record_file = png.with_suffix(".json")
    if not png.exists() or not record_file.exists():
        return None
    try:
        record = read_json(record_file)
        video = record.get("video", {})
    except (TfstyleError, AttributeError):  # damaged, or not a run record: run it again
        return None
    if video.get("digest") is None or video.get("digest") not in (digest, earlier):
        return None
    if video["digest"] != digest and not video.get("fresh") \
            and len((record.get("plan") or {}).get("scales", ())) != 1:
        # The earlier digest also covers versions whose later frames climbed
        # the coarse-to-fine pyramid again: such a frame is made anew.
        return None
    return {k: v for k, v in video.items() if k not in ("digest", "lead")}


def assemble(count: int, shots: list[Shot], folder) -> Iterator[np.ndarray]:
    """The video's frames, one at a time: each frame's PNG, with every
    lead-in cross-faded into the previous shot's frames (weights 1/(k+1)
    ... k/(k+1))."""
    fades = {t: (step + 1) / (len(shot.lead) + 1)
             for shot in shots for step, t in enumerate(shot.lead)}
    for t in range(count):
        shown = load_image(frame_png(folder, t))
        if t in fades:
            shown = (1 - fades[t]) * shown + fades[t] * load_image(frame_png(folder, t, lead=True))
        yield shown


def _frame_config(config, settings, fresh, first_iterations, later_iterations) -> StyleConfig:
    if fresh:  # a shot's first frame: the transfer as configured (coarse-to-fine too)
        return config.replace(iterations=first_iterations)
    init = {"warped": config.init, "content": "content", "noise": "noise"}[settings.frame_init]
    return config.replace(iterations=later_iterations, scales=(), scale_iterations=None,
                          init=init)


def _tagged(callback, frame: int):
    """The callback, hearing each of the frame's events inside a Frame."""
    def tagged(event):
        return callback(Frame(frame, event))
    return tagged
