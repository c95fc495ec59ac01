"""Videos from untrusted uploads: probe, the official frame-sampling rule (molmo2-inference.md §5.1(a)) and decoding.
Every byte of an upload is parsed in a child process (a fresh interpreter) under a wall-clock timeout."""

from __future__ import annotations

import itertools
import json
import os
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
from PIL import Image

from inference.media import MediaError

# FFmpeg demuxers allowed to parse uploads (the magic bytes checked first are in _sniff). HLS/DASH playlists, concat
# lists, image sequences and every other demuxer that opens further files or URLs are not on this list.
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "mkv/webm", "avi": "avi"}
CODECS = {
    "h264": "H.264", "hevc": "HEVC", "vp8": "VP8", "vp9": "VP9", "av1": "AV1",
    "mpeg4": "MPEG-4", "mpeg2video": "MPEG-2", "mjpeg": "MJPEG", "prores": "ProRes",
}  # fmt: skip
ACCEPTED = "MP4, MOV, MKV, WebM or AVI"
# Options for avformat_open_input: the demuxer allowlist, and no protocol at all for nested opens (the upload itself
# is read through a Python file object, so a demuxer that tries to open another file or URL fails).
_OPEN_OPTIONS = {"format_whitelist": ",".join(CONTAINERS), "protocol_whitelist": "none"}
_MP4_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
BACKENDS = ("auto", "pyav", "decord")
_DECORD_CODECS = set(CODECS) - {"av1"}  # decord 0.6 has no AV1 decoder
# What "auto" starts with: PyAV was faster than decord on the sampling pattern (bench/decode.py, README "Media limits"),
# decodes AV1 and cue-less browser WebM where decord fails, and reads the upload through the allowlisted file object.
DEFAULT_BACKEND = "pyav"
_ROOT = Path(__file__).resolve().parents[1]
_MAX_HEADER = 1 << 24  # bytes of one JSON message from the child


@dataclass(frozen=True)
class VideoLimits:
    """Generous but bounded: 4K UHD (and DCI 4K) at up to 240 fps, up to 10 minutes, files up to 1 GiB."""

    max_bytes: int = 1 << 30
    max_duration: float = 600.0  # seconds
    max_side: int = 4096  # pixels, either side of the displayed frame
    max_pixels: int = 4096 * 2160  # per frame; 8K (7680x4320, 33 MP) is refused
    max_fps: float = 240.0  # slow-motion phone clips; 1000 fps claims are refused
    max_frame_count: int = 36_000  # frames in the stream (10 minutes at 60 fps)
    probe_timeout: float = 15.0  # seconds for the child to open, check and index the file
    decode_timeout: float = 120.0  # seconds for load_clip's sampled frames (on top of the probe)


@dataclass(frozen=True)
class VideoInfo:
    container: str  # "mp4" (also MOV), "mkv/webm" or "avi"
    codec: str  # FFmpeg codec name: "h264", "hevc", "vp9", "av1", ...
    width: int  # as displayed, after rotation
    height: int
    rotation: int  # clockwise degrees a player turns the stored frames (0, 90, 180, 270): phones' `rotate` tag
    fps: float  # frame_count / duration: the average rate, also for variable frame rate
    duration: float  # seconds from the first frame's start to the last frame's end, on presentation timestamps
    frame_count: int  # frames counted from the stream's packets, not the header's claim
    pixel_format: str  # what the decoder produces before conversion to RGB, e.g. "yuv420p", "yuv420p10le"
    stream_index: int
    notes: tuple[str, ...]  # for the UI, e.g. "2 video streams: using stream #0 (1920x1080)"


@dataclass(frozen=True)
class VideoClip:
    frames: np.ndarray  # [T, H, W, 3] uint8, upright (rotation applied)
    times: tuple[float, ...]  # the times written into the prompt, relative to the clip start (0.0 first)
    frame_indices: tuple[int, ...]  # index in the original stream of the frame decoded for each time
    start: float  # clip start in seconds within the original video (0.0 when no range)
    info: VideoInfo


@dataclass(frozen=True)
class Frame:
    index: int  # position in the stream, in presentation order
    time: float  # presentation time in seconds from the stream start (the first frame is 0.0)
    image: np.ndarray  # [H, W, 3] uint8, upright RGB


