"""Shared fixtures: tiny checkpoints written once per session, and headless Chromium for browser tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from inference.tiny import write_checkpoint

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Flags that keep Chromium off the network and working as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("tiny-qwen3"), variant="qwen3", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_olmo(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("tiny-olmo"), variant="olmo", size="tiny", seed=1)


@pytest.fixture(scope="session", params=["qwen3", "olmo"])
def tiny_checkpoint(request) -> Path:
    return request.getfixturevalue(f"tiny_{request.param}")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (Debian package 'chromium'); `make test` installs it as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    """A page as a phone shows it: 390 px wide, 2x pixels, touch."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)  # fmt: skip
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot():
    """save(page, name): a full-page screenshot under tests/artifacts/, kept for people to look at."""

    def save(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningApp:
    """`python app.py ...` in a child process, stopped with SIGTERM at the end of the test."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 120):
        import subprocess
        import sys
        import time
        import urllib.request

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = ARTIFACTS / f"app-{self.port}.log"
        ARTIFACTS.mkdir(exist_ok=True)
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port), *args],
            cwd=Path(__file__).resolve().parents[1],
            env=full_env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"app did not serve {self.url} in {timeout} s")
            time.sleep(0.25)

    def stop(self, timeout: float = 30) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def start_app():
    apps: list[RunningApp] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningApp:
        apps.append(RunningApp(list(args), env))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()
