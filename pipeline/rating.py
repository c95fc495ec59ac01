"""Answers for rating sessions: each system (a model at a revision, with settings) answers an input through the
same pipeline as the tabs; the stored answer keeps what the rating page draws, under names that reveal nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from pipeline.run import Answer as PipelineAnswer
from pipeline.run import run
from pipeline.task import Settings, Task
from ratings import Answer, Input, Session, SessionError, System

TASKS = {"image": "image", "multi-image": "multi_image", "video": "video", "tracking": "tracking"}
SETTING_NAMES = {f.name for f in fields(Settings)}


class SystemAnswers:
    """The answer function of `ratings.prepare_battles` / `battle_on_demand` for one session.

    `engine_for(model, revision)` gives a Molmo2 engine (the command line loads each model in turn; the web app
    answers with the model it has loaded). Files go to a fresh folder under `work_root` per answer.
    """

    def __init__(
        self,
        session: Session,
        work_root: Path,
        engine_for: Callable[[str, str | None], Any],
        tracker: Callable[[], Any] | None = None,
    ):
        self.session, self.work_root, self.engine_for, self.tracker = session, Path(work_root), engine_for, tracker

    def __call__(self, system: System, item: Input) -> Answer:
        unknown = set(system.settings) - SETTING_NAMES
        if unknown:
            raise SessionError(
                f"system {system.id}: unknown settings {sorted(unknown)}; known: {sorted(SETTING_NAMES)}"
            )
        defaults = {"sam2": "small"} if item.task == "tracking" else {}
        task = Task(
            TASKS[item.task],
            tuple(str(Path(self.session.data_dir) / m) for m in item.media),
            item.prompt,
            settings=Settings(**{**defaults, **system.settings}),
        )
        workdir = self.work_root / uuid.uuid4().hex
        engine = self.engine_for(system.model, system.revision)
        answer = None
        for event in run(task, engine, workdir, tracker=self.tracker, model_info={}):
            answer = event
        assert isinstance(answer, PipelineAnswer)
        return stored_answer(answer, workdir)


def stored_answer(answer: PipelineAnswer, workdir: Path) -> Answer:
    """What a battle shows of an answer: display text, grounding, frame times and media files (no timings, no
    model, no settings: any of them could tell the systems apart)."""
    artefacts = [str(p) for p in answer.overlays]
    if answer.annotated_video is not None:
        artefacts.append(str(answer.annotated_video))
    if answer.masks is not None:
        masks = workdir / "masks.json"
        masks.write_text(json.dumps(answer.masks.to_coco()))
        artefacts.append(str(masks))
    layout = answer.display_layout
    grounding = {
        "answer": answer.display.text,
        "grounding": answer.display.to_dict(layout),
        "count": answer.grounding.count,
        "frame_times": list(layout.frame_times) if layout.frame_times is not None else None,
        "duration": answer.video.duration if answer.video is not None else None,
    }
    return Answer(text=answer.text, grounding=grounding, artefacts=tuple(artefacts))
