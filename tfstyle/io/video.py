"""Reading and writing videos: files (.mp4, .mov, .webm, ... through
imageio's ffmpeg, which carries its own binary), animated GIFs (Pillow) and
folders of numbered frames. Like `io`, every file is written atomically.

    clip = read_video("in.mp4", fps=12, start=2.0, duration=3.0, max_size=256)
    write_video("out.mp4", frames, clip.fps)   # H.264 (libx264), yuv420p
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from ..errors import ConfigError, ImageError, OutputError, TfstyleError, one_line
from .files import atomic_writer
from .images import load_image, save_image
from ..preprocess import fit_size, resize, to_uint8

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_FPS = 24.0


@dataclass
class Clip:
    frames: list  # (H, W, 3) float32 in [0, 255]
    fps: float
    times: list  # seconds from the start of the source, per frame
    source: str


def is_folder_output(path) -> bool:
    """An output with no extension, or ending in a separator, is a folder of PNGs."""
    text = str(path)
    return text.endswith(("/", os.sep)) or not Path(text).suffix


def read_video(path, fps: float | None = None, start: float = 0.0,
               duration: float | None = None, max_size: int | None = None,
               max_frames: int = 100_000) -> Clip:
    """The selected frames of a video file, GIF or folder, resized so the
    longest side is at most `max_size`. fps None keeps the source's rate;
    another rate takes the source frame nearest each output time."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file or folder")
    if fps is not None and not fps > 0:
        raise ConfigError("fps", f"expected a rate above 0, received {fps}")
    if not start >= 0:
        raise ConfigError("start", f"expected seconds from 0, received {start}")
    if duration is not None and not duration > 0:
        raise ConfigError("duration", f"expected seconds above 0, received {duration}")
    if path.is_dir():
        files = _numbered_frames(path)
        source_fps, frames = fps or DEFAULT_FOLDER_FPS, (load_image(f) for f in files)
        count = len(files)
    elif path.suffix.lower() == ".gif":
        source_fps, count, frames = _gif(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        source_fps, count, frames = _ffmpeg(path)
    else:
        raise ImageError(f"{path}: not a video; expected {', '.join(VIDEO_SUFFIXES)}, .gif "
                         "or a folder of numbered frames")
    rate = fps or source_fps
    end = count / source_fps if duration is None else min(count / source_fps, start + duration)
    times = [start + k / rate for k in range(max(0, int(np.ceil((end - start) * rate - 1e-9))))]
    wanted = {}
    for t in times:
        wanted.setdefault(min(count - 1, int(round(t * source_fps))), []).append(t)
    if not wanted:
        raise ImageError(f"{path}: no frames between {start:g} s and {end:g} s")
    if len(times) > max_frames:
        raise ImageError(f"{path}: {len(times)} frames selected, over the limit of "
                         f"{max_frames}; use --duration or --fps")
    picked: dict[int, np.ndarray] = {}
    last = max(wanted)
    for index, frame in enumerate(frames):
        if index in wanted:
            picked[index] = _fit(np.asarray(frame, np.float32), max_size)
        if index >= last:
            break
    order = [(t, i) for i, ts in wanted.items() if i in picked for t in ts]
    order.sort()
    if not order:
        raise ImageError(f"{path}: no frame could be read")
    return Clip([picked[i] for _, i in order], float(rate), [t for t, _ in order], str(path))


def _fit(frame, max_size):
    if max_size is None or max(frame.shape[:2]) <= max_size:
        return frame
    return resize(frame, fit_size(frame.shape, max_size))


def _numbered_frames(folder: Path) -> list[Path]:
    files = [f for f in folder.iterdir() if f.suffix.lower() in FRAME_SUFFIXES]
    numbered = [(int(m.group(1)), f) for f in files
                if (m := re.search(r"(\d+)\D*$", f.stem))]
    if not numbered:
        raise ImageError(f"{folder}: no numbered frames (frame_0001.png, ...) in this folder")
    return [f for _, f in sorted(numbered)]


def _gif(path: Path):
    try:
        with Image.open(path) as image:
            durations = [frame.info.get("duration", 100) or 100
                         for frame in ImageSequence.Iterator(image)]
    except Exception as error:
        raise ImageError(f"{path}: not a GIF Pillow can read ({error})") from None
    fps = 1000.0 / float(np.mean(durations))

    def frames():
        with Image.open(path) as gif:
            for frame in ImageSequence.Iterator(gif):
                yield np.asarray(frame.convert("RGB"), np.float32)
    return fps, len(durations), frames()


def _imageio(version: str):
    try:
        from importlib import import_module
        return import_module(f"imageio.{version}")
    except ImportError:
        raise TfstyleError("video files need imageio: pip install 'tfstyle[video]'") from None


def _ffmpeg(path: Path):
    iio = _imageio("v3")

    try:
        meta = iio.immeta(path, plugin="FFMPEG")
        fps = float(meta.get("fps") or 0) or DEFAULT_FOLDER_FPS
        count = meta.get("nframes")
        if not isinstance(count, int) or count <= 0 or count > 10_000_000:
            count = int(round(float(meta.get("duration") or 0) * fps)) or 10_000_000
    except Exception as error:
        raise ImageError(f"{path}: not a video ffmpeg can read ({one_line(error, limit=200)})") from None

    def frames():
        try:
            for frame in iio.imiter(path, plugin="FFMPEG"):
                yield frame[..., :3]
        except Exception as error:
            raise ImageError(f"{path}: corrupt or truncated video ({one_line(error, limit=200)})") from None
    return fps, count, frames()


def check_video_output(path) -> Path:
    """Refuse an output write_video cannot make, so a long run learns it
    before its first frame rather than after its last."""
    folder = is_folder_output(path)
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path}: exists and is not a folder; a folder output holds "
                              "the PNG frames")
        return path
    suffix = path.suffix.lower()
    if suffix != ".gif" and suffix not in VIDEO_SUFFIXES:
        raise OutputError(f"{path}: unsupported video type {suffix}; use .mp4, .gif or a "
                          "folder (a path ending in /)")
    return path


def write_video(path, frames: list, fps: float) -> Path:
    """Frames as a video file (.mp4: H.264), a GIF, or a folder of PNGs."""
    folder = is_folder_output(path)
    path = check_video_output(path)
    frames = [to_uint8(f) for f in frames]
    if folder:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{path}: cannot make the folder ({one_line(error, limit=200)})") from None
        for k, frame in enumerate(frames, 1):
            save_image(path / f"frame_{k:04d}.png", frame)
        return path
    suffix = path.suffix.lower()
    if suffix == ".gif":
        images = [Image.fromarray(f) for f in frames]
        with atomic_writer(path) as handle:
            images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                           duration=int(round(1000 / fps)), loop=0)
        return path
    imageio = _imageio("v2")

    # yuv420p, which every player reads, needs even sides: pad by edge pixels.
    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    partial = path.with_name(f".{path.name}.partial{path.suffix}")
    codec = "libx264" if suffix in (".mp4", ".mov", ".mkv", ".m4v") else None
    try:
        with imageio.get_writer(partial, format="FFMPEG", fps=fps, codec=codec, quality=8,
                                pixelformat="yuv420p", macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(np.pad(frame, pad, mode="edge"))
        os.replace(partial, path)
    except BaseException as error:  # an interrupt too: no half-written video is left
        partial.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({one_line(error, limit=200)})") from None
        raise
    return path
