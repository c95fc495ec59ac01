"""app.py: settings from flags and environment, start-up with the model loading behind the UI, clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import parse_settings


def test_flags_override_environment():
    env = {"MOLMO2_MODEL": "env/model", "MOLMO2_DEVICE": "cpu", "MOLMO2_PORT": "9000", "MOLMO2_SHARE": "1"}
    settings = parse_settings([], env)
    assert (settings.model, settings.device, settings.dtype, settings.port, settings.share) == (
        "env/model", "cpu", "float32", 9000, True,
    )  # fmt: skip
    settings = parse_settings(["--model", "tiny-random", "--port", "7000", "--dtype", "bfloat16"], env)
    assert (settings.model, settings.port, settings.dtype) == ("tiny-random", 7000, "bfloat16")
    assert parse_settings([], {}).model == "allenai/Molmo2-4B"
    assert parse_settings([], {}).host == "127.0.0.1"


@pytest.mark.browser
def test_tiny_random_loads_and_is_labelled(start_app, page, screenshot, tmp_path):
    app = start_app("--model", "tiny-random", "--device", "cpu", env={"MOLMO2_CACHE": str(tmp_path)})
    page.goto(app.url)
    status = page.locator(".model-status[data-state=ready]")
    status.wait_for(timeout=60_000)
    text = status.inner_text()
    assert "tiny-random" in text and "cpu" in text and "float32" in text
    assert "meaningless" in text
    screenshot(page, "app-status-ready")
    assert app.stop() == 0
    log = app.log.read_text()
    assert "model tiny-random ready on cpu (float32)" in log and "server stopped" in log


@pytest.mark.browser
def test_unreachable_default_model_still_serves_and_says_why(start_app, page, screenshot, tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    app = start_app(env=env)  # default model allenai/Molmo2-4B, not cached here
    page.goto(app.url)
    status = page.locator(".model-status[data-state=failed]")
    status.wait_for(timeout=60_000)
    text = status.inner_text()
    assert "allenai/Molmo2-4B" in text
    assert "not in the local Hugging Face cache" in text and "offline mode" in text
    assert "--model DIR" in text and "tiny-random" in text
    screenshot(page, "app-status-offline")
    assert "model allenai/Molmo2-4B failed to load: " in app.log.read_text()  # the Space's log says it too


def test_heap_arenas_are_capped_where_glibc_allows():
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt(M_ARENA_MAX) is glibc's")
    check = (  # in a child process: the cap would otherwise stay on this test session
        "from app import limit_malloc_arenas as cap; "
        "print(cap({'MALLOC_ARENA_MAX': '2'}), cap({'MALLOC_ARENA_MAX': 'many'}), cap({'MALLOC_ARENA_MAX': '0'}))"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout  # fmt: skip
    assert out.split() == ["True", "False", "False"]  # bad values change nothing
