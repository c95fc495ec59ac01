"""Compare & rate tab: two anonymous answers to the same input, drawn by the same code, side order random; votes
A / B / tie / both bad with an optional rubric and reason; names revealed after the vote; the leaderboard."""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import uuid
from pathlib import Path

import gradio as gr

from ratings import (
    RUBRIC_QUESTIONS,
    TASK_TYPES,
    RatingsError,
    ServedBattle,
    SessionError,
    Store,
    TooEarly,
    battle_on_demand,
    leaderboards,
)
from ui.backend import user_message
from visualization.leaderboard_charts import scores_figure, win_rate_figure
from visualization.picture import picture_value, picture_view
from visualization.player import player_value, video_player

RUBRIC_LABELS = {
    "answer_correct": "Answer correct",
    "points_on_objects": "Points on the objects",
    "count_right": "Count right",
    "ids_stable": "Ids stable over time",
}
VOTES = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
STANDING_HEADERS = ["system", "score", "95% interval", "votes", "wins", "losses", "ties", "both bad"]


def rating_tab(store: Store, backend=None) -> None:
    """`backend` (ui.backend.Backend) answers raters' own inputs with the loaded model, where sessions allow it."""
    with gr.Tab("Compare & rate", id="rate", elem_id="tab-rate"):
        state = gr.State(None)  # {"session", "battle", "rater"} of the battle on screen
        gr.Markdown(
            "Two anonymous systems answered the same question. Look at both, then vote. "
            "Left and right are drawn at random; the names are shown after your vote."
        )
        with gr.Row():
            session = gr.Dropdown(label="Rating session", choices=_sessions(store), scale=2, elem_id="rate-session")
            rater = gr.Textbox(label="Your name (or log in on a Space)", scale=2, elem_id="rate-rater")
            start = gr.Button("Next battle", variant="primary", scale=1, elem_id="rate-next")
            if os.environ.get("OAUTH_CLIENT_ID"):  # a Space with `hf_oauth: true`: raters log in
                gr.LoginButton(scale=1)
        with gr.Accordion("Rate your own input", open=False, visible=False) as own:
            with gr.Row():
                own_task = gr.Radio(list(TASK_TYPES), value="image", label="Task")
                own_files = gr.File(label="Image(s) or video", file_count="multiple", elem_id="rate-own-files")
            with gr.Row():
                own_prompt = gr.Textbox(label="Question", scale=4, elem_id="rate-own-prompt")
                own_go = gr.Button("Answer with both systems", scale=1, elem_id="rate-own-go")
        question = gr.HTML("", elem_id="rate-question")
        sides = {}
        with gr.Row(equal_height=False):
            for side in ("a", "b"):
                with gr.Column(elem_id=f"rate-{side}"):
                    gr.Markdown(f"### {side.upper()}")
                    pictures = picture_view(visible=False, elem_id=f"rate-{side}-pictures")
                    player = video_player(visible=False, elem_classes=[f"rate-{side}-player"])
                    text = gr.HTML("", elem_id=f"rate-{side}-text")
                    rubric = gr.CheckboxGroup([(RUBRIC_LABELS[q], q) for q in RUBRIC_QUESTIONS], label="Rubric",
                                              visible=False, elem_id=f"rate-{side}-rubric")  # fmt: skip
                    sides[side] = (pictures, player, text, rubric)
        reason = gr.Textbox(label="Why? (optional)", lines=2, elem_id="rate-reason")
        with gr.Row():
            buttons = {choice: gr.Button(label, elem_id=f"rate-vote-{choice}") for choice, label in VOTES.items()}
        result = gr.HTML("", elem_id="rate-result")
        with gr.Accordion("Leaderboard", open=False, elem_id="rate-leaderboard"):
            with gr.Row():
                task = gr.Radio(["all", *TASK_TYPES], value="all", label="Task", scale=3)
                refresh = gr.Button("Refresh", scale=1, elem_id="rate-refresh")
            table = gr.Dataframe(headers=STANDING_HEADERS, interactive=False, elem_id="rate-table")
            with gr.Row():
                scores = gr.Plot(label="Scores")
                wins = gr.Plot(label="Win rates")

    battle_outputs = [state, question, *[c for side in ("a", "b") for c in sides[side]], reason, result]

    def next_battle(session_id, name, request: gr.Request, profile: gr.OAuthProfile | None = None):
        rater_id = _rater(profile, name)
        if not session_id:
            raise gr.Error("Choose a rating session first.", title="No session")
        try:
            served = store.next_battle(session_id, rater_id, ip=_ip(request))
        except RatingsError as err:
            raise gr.Error(str(err), title="Cannot rate") from err
        if served is None:
            done = '<div class="rate-done">You have rated every battle of this session. Thank you!</div>'
            return None, done, *_hidden_sides(), "", ""
        return {"session": session_id, "battle": served.battle_id, "rater": rater_id}, *_battle(store, served)

    def vote(choice: str):
        def handler(current, a_rubric, b_rubric, why, request: gr.Request):
            if not current:
                return '<div class="rate-message">Start with "Next battle".</div>'
            session_id, battle_id, rater_id = current["session"], current["battle"], current["rater"]
            rubric = None
            if store.session(session_id).options.rubric:
                ticks = {"a": a_rubric or [], "b": b_rubric or []}
                rubric = {side: {q: q in ticked for q in RUBRIC_QUESTIONS} for side, ticked in ticks.items()}
            try:
                store.vote(session_id, battle_id, rater_id, choice, rubric=rubric, reason=why or "", ip=_ip(request))
                reveal = store.reveal(session_id, battle_id, rater_id)
            except TooEarly as err:
                return (
                    f'<div class="rate-message">Please look a little longer: you can vote in {err.wait_s:.0f} s.</div>'
                )
            except RatingsError as err:
                return f'<div class="rate-message error">{html.escape(str(err))}</div>'
            return (
                f'<div class="rate-reveal">You voted <b>{html.escape(VOTES[choice])}</b>. '
                f"A was <b>{html.escape(reveal.a.name)}</b>, B was <b>{html.escape(reveal.b.name)}</b>. "
                'Press "Next battle" for another.</div>'
            )

        return handler

    # Rating calls are short database work: no queue, so they stay fast while the GPU queue is full.
    start.click(next_battle, [session, rater], battle_outputs, api_name="next_battle", queue=False)

    def own_battle(session_id, name, task_type, files, prompt, request: gr.Request,
                   profile: gr.OAuthProfile | None = None):  # fmt: skip
        """A battle on the rater's upload, answered now by both systems (shown to nobody else)."""
        rater_id = _rater(profile, name)
        try:
            session_def = store.session(session_id)
            if not session_def.options.rater_uploads or backend is None:
                raise RatingsError("This session rates its prepared inputs only.")
            item = store.add_input(session_id, task_type, prompt or "", _keep_uploads(session_def, files), rater_id)
            served = battle_on_demand(store, session_def, item, _answers(session_def, backend), rater_id,
                                      ip=_ip(request))  # fmt: skip
        except RatingsError as err:
            raise gr.Error(str(err), title="Cannot rate this") from err
        except Exception as err:
            message = user_message(err)
            if message is None:
                raise
            raise gr.Error(message, title="Cannot answer") from err
        return {"session": session_id, "battle": served.battle_id, "rater": rater_id}, *_battle(store, served)

    own_go.click(own_battle, [session, rater, own_task, own_files, own_prompt], battle_outputs,
                 concurrency_id="gpu", api_visibility="private")  # fmt: skip
    session.change(lambda sid: gr.update(visible=bool(sid) and store.session(sid).options.rater_uploads), session,
                   own, api_visibility="private")  # fmt: skip
    for choice, button in buttons.items():
        button.click(vote(choice), [state, sides["a"][3], sides["b"][3], reason], result, api_name=f"vote_{choice}",
                     queue=False)  # fmt: skip

    def board(session_id, which):
        if not session_id:
            return [], None, None
        session_def = store.session(session_id)
        boards = leaderboards(store.comparisons(session_id), {s.id: s.name for s in session_def.systems})
        current = boards.get(which) or boards.get("all")
        if current is None:
            return [], None, None
        rows = [[s.name, _number(s.score), f"{_number(s.ci_low)} – {_number(s.ci_high)}", s.votes, s.wins, s.losses,
                 s.ties, s.both_bad] for s in current.standings]  # fmt: skip
        return rows, scores_figure(current), win_rate_figure(current)

    gr.on([refresh.click, task.change, session.change], board, [session, task], [table, scores, wins],
          api_visibility="private", queue=False)  # fmt: skip


