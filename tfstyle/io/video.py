"""Reading and writing videos: files (.mp4, .mov, .webm, ... through
imageio's ffmpeg, which carries its own binary), animated GIFs (Pillow) and
folders of numbered frames. Like `io`, every file is written atomically.

    clip = read_video("in.mp4", fps=12, start=2.0, duration=3.0, max_size=256)
    write_video("out.mp4", frames, clip.fps)   # H.264 (libx264), yuv420p

A long video is read a frame at a time: `open_video` gives a VideoSource
whose `frames()` decodes one pass in order, and `FrameWindow` indexes it
keeping only the last few frames; `write_video` takes any iterable.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator
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
MAX_FRAMES = 100_000  # a selection past this is refused: --duration or --fps


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
               max_frames: int = MAX_FRAMES) -> Clip:
    """The selected frames of a video file, GIF or folder, all in memory (a
    short clip; a long one is read with open_video, a frame at a time)."""
    source = open_video(path, fps, start, duration, max_size, max_frames)
    frames = list(source.frames())
    return Clip(frames, source.fps, [source.time(k) for k in range(len(frames))], str(path))


@dataclass(frozen=True)
class VideoSource:
    """The selected frames of a video file, GIF or folder, decoded only when
    asked for: `frames()` is one pass in order (ffmpeg reads a file no other
    way), and each call is a new pass. Frame k is shown at `time(k)`, the
    source frame nearest it. `count` is the number of selected frames when
    the container tells its length, else None: they are counted as they
    pass, and a pass refuses the frame past `max_frames`."""
    path: Path
    fps: float  # the selection's rate
    start: float
    end: float  # seconds; inf for a stream of unknown length read to its end
    count: int | None
    source_fps: float
    source_count: int | None
    max_size: int | None
    max_frames: int

    def time(self, k: int) -> float:
        return self.start + k / self.fps

    def first(self) -> np.ndarray:
        """The first selected frame, decoded alone."""
        stream = self.frames()
        try:
            return next(stream)
        finally:
            stream.close()

    def frames(self, begin: int = 0) -> Iterator[np.ndarray]:
        """Frames begin, begin + 1, ... in order, (H, W, 3) float32 in [0, 255];
        the ones before `begin` are decoded but not converted."""
        k, limit = 0, self.count if self.count is not None else _frames_before(self.end, self)
        for index, raw in enumerate(_decoded(self.path)):
            frame = None
            while k < limit and self._source_index(k) == index:
                if k >= self.max_frames:
                    raise ImageError(f"{self.path}: more than {self.max_frames} frames selected, "
                                     "over the limit; use --duration or --fps")
                if k >= begin:
                    frame = _fit(_pixels(raw), self.max_size) if frame is None else frame
                    yield frame
                k += 1
            if k >= limit:
                return
        if k == 0:
            raise ImageError(f"{self.path}: no frame could be read")

    def _source_index(self, k: int) -> int:
        index = int(round(self.time(k) * self.source_fps))
        return index if self.source_count is None else min(self.source_count - 1, index)


def open_video(path, fps: float | None = None, start: float = 0.0,
               duration: float | None = None, max_size: int | None = None,
               max_frames: int = MAX_FRAMES) -> VideoSource:
    """A video file, GIF or folder, opened for reading its selected frames
    (resized so the longest side is at most `max_size`). fps None keeps the
    source's rate; another rate takes the source frame nearest each output
    time. A selection of known length past `max_frames` is refused here,
    before any frame is decoded."""
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
        source_fps, count = fps or DEFAULT_FOLDER_FPS, len(_numbered_frames(path))
    elif path.suffix.lower() == ".gif":
        source_fps, count = _gif(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        source_fps, count = _ffmpeg(path)
    else:
        raise ImageError(f"{path}: not a video; expected {', '.join(VIDEO_SUFFIXES)}, .gif "
                         "or a folder of numbered frames")
    length = float("inf") if count is None else count / source_fps
    end = length if duration is None else min(length, start + duration)
    source = VideoSource(path, float(fps or source_fps), start, end, None, source_fps, count,
                         max_size, max_frames)
    selected = _frames_before(end, source)
    if count is None and selected == float("inf"):
        return source  # counted as its frames pass (VideoSource.frames)
    if not selected:
        raise ImageError(f"{path}: no frames between {start:g} s and {end:g} s")
    if selected > max_frames:
        raise ImageError(f"{path}: {selected} frames selected, over the limit of "
                         f"{max_frames}; use --duration or --fps")
    return dataclasses.replace(source, count=selected) if count is not None else source


def _frames_before(end: float, source: VideoSource) -> float:
    """How many output times start + k / fps fall before `end` (inf: all)."""
    if end == float("inf"):
        return end
    return max(0, int(np.ceil((end - source.start) * source.fps - 1e-9)))


class FrameWindow:
    """Frame t of a source by index, for a run that goes forward: decoded in
    one pass, keeping only the last `size` frames (a frame, its predecessor,
    a shot's lead-in). An index behind the window starts a new pass there."""

    def __init__(self, source: VideoSource, size: int = 3):
        self.source, self.size = source, max(2, size)
        self._kept: dict[int, np.ndarray] = {}
        self._stream, self._next = None, 0

    def __getitem__(self, t: int) -> np.ndarray:
        if t in self._kept:
            return self._kept[t]
        if self._stream is None or t < self._next:
            self.close()
            self._stream, self._next = self.source.frames(t), t
        for frame in self._stream:
            self._kept[self._next] = frame
            self._kept.pop(self._next - self.size, None)
            self._next += 1
            if self._next - 1 == t:
                return frame
        raise IndexError(f"{self.source.path}: no frame {t + 1}")

    def close(self):
        """End the pass (an ffmpeg pass holds a process)."""
        if self._stream is not None:
            self._stream.close()
        self._stream, self._kept = None, {}


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
    return 1000.0 / float(np.mean(durations)), len(durations)


def _imageio(version: str):
    try:
        from importlib import import_module
        return import_module(f"imageio.{version}")
    except ImportError:
        raise TfstyleError("video files need imageio: pip install 'tfstyle[video]'") from None


def _ffmpeg(path: Path):
    """(fps, frame count or None): the count as the container gives it, or
    from its duration; None when it tells neither (a stream)."""
    iio = _imageio("v3")

    try:
        meta = iio.immeta(path, plugin="FFMPEG")
        fps = float(meta.get("fps") or 0) or DEFAULT_FOLDER_FPS
        count = meta.get("nframes")
        if not isinstance(count, int) or count <= 0:
            duration = float(meta.get("duration") or 0)
            count = int(round(duration * fps)) if 0 < duration < float("inf") else None
    except Exception as error:
        raise ImageError(f"{path}: not a video ffmpeg can read ({one_line(error, limit=200)})") from None
    return fps, count


def _decoded(path: Path) -> Iterator:
    """The source's frames in order, each as it is decoded (a folder's as
    its file, read only if selected: _pixels)."""
    if path.is_dir():
        yield from _numbered_frames(path)
    elif path.suffix.lower() == ".gif":
        with Image.open(path) as gif:
            for frame in ImageSequence.Iterator(gif):
                yield np.asarray(frame.convert("RGB"), np.float32)
    else:
        try:
            # The reader, and its ffmpeg process, end with this generator
            # (closed, or run out), not when garbage collection finds it.
            with _imageio("v2").get_reader(path, format="FFMPEG") as reader:
                for frame in reader:
                    yield np.asarray(frame)[..., :3]
        except Exception as error:
            raise ImageError(f"{path}: corrupt or truncated video ({one_line(error, limit=200)})") from None


def _pixels(raw) -> np.ndarray:
    return load_image(raw) if isinstance(raw, Path) else np.asarray(raw, np.float32)


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


def write_video(path, frames: Iterable, fps: float) -> Path:
    """Frames as a video file (.mp4: H.264), a GIF, or a folder of PNGs.
    `frames` may be any iterable: a file or folder takes them one at a time,
    so a long video is never held whole (a GIF is, by Pillow)."""
    folder = is_folder_output(path)
    path = check_video_output(path)
    frames = (to_uint8(f) for f in frames)
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
        first = Image.fromarray(next(frames))
        with atomic_writer(path) as handle:
            first.save(handle, format="GIF", save_all=True,
                       append_images=(Image.fromarray(f) for f in frames),
                       duration=int(round(1000 / fps)), loop=0)
        return path
    return _write_ffmpeg(path, frames, fps)


def _write_ffmpeg(path: Path, frames: Iterator[np.ndarray], fps: float) -> Path:
    """Through a partial file, renamed when whole (imageio's writer takes
    the frames one at a time)."""
    imageio = _imageio("v2")
    partial = path.with_name(f".{path.name}.partial{path.suffix}")
    codec = "libx264" if path.suffix.lower() in (".mp4", ".mov", ".mkv", ".m4v") else None
    try:
        with imageio.get_writer(partial, format="FFMPEG", fps=fps, codec=codec, quality=8,
                                pixelformat="yuv420p", macro_block_size=1) as writer:
            for frame in frames:
                # yuv420p, which every player reads, needs even sides: pad by edge pixels.
                pad = ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0))
                writer.append_data(np.pad(frame, pad, mode="edge"))
        os.replace(partial, path)
    except BaseException as error:  # an interrupt too: no half-written video is left
        partial.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({one_line(error, limit=200)})") from None
        raise
    return path
