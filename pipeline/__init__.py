"""The app's tasks end to end without any UI: ask Molmo2, parse the grounded answer, add SAM 2 masks, render,
and write the export bundle. Used by the web UI (ui/) and the `python app.py ask` command line."""

from pipeline.run import Answer, Loaded, Partial, Progress, run, video_plan
from pipeline.task import Settings, Task, TaskError

__all__ = ["Answer", "Loaded", "Partial", "Progress", "Settings", "Task", "TaskError", "run", "video_plan"]
