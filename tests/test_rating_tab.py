"""The Compare & rate tab in headless Chromium, a session prepared from a JSONL, and `python app.py rate`.

Battles are prepared with the same pipeline the tabs use; the answers' text is scripted per system (random
weights never point at anything), everything else is the real code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import free_port
from inference.engine import Molmo2Engine
from inference.tiny import write_checkpoint
from media_fixtures import SceneObject, scene_frames, write_video
from pipeline.rating import SystemAnswers
from ratings import load_session, open_store, prepare_battles
from test_ui import Scripted

ROOT = Path(__file__).resolve().parents[1]
# Strings that must never reach a rater's page before the vote: names, ids, model paths of the systems.
SECRETS = ("AlphaSecretName", "BetaSecretName", "sysalpha9", "sysbeta9", "model-alpha-q7", "model-beta-q7")
ALPHA = {
    "Point to the red discs.": '<points coords="1 1 250 300 2 700 600">red discs</points>',
    "How many balls?": 'There are 1 <points coords="0.5 1 300 500">balls</points>.',
}
BETA = {
    "Point to the red discs.": 'Counting the <points coords="1 1 500 500">red discs</points> shows a total of 1.',
    "How many balls?": "There are none.",
}


def _session(folder: Path, models: dict[str, Path], min_view: float, session_id: str, uploads: bool = False) -> Path:
    data = folder / "media"
    data.mkdir(exist_ok=True)
    shutil.copy(ROOT / "assets/examples/discs.png", data / "discs.png")
    shutil.copy(ROOT / "assets/examples/set_1.png", data / "set_1.png")
    ball = SceneObject(1, (220, 50, 47), 12, x0=20, y0=60, x1=140, y1=60)
    write_video(data / "ball.mp4", scene_frames(160, 120, 10, 2.0, [ball]), 10)
    inputs = [
        {"id": "discs", "task": "image", "prompt": "Point to the red discs.", "media": ["discs.png"]},
        {"id": "set", "task": "image", "prompt": "Point to the red discs.", "media": ["set_1.png"]},
        {"id": "ball", "task": "video", "prompt": "How many balls?", "media": ["ball.mp4"]},
    ]
    (folder / "inputs.jsonl").write_text("\n".join(json.dumps(i) for i in inputs))
    spec = {
        "id": session_id, "title": f"Alpha vs beta ({session_id})", "data_dir": "media", "inputs": "inputs.jsonl",
        "systems": [
            {"id": "sysalpha9", "name": "AlphaSecretName", "model": str(models["alpha"]), "settings": {"max_crops": 4}},
            {"id": "sysbeta9", "name": "BetaSecretName", "model": str(models["beta"]), "settings": {"max_crops": 6}},
        ],
        "options": {"min_view_seconds": min_view, "rubric": True, "rater_uploads": uploads},
    }  # fmt: skip
    path = folder / "session.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    from ui import CSS, build_demo
    from ui.backend import Backend
    from ui.model_slot import READY, ModelSlot

    root = tmp_path_factory.mktemp("arena")
    models = {name: write_checkpoint(root / f"model-{name}-q7", size="tiny") for name in ("alpha", "beta")}
    real = Molmo2Engine.load(models["alpha"])
    scripted = {str(models["alpha"]): Scripted(real, ALPHA), str(models["beta"]): Scripted(real, BETA)}
    store = open_store("test", root / "cache", env={})
    sessions = {}
    for session_id, min_view in (("open", 0.0), ("slow", 2.5)):
        folder = root / session_id
        folder.mkdir()
        session = load_session(_session(folder, models, min_view, session_id))
        store.create_session(session)
        answers = SystemAnswers(session, root / "work", lambda model, revision: scripted[model])
        assert prepare_battles(store, session, answers) == 3
        sessions[session_id] = session
    # Raters bring their own inputs here; both systems are settings of the model the app has loaded.
    (root / "own").mkdir()
    own = load_session(_session(root / "own", {"alpha": models["alpha"], "beta": models["alpha"]}, 0.0, "own", True))
    store.create_session(own)
    slot = ModelSlot("tiny-random", "cpu", "float32", lambda *_: real).start()
    while slot.status().state != READY:
        time.sleep(0.05)
    demo = build_demo(slot, Backend(slot, "tiny-random", "cpu", root / "ui-work", 60), store)
    demo.queue(max_size=8, default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, css=CSS)
    yield SimpleNamespace(url=demo.local_url, store=store, sessions=sessions)
    demo.close()


def _join(page, arena, session_id: str, name: str):
    page.goto(arena.url)
    page.locator("#tab-rate-button").click()
    page.locator("#rate-session input").click()
    page.get_by_role("option", name=f"Alpha vs beta ({session_id}) ({session_id})").click()
    page.fill("#rate-rater textarea, #rate-rater input", name)


NEXT_SHOWN = """() => !document.querySelector('#rate-result .rate-reveal, #rate-result .rate-message')
  && document.querySelector('#rate-question .rate-question, #rate-question .rate-done') !== null"""


def _next(page) -> str:
    """Press Next battle; the new question's text once it is on the page (the last vote's reveal is cleared)."""
    page.click("#rate-next")
    page.wait_for_function(NEXT_SHOWN, timeout=60_000)
    return page.locator("#rate-question").inner_text()


def _count(text: str) -> int:
    return int(text.rsplit("count", 1)[1].split()[0]) if "count" in text else -1


def _reveal(page) -> str:
    result = page.locator("#rate-result .rate-reveal, #rate-result .rate-message")
    result.first.wait_for(timeout=30_000)
    return result.first.inner_text()


@pytest.mark.browser
def test_battles_are_anonymous_until_the_vote(arena, page, screenshot):
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    _join(page, arena, "open", "rater-anon")
    question = _next(page)
    assert "Point to the red discs." in question or "How many balls?" in question
    page.wait_for_timeout(1500)  # media requested, players mounted
    content = page.content()
    for secret in SECRETS:
        assert secret not in content
        assert not any(secret in url for url in urls), secret
    screenshot(page, "rate-battle")
    page.click("#rate-vote-a")
    revealed = _reveal(page)
    assert "AlphaSecretName" in revealed and "BetaSecretName" in revealed
    screenshot(page, "rate-reveal")


@pytest.mark.browser
def test_minimum_viewing_time_is_enforced(arena, page):
    _join(page, arena, "slow", "rater-slow")
    _next(page)
    page.click("#rate-vote-tie")
    assert "look a little longer" in _reveal(page)
    page.wait_for_timeout(2600)
    page.click("#rate-vote-tie")
    page.locator("#rate-result .rate-reveal").wait_for(timeout=30_000)


@pytest.mark.browser
def test_two_raters_at_once_then_the_leaderboard(arena, browser, screenshot):
    """Two raters rate the whole session, interleaved; they prefer the side that found more (alpha always
    does), so alpha leads the leaderboard, with intervals."""
    pages = []
    for name in ("rater-one", "rater-two"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pages.append(context.new_page())
        _join(pages[-1], arena, "open", name)
    for _ in range(3):
        for page in pages:
            _next(page)
            page.wait_for_timeout(300)
            a, b = (_count(page.locator(f"#rate-{side}-text").inner_text()) for side in "ab")
            page.click("#rate-vote-a" if a > b else "#rate-vote-b")
            _reveal(page)
    for page in pages:
        page.click("#rate-next")
        page.locator("#rate-question .rate-done").wait_for(timeout=30_000)
    raters = {arena.store.hash_id("rater", f"session:{name}") for name in ("rater-one", "rater-two")}
    votes = [v for v in arena.store.votes("open") if v.rater_hash in raters]
    assert len(votes) == 6
    page = pages[0]
    page.locator("#rate-leaderboard").click()
    page.click("#rate-refresh")
    table = page.locator("#rate-table")
    page.wait_for_function("document.querySelector('#rate-table').innerText.includes('AlphaSecretName')",
                           timeout=30_000)  # fmt: skip
    rows = table.inner_text()
    assert rows.index("AlphaSecretName") < rows.index("BetaSecretName")  # sorted by score
    assert "–" in rows  # the interval column
    page.locator("#tab-rate .js-plotly-plot").nth(1).wait_for(timeout=30_000)  # scores and win rates
    screenshot(page, "rate-leaderboard")
    for p in pages:
        p.context.close()


def test_rate_command_line_prepares_prints_exports_and_backs_up(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    spec_path = _session(folder, {"alpha": "tiny-random", "beta": "tiny-random"}, 0.0, "cli")
    spec = json.loads(spec_path.read_text())
    spec["inputs"] = "one.jsonl"
    (folder / "one.jsonl").write_text(json.dumps({"id": "d", "task": "image", "prompt": "Q", "media": ["discs.png"]}))
    spec_path.write_text(json.dumps(spec))
    env = {"MOLMO2_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}

    def rate(*args):
        done = subprocess.run([sys.executable, "app.py", "rate", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "1 battles prepared" in rate("prepare", str(spec_path), "--device", "cpu")
    assert "0 battles prepared" in rate("prepare", str(spec_path), "--device", "cpu")  # resumable
    store = open_store("test", tmp_path / "cache", env={})
    served = store.next_battle("cli", "session:someone")
    store.vote("cli", served.battle_id, "session:someone", "tie")
    assert "AlphaSecretName" in rate("leaderboard", "cli")
    assert "1 votes written" in rate("export", str(tmp_path / "votes.csv"), "--session-id", "cli")
    assert (tmp_path / "votes.csv").read_text().count("\n") == 2
    rate("backup", str(tmp_path / "backup.sqlite"))
    assert open_store("test", tmp_path / "cache", env={"MOLMO2_RATINGS_DB": f"sqlite:///{tmp_path / 'backup.sqlite'}"}
                      ).votes("cli")  # fmt: skip


@pytest.mark.browser
def test_rater_brings_their_own_image(arena, page, screenshot, tmp_path):
    _join(page, arena, "own", "rater-upload")
    page.get_by_text("Rate your own input").click()
    page.locator("#rate-own-files input[type=file]").set_input_files(str(ROOT / "assets/examples/set_2.png"))
    page.fill("#rate-own-prompt textarea", "Describe the picture.")
    page.click("#rate-own-go")
    page.wait_for_function("document.querySelector('#rate-question').innerText.includes('Describe the picture.')",
                           timeout=120_000)  # fmt: skip
    assert page.locator("#rate-a-pictures img").count() == 1 and page.locator("#rate-b-pictures img").count() == 1
    page.click("#rate-vote-both_bad")
    assert "AlphaSecretName" in _reveal(page)
    uploads = list((Path(arena.sessions["open"].data_dir).parents[1] / "own" / "media" / "uploads").iterdir())
    assert len(uploads) == 1 and "set_2" not in uploads[0].name  # kept under a name that says nothing
    other = arena.store.next_battle("own", "session:someone-else")
    assert other is None or other.input.prompt != "Describe the picture."  # shown to nobody else


def test_leaderboard_table_shows_no_score_for_both_bad_only(arena):
    from ui.rating_tab import _number

    assert _number(float("nan")) == "—" and _number(1012.4) == "1012"


def test_direct_calls_cannot_forge_a_vote(arena):
    """The vote endpoint answers direct HTTP calls (as the page makes them); a battle that was never served to
    this rater, or no battle at all, is refused by the server and stores nothing."""
    import urllib.request

    before = len(arena.store.votes("open"))
    battle = arena.store.next_battle("open", "session:owner").battle_id  # real, but never served to the forger
    forged = {"session": "open", "battle": battle, "rater": "session:forger"}
    for state in (forged, None):
        body = json.dumps({"data": [state, [], [], ""], "session_hash": "forger"}).encode()
        request = urllib.request.Request(f"{arena.url}gradio_api/api/vote_a/", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            message = json.loads(response.read())["data"][0]
        assert "rate-reveal" not in message
    assert len(arena.store.votes("open")) == before
