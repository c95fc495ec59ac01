"""Examples per tab: media the project generates (assets/examples, instant) and the official Molmo2 demo media,
fetched in the background on first start when online (cached; never blocking; silently skipped offline)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "examples"
log = logging.getLogger("molmo2.ui")

IMAGE_EXAMPLES = [
    [str(ASSETS / "discs.png"), "Point to the red discs."],
    [str(ASSETS / "discs.png"), "How many blue discs are there?"],
]
MULTI_IMAGE_EXAMPLES = [[[str(ASSETS / f"set_{k}.png") for k in (1, 2, 3)], "Count the red discs in all images."]]
VIDEO_EXAMPLES = [[str(ASSETS / "balls_count.mp4"), "How many red balls appear in the video?"]]
TRACKING_EXAMPLES = [[str(ASSETS / "balls_track.mp4"), "Track the balls."]]


@dataclass(frozen=True)
class Official:
    file: str
    url: str
    tab: str  # "image", "multi_image", "video" or "tracking"
    prompt: str
    title: str


# The media of the Molmo2 model card and the transformers tests (public URLs).
OFFICIAL = (
    Official("pipeline-cat-chonk.jpeg",
             "https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/pipeline-cat-chonk.jpeg",
             "image", "Describe this image.", "Cat (model card)"),
    Official("many_penguins.mp4", "https://storage.googleapis.com/oe-training-public/demo_videos/many_penguins.mp4",
             "video", "Point to the penguins.", "Penguins (model card)"),
    Official("arena_basketball.mp4",
             "https://storage.googleapis.com/oe-training-public/demo_videos/arena_basketball.mp4",
             "tracking", "Track the player who is dunking.", "Basketball (model card)"),
)  # fmt: skip


def official_dir() -> Path:
    """In the temp folder: Gradio hands files from there to the browser (the app's cache dir is blocked)."""
    return Path(os.environ.get("MOLMO2_MEDIA_CACHE") or Path(tempfile.gettempdir()) / "molmo2-demo-media")


def cached(tab: str) -> list[tuple[Official, Path]]:
    """The official examples of `tab` already on disk."""
    folder = official_dir()
    return [(o, folder / o.file) for o in OFFICIAL if o.tab == tab and (folder / o.file).is_file()]


def prefetch_official() -> threading.Thread:
    """Download missing official media in a daemon thread; offline, every attempt fails quietly."""

    def fetch():
        folder = official_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for item in OFFICIAL:
            target = folder / item.file
            if target.exists() or os.environ.get("HF_HUB_OFFLINE") == "1":
                continue
            part = target.with_suffix(target.suffix + ".part")
            try:
                with urllib.request.urlopen(item.url, timeout=15) as response, part.open("wb") as out:
                    out.write(response.read(200 * 2**20))
                part.rename(target)
            except OSError as err:  # offline or refused: the example is simply not offered
                log.info("official example %s not fetched: %s", item.file, err)
                part.unlink(missing_ok=True)

    thread = threading.Thread(target=fetch, name="fetch examples", daemon=True)
    thread.start()
    return thread


def official_buttons(tab: str, media: gr.components.Component, question: gr.Textbox) -> list[gr.Button]:
    """One hidden button per official example of `tab`; `show_official` reveals those that are cached."""
    buttons = []
    for item in (o for o in OFFICIAL if o.tab == tab):
        button = gr.Button(f"Official demo: {item.title}", size="sm", visible=False)
        button.click(
            lambda item=item: (str(official_dir() / item.file), item.prompt), None, [media, question], queue=False,
            api_visibility="private",
        )  # fmt: skip
        buttons.append(button)
    return buttons


def show_official(tab: str):
    """Visibility updates for the tab's official buttons (a single update when the tab has one: Gradio takes a
    list returned to one output as that output's value)."""
    present = {o.file for o, _ in cached(tab)}
    updates = [gr.update(visible=o.file in present) for o in OFFICIAL if o.tab == tab]
    return updates[0] if len(updates) == 1 else updates
