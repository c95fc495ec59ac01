"""The generated scenes decode back with the objects where the scene says they are."""

from __future__ import annotations

import av
import numpy as np

from media_fixtures import SceneObject, scene_frames, write_video


def test_scene_video_round_trip(tmp_path):
    red = SceneObject(1, (230, 40, 40), 12, x0=40, y0=60, x1=280, y1=60)
    blue = SceneObject(2, (40, 60, 230), 10, x0=160, y0=200, x1=160, y1=120, appear=1.0)
    path = write_video(tmp_path / "scene.mp4", scene_frames(320, 240, 10, 2.0, [red, blue]), fps=10)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 20 and frames[0].shape == (240, 320, 3)
    for i in (0, 15):
        x, y = red.position(i / 10, 2.0)
        assert np.abs(frames[i][round(y), round(x)].astype(int) - red.colour).max() < 40
    assert blue.position(0.5, 2.0) is None
    x, y = blue.position(1.5, 2.0)
    assert np.abs(frames[15][round(y), round(x)].astype(int) - blue.colour).max() < 40
