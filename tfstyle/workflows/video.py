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

A long video streams: its frames are decoded as they are needed (a pass
to find the cuts, one to stylise, one to encode and measure), each pair's
flow is computed for that pair, and nothing grows with the clip's length
but the record's per-frame entries. The frame limit and the disk come first.

The shots, each frame's transfer and their Ray dispatch are in
workflows.video_shots; this module plans the run, keeps its record and
writes the video.
"""

from __future__ import annotations

import contextlib
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
from ..errors import ConfigError, Interrupted, OutputError, RecordError, TfstyleError, one_line
from ..events import Say, emit
from ..io.files import (append_json_line, check_disk, check_writable, read_json, read_json_lines,
                        write_json, write_json_lines)
from ..io.video import VideoSource, check_video_output, is_folder_output, open_video, write_video
from ..plan import run_length, settings_digest
from .inputs import check_network_size, load_styles, paintings
from .video_settings import VideoSettings
from .video_shots import (Motion, Motions, ShotSettings, assemble, finished_frames, plan_shots,
                          run_shots_locally, run_shots_on_ray, start_image, window)

# The disk a video needs beyond its frames' PNGs (check_video_disk), as
# bounds over what was measured on a stylised pan at 256x192 (2026-12-02):
# a frame's run record took 3.6 KB at 2 iterations (its history grows with
# them); H.264 at imageio's quality 8 took 0.18 bytes a pixel a frame,
# counted here at 0.5; a GIF's frame is a byte a pixel before its LZW.
RECORD_BYTES, RECORD_BYTES_PER_ITERATION = 8192, 256
VIDEO_BYTES_PER_PIXEL = {".gif": 1.0, "default": 0.5}


def _beside(output, ending: str) -> Path:
    """A file or folder beside `output`, named after it. The absolute path
    names it: an output of "." (the working folder) has no name of its own."""
    output = Path(str(output).rstrip("/") or "/").absolute()
    return output.with_name((output.stem if output.suffix else output.name) + ending)


def frames_folder(output) -> Path:
    """out.mp4 -> out.frames/, out/ -> out.frames/"""
    return _beside(output, ".frames")


def video_record_path(output) -> Path:
    return _beside(output, ".json")


def frames_log_path(output) -> Path:
    """out.mp4 -> out.frames.jsonl: the finished frames, a JSON line each."""
    return _beside(output, ".frames.jsonl")


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
    clip = open_video(source, fps=fps, start=start, duration=duration, max_size=config.max_size)
    style_images = load_styles(styles, config, max_pixels)
    shots, cuts, size = _plan(clip, config, settings, output, as_folder)
    log = _start_log(output, {"digest": digest, "earlier_digest": earlier, "inputs": inputs,
                              "output": str(output), "selection": selection, "engine": engine,
                              **_clip_settings(clip.fps, cuts, size, shots, config, settings)})
    started, folder = time.perf_counter(), frames_folder(output)
    try:  # from here on, the record says how the run ended
        say(f"{len(cuts)} frames at {clip.fps:g} fps in {len(shots)} shot(s)")
        common = ShotSettings(tuple(clip.time(k) for k in range(len(cuts))), tuple(cuts), config,
                              settings, folder, digest, inputs, earlier)  # what every shot shares
        if engine == "local":
            _run_locally(clip, shots, style_images, common, log.add, extractor, callback, say,
                         init_image)
        else:
            run_shots_on_ray(shots, common, source, selection, styles, max_pixels, log.add, say,
                             ray_address, cpus_per_shot, gpus_per_shot)
        _finish(output, as_folder, clip, shots, cuts, log)
    except (KeyboardInterrupt, Interrupted):  # Interrupted: a callback's stop
        log.end("interrupted", seconds=_since(started))
        say(f"interrupted; {len(log.entries)} frames are kept, and the same command resumes")
        raise
    except Exception as error:  # the frames stay, for the same command to resume
        log.end("failed", seconds=_since(started), error=one_line(error, limit=200))
        raise
    return log.end("finished", seconds=_since(started))  # outside: never rewritten "interrupted"


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


def _clip_settings(fps, cuts, size, shots, config, settings) -> dict:
    """The record's account of the clip and of what is done to it."""
    first_iterations, later_iterations = settings.iterations(config)
    return {"fps": fps, "count": len(cuts), "size": list(size),
            "settings": asdict(settings), "config": config.to_dict(),
            "iterations": {"first": first_iterations, "later": later_iterations},
            "shots": [[s.start + 1, s.stop] for s in shots]}