def sample_times(duration: float, *, max_frames: int = 128, max_fps: float = 2.0) -> list[float]:
    """THE frame-sampling rule, §5.1(a) "uniform_last_frame": every 1/max_fps seconds from 0 plus the end itself
    when that fits in max_frames, else max_frames times spread uniformly over [0, duration]. Both ends always."""
    if not 2 <= max_frames <= 384 or not max_fps > 0 or not duration >= 0:
        raise ValueError(
            f"need 2 <= max_frames <= 384, max_fps > 0, duration >= 0; got {max_frames}, {max_fps}, {duration}"
        )
    if (max_frames - 1) / max_fps < duration:
        return np.linspace(0.0, duration, max_frames).tolist()
    # Same float arithmetic as the official sampler (np.arange with step 1/max_fps), so the times match exactly.
    return [*np.arange(0.0, duration, 1.0 / max_fps).tolist(), float(duration)]


def clip_times(
    duration: float, start: float | None, end: float | None, *, max_frames: int, max_fps: float
) -> tuple[float, list[float]]:
    """(clip start, sampled times from it) for the [start, end] range of a `duration`-second video."""
    start, end = _clip_range(start, end, duration)
    return start, sample_times(end - start, max_frames=max_frames, max_fps=max_fps)


def probe_video(path: str | Path, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Open, check and index `path` in a child process; raises MediaError when it is not a video we accept."""
    _sniff(path, limits)
    with _Child({"job": "probe", "path": str(path), "limits": asdict(limits)}) as child:
        return _info(child.receive(limits.probe_timeout), limits)


@dataclass(frozen=True)
class ClipPlan:
    """Which frames §5.1(a) samples from a video (or from a [start, end] range of it)."""

    info: VideoInfo
    times: tuple[float, ...]  # the times written into the prompt, relative to the clip start (0.0 first)
    frame_indices: tuple[int, ...]  # index in the original stream of the frame decoded for each time
    start: float  # clip start in seconds within the original video


@contextmanager
def open_clip(
    path: str | Path,
    *,
    max_frames: int = 128,
    max_fps: float = 2.0,
    start: float | None = None,
    end: float | None = None,
    limits: VideoLimits = VideoLimits(),
    backend: str = "auto",
    max_side: int | None = None,
) -> Iterator[tuple[ClipPlan, Iterator[tuple[int, np.ndarray]]]]:
    """(plan, frames): the sampling plan, then each distinct sampled frame as (stream index, [H, W, 3] uint8),
    in stream order, while the child process is still decoding the next ones. Consuming a frame as it arrives
    (as the preprocessor does) overlaps that work with decoding and never holds all full-size frames at once."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    sample_times(0.0, max_frames=max_frames, max_fps=max_fps)  # argument check before any work
    _sniff(path, limits)
    request = {"job": "clip", "path": str(path), "limits": asdict(limits), "max_frames": max_frames}
    request |= {"max_fps": max_fps, "start": start, "end": end, "backend": backend, "max_side": max_side}
    with _Child(request) as child:
        info = _info(child.receive(limits.probe_timeout), limits)
        deadline = time.monotonic() + limits.decode_timeout
        header = child.receive(deadline - time.monotonic())
        indices = header["indices"]
        if not 0 < len(indices) <= max_frames or min(indices) < 0 or max(indices) >= info.frame_count:
            raise RuntimeError(f"video child sent an impossible plan: {len(indices)} frames")
        width, height = _fitted(info.width, info.height, max_side)

        def frames() -> Iterator[tuple[int, np.ndarray]]:
            for index in sorted(set(indices)):
                image = np.empty((height, width, 3), np.uint8)  # [H, W, 3]
                child.receive_pixels(image, index, deadline - time.monotonic())
                yield index, image

        yield ClipPlan(info, tuple(header["times"]), tuple(indices), header["start"]), frames()


def load_clip(path: str | Path, **options) -> VideoClip:
    """All the frames §5.1(a) samples from `path` (open_clip's options), decoded in a child process. `max_side`
    shrinks frames (keeping the aspect ratio) in the child: 384 full-size 4K frames would take 9.6 GB."""
    with open_clip(path, **options) as (plan, frames):
        width, height = _fitted(plan.info.width, plan.info.height, options.get("max_side"))
        out = np.empty((len(plan.frame_indices), height, width, 3), np.uint8)  # [T, H, W, 3]
        for index, image in frames:
            out[[slot for slot, wanted in enumerate(plan.frame_indices) if wanted == index]] = image
    return VideoClip(out, plan.times, plan.frame_indices, plan.start, plan.info)


def iter_frames(
    path: str | Path,
    *,
    start: float = 0.0,
    end: float | None = None,
    max_side: int | None = None,
    step: int = 1,
    limits: VideoLimits = VideoLimits(),
    timeout_s: float = 30.0,
) -> Iterator[Frame]:
    """Every `step`-th frame from the one shown at `start` to the one shown at `end` (seconds from the stream start),
    decoded in a child process and streamed one at a time. MediaError when the child stalls for `timeout_s`."""
    if step < 1:
        raise ValueError(f"step must be >= 1, not {step}")
    _sniff(path, limits)
    request = {"job": "frames", "path": str(path), "limits": asdict(limits), "start": start, "end": end}
    request |= {"max_side": max_side, "step": step}
    with _Child(request) as child:
        info = _info(child.receive(limits.probe_timeout), limits)
        width, height = _fitted(info.width, info.height, max_side)
        while (header := child.receive(timeout_s))["kind"] != "end":
            image = np.empty((height, width, 3), np.uint8)
            child.receive_pixels(image, header.get("index"), timeout_s, header)
            yield Frame(header["index"], header["time"], image)


# --- checks shared by the caller and the child ---


def _sniff(path: str | Path, limits: VideoLimits) -> None:
    """Refuse empty, oversized and non-video files from their size and first bytes, before any child starts."""
    size = os.stat(path).st_size
    if size == 0:
        raise MediaError(f"the video file is empty; upload an {ACCEPTED} file")
    if size > limits.max_bytes:
        raise MediaError(f"video file too large: {size / 2**20:.0f} MB (max {limits.max_bytes / 2**20:.0f} MB)")
    with open(path, "rb") as f:
        head = f.read(12)
        mp4 = head[4:8] in _MP4_FIRST_BOXES
        if not (mp4 or head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")):
            raise MediaError(f"not a supported video; upload an {ACCEPTED} file")
        if mp4 and not _has_moov(f):
            raise MediaError("the video file is incomplete: its MP4 index (moov) is missing; upload the whole file")


def _has_moov(f) -> bool:
    """Whether one of the first top-level MP4 boxes is the index; an upload cut short usually lost it (it is
    written last unless the file was made with +faststart). Only box headers are read."""
    offset = 0
    for _ in range(1000):
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            return False
        size, kind = struct.unpack(">I4s", header[:8])
        if kind == b"moov":
            return True
        if size == 1 and len(header) == 16:  # 64-bit size follows the type
            size = struct.unpack(">Q", header[8:])[0]
        if size < 8:  # 0 means "to the end of the file": no box after it
            return False
        offset += size
    return False


def _check_limits(limits: VideoLimits, width: int, height: int, fps: float, duration: float, count: int = 0) -> None:
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise MediaError(
            f"video too large: {width}x{height} (max {limits.max_side} px per side and "
            f"{limits.max_pixels / 1e6:.1f} MP per frame; 4K UHD is the largest accepted)"
        )
    if fps > limits.max_fps:
        raise MediaError(f"video frame rate too high: {fps:.0f} fps (max {limits.max_fps:.0f} fps)")
    if duration > limits.max_duration:
        raise MediaError(f"video too long: {_clock(duration)} (max {_clock(limits.max_duration)})")
    if count > limits.max_frame_count:
        raise MediaError(f"video has too many frames: {count} (max {limits.max_frame_count})")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def _info(header: dict, limits: VideoLimits) -> VideoInfo:
    info = VideoInfo(**{**header["info"], "notes": tuple(header["info"]["notes"])})
    # Checked again on this side: the arrays allocated here must stay bounded even if the child misbehaves.
    _check_limits(limits, info.width, info.height, info.fps, info.duration, info.frame_count)
    return info


def _fitted(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Frame size after shrinking the longer side to max_side (never enlarging)."""
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# --- the child process: parent side ---


class _Child:
    """One job in a fresh interpreter: the request goes in on stdin, JSON headers and raw frames come back on a pipe.
    A fresh interpreter, not fork (unsafe next to torch's and the server's threads) nor multiprocessing's spawn or
    forkserver (both re-import the app's __main__ in every child); bench/decode.py measures the start-up cost."""

    def __init__(self, request: dict):
        read_fd, write_fd = os.pipe()
        self.connection = Connection(read_fd, writable=False)
        code = f"import sys; sys.path.insert(0, {str(_ROOT)!r}); from inference.video import _child_main; _child_main()"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(write_fd)], stdin=subprocess.PIPE, pass_fds=(write_fd,)
            )
        except BaseException:
            self.connection.close()
            raise
        finally:
            os.close(write_fd)
        try:
            with self.process.stdin as stdin:
                stdin.write(json.dumps(request).encode())
        except BrokenPipeError:
            pass  # the child is already gone: receive() says so

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()  # whatever state it is in: done, hung in native code, or still decoding
        self.process.wait()
        self.connection.close()

    def _wait(self, timeout: float) -> None:
        if not self.connection.poll(max(timeout, 0.0)):
            raise MediaError("the video took too long to decode; try a shorter or smaller clip")

    def receive(self, timeout: float) -> dict:
        self._wait(timeout)
        try:
            header = json.loads(self.connection.recv_bytes(_MAX_HEADER))
        except EOFError:
            raise MediaError("the video decoder crashed on this file; it may be damaged") from None
        if header["kind"] == "error":
            raise MediaError(header["message"])
        if header["kind"] == "bug":
            raise RuntimeError(f"video child process failed:\n{header['traceback']}")
        return header

    def receive_pixels(self, out: np.ndarray, index: int, timeout: float, header: dict | None = None) -> None:
        """Frame `index` into `out`: its header (unless already received), then its raw RGB bytes."""
        header = header or self.receive(timeout)
        if header["kind"] != "pixels" or header["index"] != index:
            raise RuntimeError(f"video child sent {header} instead of frame {index}")
        self._wait(timeout)
        # The payload goes straight from the pipe into `out` (Connection.recv_bytes_into would buffer each 6 MB
        # frame twice on the way, about 2 s of CPU for 128 full-HD frames). Connection framing: a 4-byte length.
        fd = self.connection.fileno()
        length = self._read_exactly(fd, memoryview(bytearray(4)))
        size = struct.unpack("!i", length)[0]
        if size != out.nbytes:
            raise RuntimeError(f"video child sent {size} bytes for a {out.shape} frame")
        self._read_exactly(fd, memoryview(out).cast("B"))

    @staticmethod
    def _read_exactly(fd: int, view: memoryview) -> memoryview:
        got = 0
        while got < len(view):
            n = os.readv(fd, [view[got:]])
            if n == 0:
                raise MediaError("the video decoder crashed on this file; it may be damaged")
            got += n
        return view


# --- the child process: child side (everything below runs only there) ---


def _child_main() -> None:
    connection = Connection(int(sys.argv[1]), readable=False)
    request = json.loads(sys.stdin.buffer.read())
    request["limits"] = VideoLimits(**request["limits"])
    try:
        for header, payload in _JOBS[request.pop("job")](**request):
            connection.send_bytes(json.dumps(header).encode())
            if payload is not None:
                connection.send_bytes(payload)
    except MediaError as err:
        connection.send_bytes(json.dumps({"kind": "error", "message": str(err)}).encode())
    except Exception:
        connection.send_bytes(json.dumps({"kind": "bug", "traceback": traceback.format_exc()}).encode())


def _probe_job(path: str, limits: VideoLimits) -> Iterator[tuple[dict, bytes | None]]:
    with _opened(path) as container:
        info, _ = _index(container, limits)
        yield {"kind": "info", "info": asdict(info)}, None


def _clip_job(path, limits, max_frames, max_fps, start, end, backend, max_side) -> Iterator[tuple[dict, bytes | None]]:
    with _opened(path) as container:
        info, timeline = _index(container, limits)
        yield {"kind": "info", "info": asdict(info)}, None
        start, times = clip_times(info.duration, start, end, max_frames=max_frames, max_fps=max_fps)
        # Targets are start + t seconds after the first frame, i.e. t + start + first_pts (§5.1(a); the official
        # decord path drops first_pts when a clip range is given, its torchcodec path keeps it as we do).
        indices = frames_shown_at(timeline.ends, np.add(times, start))
        yield {"kind": "plan", "times": times, "indices": indices.tolist(), "start": start}, None
        size = _fitted(info.width, info.height, max_side)
        for index, image in _decode_sampled(path, container, timeline, info, sorted(set(indices.tolist())), backend):
            yield {"kind": "pixels", "index": index, "time": float(timeline.starts[index])}, _fit(image, size)


def _frames_job(path, limits, start, end, max_side, step) -> Iterator[tuple[dict, bytes | None]]:
    with _opened(path) as container:
        info, timeline = _index(container, limits)
        yield {"kind": "info", "info": asdict(info)}, None
        start, end = _clip_range(start, end, info.duration)
        first, last = frames_shown_at(timeline.ends, np.array([start, end])).tolist()
        size = _fitted(info.width, info.height, max_side)
        for index, image in _pyav_frames(container, timeline, info, range(first, last + 1, step)):
            yield {"kind": "pixels", "index": index, "time": float(timeline.starts[index])}, _fit(image, size)
        yield {"kind": "end"}, None


_JOBS = {"probe": _probe_job, "clip": _clip_job, "frames": _frames_job}


def frames_shown_at(ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    """§5.1(a): for each time (seconds from the first frame), the first frame whose end time exceeds it
    (searchsorted right on the end times), clamped to the last frame. On presentation timestamps, so VFR works."""
    return np.minimum(np.searchsorted(ends, times, side="right"), len(ends) - 1)


def _clip_range(start: float | None, end: float | None, duration: float) -> tuple[float, float]:
    start = 0.0 if start is None else float(start)
    end = duration if end is None else min(float(end), duration)
    if not 0.0 <= start < end:
        raise MediaError(f"clip range {start:.1f}-{end:.1f} s is not inside the video (0.0-{duration:.1f} s)")
    return start, end


class _Timeline:
    """Every frame of the chosen stream in presentation order, read from the packets (nothing decoded)."""

    def __init__(self, pts: np.ndarray, durations: np.ndarray, keyframes: np.ndarray, time_base: Fraction):
        self.pts = pts  # [N] int64 ticks of time_base, ascending
        self.starts = (pts - pts[0]) * time_base.numerator / time_base.denominator  # [N] seconds, exact ratios
        gaps = np.diff(self.starts)
        # The last frame lasts its packet's duration, else the typical gap (FFmpeg knows no better).
        last = durations[-1] * time_base.numerator / time_base.denominator
        if last <= 0:
            last = float(np.median(gaps)) if len(gaps) else 0.04
        # A frame ends where the next one starts, so the frame picked for t is the one on screen at t, as with
        # torchcodec's get_frames_played_at (the official training loader). decord's end times (start + nominal
        # frame length) give the same frames at constant frame rate only; packet durations follow decode order.
        self.ends = np.append(self.starts[1:], self.starts[-1] + last)  # [N]
        self.keyframes = np.union1d(np.flatnonzero(keyframes), [0])  # [K] frame 0 is always a place to start

    def index_of(self, pts: int) -> int:
        """The frame on screen at `pts` (the one with that pts for every frame the demuxer listed)."""
        return max(int(np.searchsorted(self.pts, pts, side="right")) - 1, 0)

    def keyframe_before(self, index: int) -> int:
        return int(self.keyframes[np.searchsorted(self.keyframes, index, side="right") - 1])


@contextmanager
def _opened(path: str) -> Iterator:
    """The upload as a PyAV container, read through a Python file object with the demuxer allowlist; every FFmpeg
    error while it is open becomes a MediaError."""
    import av

    with open(path, "rb") as file:
        try:
            container = av.open(file, options=dict(_OPEN_OPTIONS), buffer_size=1 << 16)
        except av.error.FFmpegError:
            raise MediaError(
                f"the video file is incomplete, damaged or of an unsupported kind; upload an {ACCEPTED} file"
            ) from None
        with container:
            try:
                yield container
            except av.error.FFmpegError as err:
                raise MediaError(f"the video is damaged and cannot be decoded ({err.strerror})") from None


def _index(container, limits: VideoLimits) -> tuple[VideoInfo, _Timeline]:
    """Choose the stream, check the header against the limits, then list every packet (and decode the first frame
    for its size, pixel format and rotation). Only FFmpeg's stream probing in av.open decodes anything earlier."""
    import av

    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        found = "only audio" if container.streams.audio else "no video stream"
        raise MediaError(f"the file has {found}; upload an {ACCEPTED} video")
    best = container.streams.best("video")  # what players and decord pick: the default stream, else the first
    stream = best if best in videos else videos[0]
    codec = stream.codec_context.codec.canonical_name
    if codec not in CODECS:
        raise MediaError(f"unsupported video codec {codec} (accepted: {', '.join(CODECS.values())})")
    # Matroska keeps the duration at the container level; a lying header is caught again by the packet count.
    header_duration = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
    header_fps = float(stream.average_rate or 0)
    _check_limits(limits, stream.codec_context.width, stream.codec_context.height, header_fps, header_duration)

    stream.thread_type = "AUTO"  # frame and slice threads, for this first frame and all later decoding
    ticks, durations, keyframes, first = [], [], [], None
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:  # the flush packet, or a frame outside the edit list
            continue
        ticks.append(packet.pts if packet.pts is not None else packet.dts)
        durations.append(packet.duration or 0)
        keyframes.append(packet.is_keyframe)
        if len(ticks) > limits.max_frame_count:
            raise MediaError(f"video has too many frames: over {limits.max_frame_count}")
        if first is None:
            first = next(iter(packet.decode()), None)
    first = first or next(iter(stream.decode(None)), None)
    if first is None or None in ticks:
        raise MediaError("the video stream cannot be decoded; it may be damaged")
    pts, where = np.unique(np.asarray(ticks, np.int64), return_index=True)
    timeline = _Timeline(pts, np.asarray(durations)[where], np.asarray(keyframes)[where], stream.time_base)

    rotation = round(-(first.rotation or 0) / 90) % 4 * 90  # FFmpeg's angle is counter-clockwise
    width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
    duration = float(timeline.ends[-1])
    notes = (
        (f"{len(videos)} video streams: using stream #{stream.index} ({width}x{height})",) if len(videos) > 1 else ()
    )
    info = VideoInfo(
        container=CONTAINERS[container.format.name], codec=codec, width=width, height=height, rotation=rotation,
        fps=len(pts) / duration, duration=duration, frame_count=len(pts), pixel_format=first.format.name,
        stream_index=stream.index, notes=notes,
    )  # fmt: skip
    _check_limits(limits, width, height, info.fps, duration, len(pts))
    return info, timeline


def _decode_sampled(path, container, timeline, info, wanted, backend) -> Iterator[tuple[int, np.ndarray]]:
    """The frames `wanted` (ascending indices). "auto" starts with DEFAULT_BACKEND; when it fails, the other one
    takes over from the first frame it could not deliver, and the first failure is reported if both fail."""
    import av

    other = "decord" if DEFAULT_BACKEND == "pyav" else "pyav"
    names = [DEFAULT_BACKEND, other] if backend == "auto" else [backend]
    names = [name for name in names if name == "pyav" or info.codec in _DECORD_CODECS]
    if not names:
        raise MediaError(f"decord cannot decode {CODECS[info.codec]} video")
    done, failure = 0, None
    for name in names:
        if name == "pyav":
            frames = _pyav_sampled(container, timeline, info, wanted[done:])
        else:
            frames = _decord_sampled(path, info, wanted[done:])
        try:
            for item in frames:
                yield item
                done += 1
            return
        except (MediaError, av.error.FFmpegError, _BackendFailed) as err:
            failure = failure or err
    if isinstance(failure, _BackendFailed):
        raise MediaError(f"decord cannot decode this video ({failure})")
    raise failure


class _BackendFailed(Exception):
    """decord refused the file or disagreed with the probe; the other backend takes over."""


def _decord_sampled(path: str, info: VideoInfo, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    # decord opens the path itself (its own FFmpeg, no allowlist): it only sees files the PyAV probe accepted.
    import decord

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0))
        if len(reader) != info.frame_count:
            raise _BackendFailed(f"decord counts {len(reader)} frames, the probe {info.frame_count}")
        for first in range(0, len(wanted), 8):  # small batches bound the memory of 4K frames
            batch = wanted[first : first + 8]
            images = reader.get_batch(batch).asnumpy()  # [B, H, W, 3], already upright: decord applies rotation
            if images.shape[1:3] != (info.height, info.width):
                raise _BackendFailed(f"decord decodes {images.shape[2]}x{images.shape[1]} frames")
            yield from zip(batch, images)
    except decord.DECORDError:  # its message is a C++ log line, nothing to show a user
        raise _BackendFailed("decord reported an error") from None


def _pyav_sampled(container, timeline: _Timeline, info: VideoInfo, wanted: list[int]) -> Iterator:
    """Decode forward from the keyframe before each target, seeking only when that skips frames; frames nobody
    needs are not decoded when no other frame refers to them, and only the targets are converted to RGB."""
    stream = container.streams[info.stream_index]
    frames, position, targets = None, -1, set(wanted)
    for target in wanted:
        if frames is None or timeline.keyframe_before(target) > position + 1:
            frames = _frames_from(container, stream, timeline, target, targets)
        frame = _take(frames, target)
        if frame is None:
            raise MediaError(f"the video is damaged: frame {target} of {info.frame_count} could not be decoded")
        position = target
        yield target, _upright(frame, info.rotation)


def _take(frames: Iterator, target: int):
    """Frame `target` from (index, frame) pairs, consuming those before it; None when it never comes."""
    for index, frame in frames:
        if index >= target:
            return frame if index == target else None
    return None


def _pyav_frames(container, timeline: _Timeline, info: VideoInfo, indices: range) -> Iterator:
    stream = container.streams[info.stream_index]
    for index, frame in _frames_from(container, stream, timeline, indices.start):
        if index >= indices.stop:
            return
        if index in indices:
            yield index, _upright(frame, info.rotation)


def _frames_from(container, stream, timeline: _Timeline, target: int, wanted: set[int] | None = None) -> Iterator:
    """(index, frame) pairs decoded from the keyframe before `target`, or from the stream start when seeking there
    lands after the target (an index that points too late). With `wanted`, other frames may be skipped."""
    for key in dict.fromkeys((timeline.keyframe_before(target), 0)):
        container.seek(int(timeline.pts[key]), stream=stream)  # backward: the keyframe at or before
        packets = _decode(container, stream, timeline, wanted)
        decoded = ((timeline.index_of(_pts(frame)), frame) for frame in packets)
        first = next(decoded, None)
        if first is not None and first[0] <= target:
            return itertools.chain([first], decoded)
    return iter(())


def _decode(container, stream, timeline: _Timeline, wanted: set[int] | None) -> Iterator:
    """Frames of `stream` from the current position. With `wanted` (frame indices), the decoder skips frames that
    are neither wanted nor referenced by later frames (FFmpeg's skip_frame=NONREF): the pixels of every decoded
    frame are unchanged, and about half of an x264 stream's frames need no work."""
    if wanted is None:
        yield from container.decode(stream)
        return
    codec = stream.codec_context
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # end of stream: flush what the decoder still holds
                yield from codec.decode(None)
                continue
            ticks = packet.pts if packet.pts is not None else packet.dts
            needed = ticks is None or timeline.index_of(ticks) in wanted
            codec.skip_frame = "DEFAULT" if needed else "NONREF"
            yield from codec.decode(packet)
    finally:
        codec.skip_frame = "DEFAULT"


def _pts(frame) -> int:
    pts = frame.pts if frame.pts is not None else frame.dts  # some AVI decoders only carry the packet's dts
    if pts is None:
        raise MediaError("the video frames carry no timestamps; re-encode it as MP4")
    return pts


def _upright(frame, rotation: int) -> np.ndarray:
    return np.rot90(frame.to_ndarray(format="rgb24"), k=-rotation // 90)  # [H, W, 3], turned clockwise


def _fit(image: np.ndarray, size: tuple[int, int]) -> memoryview:
    """Raw RGB bytes of the frame at `size` (width, height): shrunk for max_side, or rescaled when a stream changes
    resolution midway, so every frame has the probed shape."""
    if image.shape[1::-1] != size:
        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(size, Image.Resampling.BILINEAR))
    return memoryview(np.ascontiguousarray(image)).cast("B")
