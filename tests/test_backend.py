"""ui/backend.py: user-facing error messages, ZeroGPU decoration, work folders."""

from __future__ import annotations

import os
import sys
import time
import types

from inference.media import MediaError
from pipeline import Settings
from ui.backend import Backend, gpu, gpu_seconds, user_message


def test_zerogpu_runs_inside_spaces_gpu_with_a_duration_from_the_request(monkeypatch):
    budgets = []
    fake = types.ModuleType("spaces")

    def GPU(duration):
        def decorate(fn):
            def wrapped(*args, **kwargs):
                budgets.append(duration(*args, **kwargs))
                return fn(*args, **kwargs)

            return wrapped

        return decorate

    fake.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", fake)
    answer = gpu(duration=lambda settings: gpu_seconds("video", settings))(lambda settings: "answered")
    assert answer(Settings(max_frames=384)) == "answered"
    assert budgets == [gpu_seconds("video", Settings(max_frames=384))]
    assert gpu_seconds("video", Settings(max_frames=384)) > gpu_seconds("video", Settings(max_frames=16))
    assert gpu_seconds("tracking", Settings()) > gpu_seconds("video", Settings()) > gpu_seconds("image", Settings())


def test_without_spaces_the_function_is_unchanged(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails
    fn = lambda: 1  # noqa: E731
    assert gpu(duration=5)(fn) is fn


def test_user_errors_have_messages_and_bugs_do_not():
    assert user_message(MediaError("image too large (max 50 MP)")) == "image too large (max 50 MP)"
    assert user_message(KeyError("boom")) is None


def test_old_work_folders_are_pruned(tmp_path):
    backend = Backend(None, "tiny-random", "cpu", tmp_path, time_limit=60)
    old = backend.work_dir()
    os.utime(old, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    new = backend.work_dir()
    assert new.exists() and not old.exists()