def _battle(store: Store, served: ServedBattle) -> tuple:
    """Values for the question and both sides; A and B go through the same code, nothing names a system."""
    data_dir = Path(store.session(served.session_id).data_dir)
    item = served.input
    rubric = store.session(served.session_id).options.rubric
    question = (
        f'<div class="rate-question"><span class="rate-task">{html.escape(item.task)}</span> '
        f"{html.escape(item.prompt)}</div>"
    )
    values = []
    for answer in (served.a, served.b):
        pictures, player = _media(item, answer, data_dir)
        info = answer.grounding or {}
        count = info.get("count")
        text = html.escape(info.get("answer") or answer.text) + (
            f"<br><b>count {count}</b>" if count is not None else ""
        )
        values += [pictures, player, f'<div class="rate-answer">{text}</div>', gr.update(visible=rubric, value=[])]
    return (question, *values, "", "")


def _media(item, answer, data_dir: Path):
    info = answer.grounding or {}
    if item.task in ("image", "multi-image"):
        images = [p for p in answer.artefacts if p.endswith(".png")]
        shown = picture_value(images, info.get("grounding") or {"objects": []}, captions=True)
        return gr.update(value=shown, visible=True), gr.update(visible=False, value=None)
    masks = next((p for p in answer.artefacts if p.endswith(".json")), None)
    annotated = next((p for p in answer.artefacts if p.endswith(".mp4")), None)
    value = player_value(
        data_dir / item.media[0],
        info.get("grounding") or {"objects": []},
        frame_times=info.get("frame_times"),
        masks=json.loads(Path(masks).read_text()) if masks else None,
        mask_video=annotated,
        duration=info.get("duration"),
    )
    return gr.update(visible=False, value=None), gr.update(value=value, visible=True)


