"""Video probe, the §5.1(a) sampling rule and decoding: the reliability table's video cases on generated clips."""

from __future__ import annotations

import os
import signal
import struct
import time

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference import video
from inference.media import MediaError
from inference.video import (
    VideoClip,
    VideoLimits,
    frames_shown_at,
    iter_frames,
    load_clip,
    probe_video,
    sample_times,
)
from media_fixtures import frame_number, numbered_frame, write_timed_video, write_video

BACKENDS = ["pyav", "decord"]


def user_error(match: str, fn, *args, **kwargs) -> MediaError:
    with pytest.raises(MediaError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


def clip_or_error(path, **kwargs) -> VideoClip | MediaError:
    try:
        return load_clip(path, **kwargs)
    except MediaError as err:
        return err


def numbers(frames) -> list[int | None]:
    return [frame_number(image) for image in frames]


def children() -> set[int]:
    """Live child processes of this test process."""
    pids = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids |= {int(pid) for pid in f.read().split()}
    return pids


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Clips shared by the tests of this module, written once."""
    folder = tmp_path_factory.mktemp("clips")
    return {
        "10s": write_timed_video(folder / "ten_seconds.mp4", [i / 10 for i in range(100)]),
        "vfr": write_timed_video(folder / "vfr.mp4", VFR_TIMES),
    }


VFR_TIMES = [0.0, 0.1, 0.15, 0.4, 1.0, 1.05, 2.0, 2.2, 3.7]


# --- the sampling rule, §5.1(a) ---


def test_ten_second_clip_gives_21_frames_half_a_second_apart():
    assert sample_times(10.0) == [i / 2 for i in range(21)]


def test_uniform_beyond_the_threshold():
    assert sample_times(63.5) == [i / 2 for i in range(128)]  # (128 - 1) / 2 = 63.5 is still on the 2 fps grid
    longer = sample_times(63.6)
    assert len(longer) == 128 and longer[-1] == 63.6 and longer == pytest.approx(np.linspace(0, 63.6, 128))
    assert sample_times(191.5, max_frames=384) == [i / 2 for i in range(384)]
    assert len(sample_times(3600.0, max_frames=384)) == 384


def test_short_clips_and_other_rates():
    assert sample_times(0.3) == [0.0, 0.3]
    assert sample_times(0.0) == [0.0]
    assert sample_times(3.5, max_fps=1.0) == [0.0, 1.0, 2.0, 3.0, 3.5]
    assert sample_times(10.2) == [*(i / 2 for i in range(21)), 10.2]


@pytest.mark.parametrize(("duration", "kwargs"), [(-1.0, {}), (5.0, {"max_frames": 1}), (5.0, {"max_frames": 385})])
def test_sampling_arguments_are_checked(duration, kwargs):
    with pytest.raises(ValueError, match="max_frames"):
        sample_times(duration, **kwargs)
    with pytest.raises(ValueError, match="max_fps"):
        sample_times(5.0, max_fps=0.0)


@given(
    duration=st.floats(0.0, 3600.0),
    max_frames=st.integers(2, 384),
    max_fps=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
)
def test_sampling_properties(duration, max_frames, max_fps):
    times = sample_times(duration, max_frames=max_frames, max_fps=max_fps)
    assert times[0] == 0.0 and times[-1] == duration and len(times) <= max_frames
    gaps = np.diff(times[:-1])  # the last gap is whatever is left before the end
    assert (gaps >= 1 / max_fps - 1e-9).all()


def test_frame_shown_at_a_time():
    ends = np.array([0.1, 0.2, 0.35])  # frames shown over [0, 0.1), [0.1, 0.2), [0.2, 0.35)
    times = np.array([0.0, 0.0999, 0.1, 0.2, 0.34, 0.35, 9.0])
    assert frames_shown_at(ends, times).tolist() == [0, 0, 1, 2, 2, 2, 2]  # an end time belongs to the next frame


# --- decoding the sampled frames ---


@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_second_clip(clips, backend):
    clip = load_clip(clips["10s"], backend=backend)
    assert isinstance(clip, VideoClip)
    assert clip.times == tuple(i / 2 for i in range(21)) and clip.start == 0.0
    assert clip.frame_indices == (*range(0, 100, 5), 99)  # 10.0 s is past the last frame: clamped to it
    assert clip.frames.shape == (21, 108, 192, 3) and clip.frames.dtype == np.uint8
    assert numbers(clip.frames) == list(clip.frame_indices)
    info = clip.info
    assert (info.container, info.codec, info.width, info.height, info.rotation) == ("mp4", "h264", 192, 108, 0)
    assert (info.frame_count, info.duration, info.fps, info.notes) == (100, 10.0, 10.0, ())


def test_same_frames_as_the_official_decord_loader_at_constant_frame_rate(clips):
    # molmo-utils' decord path (§5.1(a)): D from decord's frame stamps, then searchsorted right on their end times.
    import decord

    stamps = decord.VideoReader(str(clips["10s"])).get_frame_timestamp(list(range(100)))  # [N, 2] start, end
    times = np.array(sample_times(float(stamps[-1, 1] - stamps[0, 0])))
    official = np.minimum(np.searchsorted(stamps[:, 1], times + stamps[0, 0], side="right"), 99)
    clip = load_clip(clips["10s"])
    assert clip.times == pytest.approx(times) and list(clip.frame_indices) == official.tolist()


def test_probe_matches_the_clip(clips):
    assert probe_video(clips["10s"]) == load_clip(clips["10s"], max_frames=2).info


def test_clip_range(clips):
    clip = load_clip(clips["10s"], start=2.0, end=5.0)
    assert clip.start == 2.0 and clip.times == tuple(i / 2 for i in range(7))
    assert clip.frame_indices == tuple(range(20, 51, 5)) and numbers(clip.frames) == list(range(20, 51, 5))
    tail = load_clip(clips["10s"], start=8.0, end=60.0)  # the end is clamped to the video
    assert tail.times[-1] == 2.0 and tail.frame_indices[-1] == 99
    user_error(
        r"clip range 12\.0-10\.0 s is not inside the video \(0\.0-10\.0 s\)", load_clip, clips["10s"], start=12.0
    )
    user_error("clip range 3.0-2.0 s", load_clip, clips["10s"], start=3.0, end=2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_uses_presentation_times(clips, backend):
    clip = load_clip(clips["vfr"], backend=backend)
    assert clip.info.frame_count == len(VFR_TIMES)
    # The frame on screen at t: the last one that started at or before t, from the times the clip was written with
    # (torchcodec's "played at"; decord's end times, start + nominal frame length, would pick later frames here).
    expected = [max(i for i, start in enumerate(VFR_TIMES) if start <= t + 1e-9) for t in clip.times]
    assert list(clip.frame_indices) == expected and numbers(clip.frames) == expected
    assert clip.times == tuple(sample_times(clip.info.duration))


def test_iter_frames_gives_presentation_times(clips):
    frames = list(iter_frames(clips["vfr"]))
    assert [f.index for f in frames] == list(range(len(VFR_TIMES)))
    assert [f.time for f in frames] == pytest.approx(VFR_TIMES, abs=1e-3)
    assert numbers(f.image for f in frames) == list(range(len(VFR_TIMES)))


def test_iter_frames_range_step_and_size(clips):
    frames = list(iter_frames(clips["10s"], start=2.05, end=4.0, step=4, max_side=96))
    assert [f.index for f in frames] == [20, 24, 28, 32, 36, 40]  # from the frame shown at 2.05 s to the one at 4.0 s
    assert [f.time for f in frames] == pytest.approx([i / 10 for i in range(20, 41, 4)])
    assert all(f.image.shape == (54, 96, 3) for f in frames)


def test_max_side_shrinks_sampled_frames(clips):
    clip = load_clip(clips["10s"], max_frames=3, max_side=64)
    assert clip.frames.shape == (3, 36, 64, 3)


@pytest.mark.parametrize("rotate", [90, 180, 270])
@pytest.mark.parametrize("backend", BACKENDS)
def test_phone_rotation_gives_upright_frames(tmp_path, rotate, backend):
    path = write_timed_video(tmp_path / "phone.mp4", [i / 10 for i in range(20)], rotate=rotate)
    clip = load_clip(path, max_frames=4, backend=backend)
    assert (clip.info.rotation, clip.info.width, clip.info.height) == (rotate, 192, 108)
    assert clip.frames.shape[1:] == (108, 192, 3)
    assert numbers(clip.frames) == list(clip.frame_indices)
    streamed = list(iter_frames(path, end=0.3))
    assert numbers(f.image for f in streamed) == [0, 1, 2, 3]


# --- what is refused, and how fast ---


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


NOT_VIDEOS = {
    "empty": (b"", "the video file is empty"),
    "text": (b"hello, this is not a video\n" * 50, "not a supported video; upload an MP4, MOV, MKV, WebM or AVI file"),
    "html": (b"<!doctype html><html><body>hi</body></html>", "not a supported video"),
    "hls": (b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n", "not a supported video"),
    "concat": (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "not a supported video"),
}


@pytest.mark.parametrize("kind", NOT_VIDEOS)
def test_non_videos_are_refused_at_once(tmp_path, kind):
    data, message = NOT_VIDEOS[kind]
    path = _write(tmp_path, "upload.mp4", data)
    started = time.perf_counter()
    for fn in (probe_video, load_clip):
        user_error(message, fn, path)
    assert time.perf_counter() - started < 1.0


def test_mp4_missing_its_index_is_refused_in_under_a_second(tmp_path):
    whole = write_timed_video(tmp_path / "whole.mp4", [i / 30 for i in range(90)])  # the index (moov) comes last
    data = whole.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2
    path = _write(tmp_path, "truncated.mp4", data[: len(data) // 2])
    started = time.perf_counter()
    user_error(r"the video file is incomplete: its MP4 index \(moov\) is missing", probe_video, path)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("name", "listing"),
    [
        ("list.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n"),
        ("list.txt", "ffconcat version 1.0\nfile '{segment}'\n"),
    ],
)
def test_demuxers_that_open_other_files_are_not_allowed(tmp_path, name, listing):
    # Past the magic-byte check (called directly here), FFmpeg's own allowlist still refuses playlists and concat
    # lists, although the file they point to is a valid video next to them.
    write_timed_video(tmp_path / "segment.mp4", [0.0, 0.1])
    playlist = _write(tmp_path, name, listing.format(segment="segment.mp4").encode())
    assert av.open(str(playlist)).streams.video  # what an unrestricted open would do
    with pytest.raises(MediaError, match="unsupported kind"), video._opened(str(playlist)):
        pass


def test_8k_is_refused_before_decoding(tmp_path):
    path = tmp_path / "8k.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.options = 7680, 4320, {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.zeros((4320 * 3 // 2, 7680), np.uint8), format="yuv420p")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    message = r"video too large: 7680x4320 \(max 4096 px per side and 8\.8 MP per frame"
    user_error(message, load_clip, path)


@pytest.mark.parametrize("name", ["long.mp4", "long.mkv"])
def test_very_long_video_is_refused_with_the_limit(tmp_path, name):
    path = write_timed_video(tmp_path / name, [0.0, 3 * 3600.0])
    user_error(r"video too long: 3:00:0\d \(max 10:00\)", probe_video, path)


def test_absurd_frame_rate_is_refused_with_the_limit(tmp_path):
    path = write_timed_video(tmp_path / "fast.mp4", [i / 1000 for i in range(60)])
    user_error(r"video frame rate too high: \d{3,} fps \(max 240 fps\)", probe_video, path)


def test_other_limits_are_configurable(clips):
    user_error(r"too many frames: over 50", probe_video, clips["10s"], VideoLimits(max_frame_count=50))
    user_error(r"video file too large: 0 MB \(max 0 MB\)", probe_video, clips["10s"], VideoLimits(max_bytes=1000))
    user_error(r"video too long: 0:10 \(max 0:05\)", probe_video, clips["10s"], VideoLimits(max_duration=5.0))


# --- odd files: defined handling ---


def test_browser_recording_without_index_or_duration(tmp_path):
    # What MediaRecorder (a webcam recording in the page) writes: WebM with no cues and no duration.
    path = write_timed_video(
        tmp_path / "webcam.webm", [i / 30 for i in range(150)], codec="libvpx", container_options={"live": "1"}
    )
    with av.open(str(path)) as container:
        assert container.duration is None and b"\x1c\x53\xbb\x6b" not in path.read_bytes()  # no Cues element
    clip = load_clip(path, max_frames=6)
    assert clip.info.frame_count == 150 and clip.info.duration == pytest.approx(5.0, abs=0.05)
    assert numbers(clip.frames) == list(clip.frame_indices) == [0, 30, 60, 90, 120, 149]


def test_audio_only_file(tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    user_error("the file has only audio; upload an MP4, MOV, MKV, WebM or AVI video", probe_video, path)


def test_video_with_audio_uses_the_video(tmp_path):
    path = tmp_path / "talk.mkv"
    with av.open(str(path), "w") as container:
        audio = container.add_stream("aac", rate=16000)
        picture = container.add_stream("libx264", rate=10)
        picture.width, picture.height = 192, 108
        for i in range(10):
            for packet in picture.encode(av.VideoFrame.from_ndarray(numbered_frame(i), format="rgb24")):
                container.mux(packet)
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        sound.sample_rate = 16000
        for packet in [*audio.encode(sound), *audio.encode(), *picture.encode()]:
            container.mux(packet)
    clip = load_clip(path, max_frames=3)
    assert clip.info.container == "mkv/webm" and clip.info.stream_index == 1
    assert numbers(clip.frames) == list(clip.frame_indices)


def test_two_video_streams_use_the_default_one_and_say_so(tmp_path):
    path = tmp_path / "two.mp4"
    with av.open(str(path), "w") as container:
        main = container.add_stream("libx264", rate=10)  # the muxer marks the first stream as the default
        main.width, main.height = 192, 108
        small = container.add_stream("libx264", rate=10)
        small.width, small.height = 64, 36
        for i in range(10):
            for stream, image in ((small, np.zeros((36, 64, 3), np.uint8)), (main, numbered_frame(i))):
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
        for packet in [*small.encode(), *main.encode()]:
            container.mux(packet)
    for backend in BACKENDS:
        clip = load_clip(path, max_frames=3, backend=backend)
        assert clip.info.notes == ("2 video streams: using stream #0 (192x108)",)
        assert numbers(clip.frames) == list(clip.frame_indices)


def test_odd_size(tmp_path):
    path = write_timed_video(
        tmp_path / "odd.mp4", [i / 10 for i in range(10)], width=641, height=481, pix_fmt="yuv444p"
    )
    for backend in BACKENDS:
        clip = load_clip(path, max_frames=3, backend=backend)
        assert clip.frames.shape == (3, 481, 641, 3) and numbers(clip.frames) == list(clip.frame_indices)


def test_ten_bit(tmp_path):
    path = write_timed_video(tmp_path / "ten_bit.mp4", [i / 10 for i in range(10)], pix_fmt="yuv420p10le")
    for backend in BACKENDS:
        clip = load_clip(path, max_frames=3, backend=backend)
        assert clip.info.pixel_format == "yuv420p10le" and clip.frames.dtype == np.uint8
        assert numbers(clip.frames) == list(clip.frame_indices)
        assert abs(int(clip.frames[0, 100, 96].mean()) - 128) <= 3  # the grey stays grey


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt"),
    [("vp9.webm", "libvpx-vp9", "yuv420p"), ("hevc.mp4", "libx265", "yuv420p"), ("mjpeg.avi", "mjpeg", "yuvj420p")],
)
def test_other_accepted_codecs(tmp_path, name, codec, pix_fmt):
    path = write_video(tmp_path / name, (numbered_frame(i) for i in range(10)), fps=10, codec=codec, pix_fmt=pix_fmt)
    clip = load_clip(path, max_frames=3)
    assert clip.info.codec == {"libvpx-vp9": "vp9", "libx265": "hevc"}.get(codec, codec)
    assert numbers(clip.frames) == [0, 5, 9]


def test_av1_decodes_with_pyav_where_decord_cannot(tmp_path):
    path = write_video(tmp_path / "av1.mkv", (numbered_frame(i) for i in range(6)), fps=10, codec="libsvtav1")
    clip = load_clip(path, max_frames=2)  # auto: decord has no AV1 decoder, PyAV does it
    assert clip.info.codec == "av1" and numbers(clip.frames) == [0, 5]
    user_error("decord cannot decode AV1 video", load_clip, path, backend="decord")


def test_exotic_codec_is_refused_with_the_list(tmp_path):
    path = write_video(tmp_path / "lossless.mkv", (numbered_frame(i) for i in range(3)), fps=10, codec="ffv1")
    user_error(r"unsupported video codec ffv1 \(accepted: H\.264, HEVC, VP8, VP9, AV1", probe_video, path)


# --- damaged files: an error or a timeout, never a hang ---


def _patch_avi_frame_count(data: bytes, frames: int) -> bytes:
    """Claim `frames` frames in both AVI headers (avih dwTotalFrames, strh dwLength)."""
    out = bytearray(data)
    out[data.find(b"avih") + 24 : data.find(b"avih") + 28] = struct.pack("<I", frames)
    out[data.find(b"strh") + 40 : data.find(b"strh") + 44] = struct.pack("<I", frames)
    return bytes(out)


def test_over_reported_frame_count_uses_the_frames_that_exist(tmp_path):
    avi = write_video(tmp_path / "short.avi", (numbered_frame(i) for i in range(20)), fps=10, codec="mpeg4")
    path = _write(tmp_path, "claims_more.avi", _patch_avi_frame_count(avi.read_bytes(), 300))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 300  # the header's claim
    clip = load_clip(path)
    assert clip.info.frame_count == 20 and numbers(clip.frames) == list(clip.frame_indices)


def test_truncated_stream_with_its_index_intact(tmp_path):
    # faststart puts the index first: after truncation it lists frames whose bytes are gone.
    path = tmp_path / "fast.mp4"
    write_timed_video(path, [i / 10 for i in range(100)], container_options={"movflags": "+faststart"})
    assert path.read_bytes().find(b"moov") < path.read_bytes().find(b"mdat")
    data = path.read_bytes()
    cut = _write(tmp_path, "cut.mp4", data[: len(data) * 2 // 3])
    started = time.perf_counter()
    result = clip_or_error(cut)
    assert time.perf_counter() - started < 10
    if isinstance(result, MediaError):
        assert "damaged" in str(result)
    else:
        assert numbers(result.frames) == list(result.frame_indices)


@pytest.mark.parametrize("seed", range(4))
def test_bit_flipped_stream_ends_with_frames_or_an_error(tmp_path, seed):
    data = bytearray(write_timed_video(tmp_path / "ok.mp4", [i / 10 for i in range(40)]).read_bytes())
    rng = np.random.default_rng(seed)
    start, end = data.find(b"mdat") + 4, data.find(b"moov")  # the frames only: the index stays readable
    for offset in rng.integers(start, end, size=40):
        data[offset] ^= 1 << int(rng.integers(8))
    path = _write(tmp_path, "flipped.mp4", bytes(data))
    started = time.perf_counter()
    result = clip_or_error(path, max_frames=8)
    assert time.perf_counter() - started < 10
    if isinstance(result, MediaError):
        assert "damaged" in str(result) or "crashed" in str(result)
    else:
        assert result.frames.shape == (8, 108, 192, 3)


# --- the child process: timeouts and crashes cost one request, never the caller ---


def test_a_stalled_child_is_killed_and_reported(clips):
    before = children()
    user_error("the video took too long to decode", probe_video, clips["10s"], VideoLimits(probe_timeout=0.001))
    assert children() <= before


def test_a_crashed_decoder_is_reported_and_the_next_request_works(clips):
    before = children()
    frames = iter_frames(clips["10s"])
    assert next(frames).index == 0
    (child,) = children() - before
    os.kill(child, signal.SIGKILL)
    user_error("the video decoder crashed on this file", lambda: list(frames))
    assert children() <= before
    assert load_clip(clips["10s"], max_frames=2).frame_indices == (0, 99)


def test_stopping_a_stream_early_ends_its_child(clips):
    before = children()
    frames = iter_frames(clips["10s"])
    next(frames)
    assert children() - before
    frames.close()
    assert children() <= before