def _plan(clip: VideoSource, config, settings, output: Path, as_folder: bool):
    """(shots, cut per frame, frame size), in one pass over the clip; what
    cannot be done (a frame too small for the network, a disk too small for
    the files) is refused first, or, for a clip of unknown length, once the
    pass has counted it: before any frame is stylised."""
    first = clip.first()
    check_network_size(clip.path, first, config)
    if clip.count is not None:
        check_video_disk(output, as_folder, first.shape, clip.count, config, settings)
    with contextlib.closing(clip.frames()) as frames:  # its reader ends here
        shots, cuts = plan_shots(frames, settings)
    if clip.count is None:
        check_video_disk(output, as_folder, first.shape, len(cuts), config, settings)
    return shots, cuts, first.shape[:2]


def check_video_disk(output: Path, as_folder: bool, shape, count: int, config, settings):
    """Refuse, in one line with the figures, a video whose files cannot fit
    the free disk: the frames folder (each frame's PNG and run record, and
    the lead-ins') and the encoded video. Frames already in the folder are
    rewritten in place, so they need no more room."""
    pixels = shape[0] * shape[1]
    png = 3 * pixels + 4096  # at most its raw RGB: stylised frames barely compress
    record = RECORD_BYTES + RECORD_BYTES_PER_ITERATION * max(settings.iterations(config))
    leads = -(-count // settings.shot_length) * settings.shot_overlap if settings.shot_length else 0
    folder = frames_folder(output)
    made = sum(1 for _ in folder.glob("*.png")) if folder.is_dir() else 0
    per_pixel = VIDEO_BYTES_PER_PIXEL.get(output.suffix.lower(), VIDEO_BYTES_PER_PIXEL["default"])
    video = count * (png if as_folder else pixels * per_pixel)  # a folder's frames are PNGs
    # No checkpoints: a frame runs whole, and its PNG is what a resume keeps.
    check_disk(output.parent, {"frames": max(0, count + leads - made) * (png + record),
                               "video": video})


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


def _run_locally(clip, shots, style_images, common, on_frame, extractor, callback, say,
                 init_image):
    """The shots here, one by one, reading the frames as they come: each
    frame's motion is computed for its pair only."""
    frames = window(clip, common.video)
    try:
        run_shots_locally(shots, frames, style_images, Motions(frames), common, on_frame,
                          extractor, callback, say, init_image)
    finally:
        frames.close()


def _finish(output: Path, as_folder: bool, clip, shots, cuts, log: VideoLog):
    """The video encoded from the frames' PNGs, and each frame's temporal
    error measured as it passes (the record's means too), in one pass
    holding two frames."""
    errors = {}
    shown = assemble(len(cuts), shots, frames_folder(output))
    with contextlib.closing(clip.frames()) as inputs:  # its reader ends here
        _encode(output, as_folder, _measured(shown, inputs, cuts, errors), clip.fps)
    _temporal_errors(log.record, log.frames(), errors)


def _measured(shown, inputs, cuts, errors: dict):
    """The shown frames, passed on; meanwhile errors[t] is frame t's temporal
    error against frame t - 1, with the input's flow (none at a cut)."""
    previous = None
    for t, (frame, source) in enumerate(zip(shown, inputs)):
        if previous is not None and not cuts[t]:
            motion = Motion.between(previous[1], source)
            errors[t] = flow.temporal_error(frame, previous[0], motion.backward, motion.reliable)
        previous = frame, source
        yield frame


def _temporal_errors(record, frames, errors: dict):
    """Each frame's temporal error (into its entry in `frames`; None for a
    shot's first), and the means (into `record`)."""
    for entry in frames:
        entry["temporal_error"] = errors.get(entry["frame"] - 1)
    measured = [e for e in (f["temporal_error"] for f in frames) if e is not None]
    styles = [f["losses"].get("style") for f in frames if "style" in f["losses"]]
    record["temporal_error"] = float(np.mean(measured)) if measured else None
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
    """The digest a video record of these settings carried before plan digests
    (normalize a switch then); read only: an older video resumes with its frames."""
    switch = {"pair": True, "off": False}.get(config.normalize, config.normalize)
    data = json.dumps({"inputs": inputs, "config": {**config.to_dict(), "normalize": switch},
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