def _keep_uploads(session, files) -> list[str]:
    """Copy the uploads into the session's data folder under names that say nothing; paths relative to it."""
    folder = Path(session.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for file in files or []:
        source = Path(str(file))
        target = folder / f"{uuid.uuid4().hex}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        kept.append(target.relative_to(session.data_dir).as_posix())
    return kept


def _answers(session, backend):
    """Both systems answer with the model this app has loaded (sessions comparing settings of that model)."""
    from pipeline.rating import SystemAnswers

    def engine_for(model: str, revision: str | None):
        engine = backend.molmo.get()
        if model not in (engine.checkpoint.name, str(engine.checkpoint.path)):
            raise SessionError(f"this server has {engine.checkpoint.name} loaded; the session's systems need {model}")
        return engine

    return SystemAnswers(session, backend.work_dir(), engine_for, backend.tracker)


def _hidden_sides() -> list:
    hidden = [gr.update(visible=False, value=None), gr.update(visible=False, value=None), "", gr.update(visible=False)]
    return hidden * 2


def _number(value: float) -> str:
    """A score for the table; "—" where the votes carry no preference (only "both bad" so far)."""
    return "—" if math.isnan(value) else f"{value:.0f}"


def _rater(profile, name: str | None) -> str:
    """Who votes: the Hugging Face login when there is one, else the session name typed in."""
    if profile is not None and getattr(profile, "username", None):
        return f"hf:{profile.username}"
    if name and name.strip():
        return f"session:{name.strip()}"
    raise gr.Error("Enter your name (or log in with Hugging Face) to rate.", title="Who is rating?")


def _ip(request: gr.Request | None) -> str | None:
    return getattr(getattr(request, "client", None), "host", None)


def _sessions(store: Store) -> list[tuple[str, str]]:
    return [(f"{s.title} ({s.id})", s.id) for s in store.sessions()]
