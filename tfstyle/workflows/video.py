"""Video without flicker, after Ruder, Dosovitskiy and Brox, "Artistic style
transfer for videos" (GCPR 2016), the direct follow-up of Gatys et al.:

- each frame starts from the previous stylised frame, warped onto it by the
  optical flow (`flow`), rather than landing in a minimum of its own;
- a temporal loss holds it to that warped frame wherever the flow is
  reliable (objective.TemporalTerm).

    record = tfstyle.workflows.video.stylize_video("clip.mp4", ["painting.jpg"], "out.mp4",
                                         StyleConfig(weights="random", beta=1e6))

Beside `out.mp4`: `out.json` (the video record: settings, per-frame losses,
seconds and temporal error), `out.frames.jsonl` (the finished frames, one
JSON line each) and `out.frames/` (each frame's PNG and run record).

The record is current after every frame without growing costlier: while
the run goes, `out.json` is a small header (settings, shots, status,
"frames_done") and each finished frame is appended to `out.frames.jsonl`
(a line torn by a kill is skipped on reading). When the run ends, finished,
interrupted or failed, `out.json` also holds the whole "frames" list, as
readers of a finished record expect; `read_video_record` gives that list
in every state. It says "finished" only once the video is written.

A run that is killed, interrupted or failed picks up after its last
finished frame when started again with the same settings; the frames'
own run records are what it goes by. A failed encoding is retried without
stylising again.

`init` naming an image file (`--init PATH`) starts the first frame of every
shot from that image, resized to the frame; later frames start, as always,
from the previous frame warped.

The shots, each frame's transfer and their Ray dispatch are in
workflows.video_shots; this module plans the run, keeps its record and
writes the video.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import faults
from . import flow
from ..config import StyleConfig
from ..errors import ConfigError, OutputError, RecordError, TfstyleError, one_line
from ..events import Say, emit
from ..io.files import (append_json_line, check_writable, read_json, read_json_lines, write_json,
                        write_json_lines)
from ..io.video import check_video_output, is_folder_output, read_video, write_video
from ..plan import run_length, settings_digest
from .inputs import check_network_size, load_styles, paintings
from .video_settings import VideoSettings
from .video_shots import (Motion, ShotSettings, assemble, finished_frames, plan_shots,
                          run_shots_locally, run_shots_on_ray, start_image)

def frames_folder(output) -> Path:
    """out.mp4 -> out.frames/, out/ -> out.frames/"""
    output = Path(str(output).rstrip("/"))
    return output.with_name((output.stem if output.suffix else output.name) + ".frames")


def video_record_path(output) -> Path:
    output = Path(str(output).rstrip("/"))
    return output.with_name((output.stem if output.suffix else output.name) + ".json")


def frames_log_path(output) -> Path:
    """out.mp4 -> out.frames.jsonl: the finished frames, a JSON line each."""
    output = Path(str(output).rstrip("/"))
    return output.with_name((output.stem if output.suffix else output.name) + ".frames.jsonl")


def read_video_record(output) -> dict:
    """The video record of `output` (or of that OUT.json), with its frame
    list whatever the run's state: while it runs, OUT.json holds only the
    header and the frames are read from OUT.frames.jsonl."""
    record = read_json(video_record_path(output))
    if "frames" not in record:
        record["frames"] = read_frame_entries(frames_log_path(output))
    return record


class VideoLog:
    """The video record as the run goes, kept current at O(1) cost a frame.

    OUT.json is the header (settings, shots, status, frames_done), rewritten
    whole at each frame, which is cheap because it holds no frame list. Each
    finished frame's entry is appended to OUT.frames.jsonl as one line. When
    the run ends (finished, interrupted or failed) OUT.json gets the whole
    list, as readers of a finished record expect.
    """

    def __init__(self, record_file: Path, log_file: Path, header: dict, entries: dict):
        self.record_file, self.log_file = record_file, log_file
        self.record, self.entries = dict(header), dict(entries)

    def begin(self):
        # Written afresh from the frames found finished on disk (the truth a
        # resume goes by), so a torn line an earlier kill left is gone.
        write_json_lines(self.log_file, self.frames())
        self._header()

    def add(self, entry: dict):
        """A frame finished (or found finished by a resume: listed already)."""
        known = entry["frame"] in self.entries
        self.entries[entry["frame"]] = entry
        if not known:
            append_json_line(self.log_file, entry)
            self._header()

    def frames(self) -> list[dict]:
        return [self.entries[t] for t in sorted(self.entries)]

    def end(self, status: str, **extra) -> dict:
        self.record.update(status=status, frames_done=len(self.entries), **extra,
                           frames=self.frames())
        write_json(self.record_file, self.record)
        return self.record

    def _header(self):
        write_json(self.record_file, {**self.record, "status": "running",
                                      "frames_done": len(self.entries)})


def read_frame_entries(path) -> list[dict]:
    """The entries of a frames log, by frame (the last line of a frame
    wins); a missing log is empty."""
    entries = {}
    for number, entry in enumerate(read_json_lines(path), 1):
        if not isinstance(entry, dict) or "frame" not in entry:
            raise RecordError(f"{path}: line {number} is not a frame entry")
        entries[entry["frame"]] = entry
    return [entries[t] for t in sorted(entries)]


def stylize_video(source, styles, output, config: StyleConfig = StyleConfig(),
                  settings: VideoSettings = VideoSettings(), *, fps: float | None = None,
                  start: float = 0.0, duration: float | None = None, overwrite: bool = False,
                  max_pixels=None, extractor=None, callback=None,
                  engine: str = "local", ray_address: str | None = None,
                  cpus_per_shot: float = 1.0, gpus_per_shot: float = 0.0) -> dict:
    """Stylise the frames of `source` into `output` (.mp4, .gif or a folder);
    returns the video record.

    callback hears each frame's events (tfstyle.events) in a `Frame` (its
    number, from 1), and a `Say` line per frame and shot. The shots run here
    one by one (engine "local") or as Ray tasks (engine "ray", here or on the
    cluster at ray_address). Ctrl-C, the callback's False (raised on as a
    KeyboardInterrupt) or an error end the run with the finished frames
    kept, the record "interrupted" (or "failed"); the same call resumes.
    """
    def say(text):
        emit(callback, Say(text))
    _check_engine(engine, ray_address, cpus_per_shot, gpus_per_shot)
    # Refused here, before the clip is read or a flow computed: the output, the start image.
    as_folder = is_folder_output(output)
    check_video_output(output)
    source, output = Path(source).absolute(), Path(output).absolute()
    styles = [Path(s).absolute() for s in paintings(config, styles)]
    config = _video_config(config)
    init_image = start_image(config, max_pixels)
    inputs = {"source": str(source), "styles": [str(s) for s in styles]}
    selection = {"fps": fps, "start": start, "duration": duration}
    digest, earlier = (f(inputs, config, settings, selection) for f in (_digest, earlier_digest))
    if not _earlier(video_record_path(output), {digest, earlier}, overwrite, output) and not as_folder:
        check_writable(output, overwrite, inputs=[source, *styles, config.init_path])
    clip = read_video(source, fps=fps, start=start, duration=duration, max_size=config.max_size)
    check_network_size(source, clip.frames[0], config)
    style_images = load_styles(styles, config, max_pixels)
    shots, cuts, motions = plan_shots(clip.frames, settings)
    log = _start_log(output, {"digest": digest, "earlier_digest": earlier, "inputs": inputs,
                              "output": str(output), "selection": selection, "engine": engine,
                              **_clip_settings(clip, shots, config, settings)})
    say(f"{len(clip.frames)} frames at {clip.fps:g} fps in {len(shots)} shot(s)")
    started, folder = time.perf_counter(), frames_folder(output)
    common = ShotSettings(tuple(clip.times), tuple(cuts), config, settings, folder, digest,
                          inputs, earlier)  # what a shot needs besides frames, paintings and motion
    try:
        if engine == "local":
            run_shots_locally(shots, clip.frames, style_images, motions, common, log.add,
                              extractor, callback, say, init_image)
        else:
            run_shots_on_ray(shots, common, source, selection, styles, max_pixels, motions,
                             log.add, say, ray_address, cpus_per_shot, gpus_per_shot)
        results = assemble(clip.frames, shots, folder)
        _temporal_errors(log.record, log.frames(), results, cuts, motions)
        _encode(output, as_folder, results, clip.fps)
    except KeyboardInterrupt:
        log.end("interrupted", seconds=_since(started))
        say(f"interrupted; {len(log.entries)} frames are kept, and the same command resumes")
        raise
    except Exception as error:  # the frames stay, for the same command to resume
        log.end("failed", seconds=_since(started), error=one_line(error, limit=200))
        raise
    return log.end("finished", seconds=_since(started))


def _check_engine(engine, ray_address, cpus_per_shot, gpus_per_shot):
    if engine not in ("local", "ray"):
        raise ConfigError("engine", f"expected local or ray, received {engine!r}")
    if engine == "ray":
        from .ray_engine import check_ready

        check_ready(ray_address, cpus_per_shot, gpus_per_shot, 3)


def _video_config(config: StyleConfig) -> StyleConfig:
    if config.masks or config.regions or config.style_masks:
        raise ConfigError("masks", "masks are images over one photo; a video has no such mask")
    if config.init_path is not None:  # absolute, so a Ray worker or a resume finds it
        config = config.replace(init=str(config.init_path.absolute()))
    return config


def _start_log(output: Path, header: dict) -> VideoLog:
    """The frames folder, and the record's header and log with the frames
    already finished there (a resume's)."""
    folder = frames_folder(output)
    folder.mkdir(parents=True, exist_ok=True)
    header = {"tfstyle_video": 1, "status": "running", **header, "frames_folder": str(folder),
              "frames_log": frames_log_path(output).name}
    log = VideoLog(video_record_path(output), frames_log_path(output), header,
                   finished_frames(folder, header["count"], header["digest"],
                                   header.get("earlier_digest")))
    log.begin()
    return log


def _clip_settings(clip, shots, config, settings) -> dict:
    """The record's account of the clip and of what is done to it."""
    first_iterations, later_iterations = settings.iterations(config)
    return {"fps": clip.fps, "count": len(clip.frames), "size": list(clip.frames[0].shape[:2]),
            "settings": asdict(settings), "config": config.to_dict(),
            "iterations": {"first": first_iterations, "later": later_iterations},
            "shots": [[s.start + 1, s.stop] for s in shots]}


def _encode(output: Path, as_folder: bool, results, fps):
    """The video, written before the record may say "finished"."""
    try:
        faults.reached("encode")
        # A folder keeps its trailing separator, which is what marks it a folder.
        write_video(f"{output}{os.sep}" if as_folder else output, results, fps)
    except OSError as error:
        raise OutputError(f"{output}: cannot write ({one_line(error, limit=200)})") from None


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _temporal_errors(record, frames, results, cuts, motions):
    """Each frame's temporal error (into its entry in `frames`), with the
    input's flow, and the means (into `record`)."""
    errors = []
    for entry in frames:
        t = entry["frame"] - 1
        entry["temporal_error"] = None if t == 0 or cuts[t] else flow.temporal_error(
            results[t], results[t - 1], motions[t].backward, motions[t].reliable)
        if entry["temporal_error"] is not None:
            errors.append(entry["temporal_error"])
    styles = [f["losses"].get("style") for f in frames if "style" in f["losses"]]
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
    """plan.settings_digest of the config, with the clip, paintings, video
    settings, frame selection and run length as its inputs."""
    return settings_digest(config, {**inputs, "video": asdict(settings), "selection": selection,
                                    **run_length(config)})


def earlier_digest(inputs, config, settings, selection) -> str:
    """The digest a video record of these same settings carried before
    video digests were plan digests; read only, so that a video started by
    an older tfstyle resumes with its frames instead of being made again."""
    data = json.dumps({"inputs": inputs, "config": config.to_dict(),
                       "settings": asdict(settings), "selection": selection},
                      sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()


def _earlier(record_file: Path, digests: tuple, overwrite: bool, output: Path) -> dict | None:
    """The record of an unfinished run of the same settings, to resume (a
    "finished" one whose video is missing too: then only the encoding is
    left to do)."""
    if not record_file.exists() or overwrite:
        return None
    try:
        record = read_json(record_file)
    except TfstyleError:
        raise OutputError(f"{record_file}: exists and is not a video record; use --overwrite "
                          "to replace it") from None
    if record.get("digest") not in digests:
        raise OutputError(f"{record_file}: a video made with other settings (or by an older "
                          "tfstyle, whose settings digest differs) is there; use --overwrite to replace it")
    if record.get("status") == "finished" and output.exists():
        raise OutputError(f"{record.get('output')}: already exists (use --overwrite to replace "
                          "it)")
    return record
