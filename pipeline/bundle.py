"""The export bundle of one answer: raw output, grounding JSON, points CSV, COCO-RLE masks, rendered media and a
manifest with everything needed to re-run the request; all of it also in one zip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

import torch

import inference
from inference.grounding import to_csv


def write_bundle(answer, workdir: Path, model_info: dict[str, Any]) -> dict[str, Path]:
    """Write the bundle files into `workdir`; returns {name: path}, "bundle" being the zip of all of them."""
    files: dict[str, Path] = {}
    files["raw"] = _write(workdir / "answer.txt", answer.text)
    files["grounding"] = _write(workdir / "grounding.json", json.dumps(_grounding_json(answer), indent=2))
    files["csv"] = _write(workdir / "points.csv", to_csv(answer.display, answer.display_layout))
    if answer.masks is not None:
        files["masks"] = _write(workdir / "masks_coco.json", json.dumps(answer.masks.to_coco()))
    for k, path in enumerate(answer.overlays, start=1):
        files[f"overlay_{k}"] = path
    if answer.annotated_video is not None:
        files["video"] = answer.annotated_video
    if answer.film_strip is not None:  # the frames as the model saw them, side by side in time order
        files["frames"] = answer.film_strip.path
    files["manifest"] = _write(workdir / "manifest.json", json.dumps(manifest(answer, model_info, files), indent=2))
    zip_path = workdir / "molmo2_answer.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in files.values():
            bundle.write(path, path.name)
    files["bundle"] = zip_path
    return files


def manifest(answer, model_info: dict[str, Any], files: dict[str, Path]) -> dict[str, Any]:
    """Enough to reproduce the request: model and revision, prompt, settings, media hashes, frames used."""
    task, result = answer.task, answer.result
    request = task.request()
    return {
        "app": {"name": "molmo2-grounding-demo", "version": inference.__version__},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": model_info,
        "task": task.kind,
        "prompt": task.prompt,
        "history": [{"question": q, "answer": a} for q, a in task.history],
        "media": [_media_entry(path, answer, k) for k, path in enumerate(task.media)],
        "settings": task.settings.to_dict(),
        "request": {
            "max_new_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "frequency_penalty": request.frequency_penalty,
            "seed": request.seed,
            "max_crops": request.max_crops,
            "max_frames": request.max_frames,
            "max_fps": request.max_fps,
        },
        "frames": None
        if answer.layout.frame_times is None
        else {
            "clip_start": answer.clip_start,
            "times": list(answer.layout.frame_times),
            "indices": list(answer.layout.frame_indices or ()),
            "strip": None
            if answer.film_strip is None
            else {
                "file": answer.film_strip.path.name,
                "frame_width": answer.film_strip.frame_width,
                "frame_height": answer.film_strip.frame_height,
                "columns": answer.film_strip.columns,  # frame i is at column i % columns, row i // columns
                "times": list(answer.film_strip.times),  # seconds of the whole video
            },
        },
        "result": {
            "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens,
            "new_tokens": len(result.token_ids),
            "reused_tokens": result.reused_tokens,
            "count": answer.grounding.count,
        },
        "sam2": None
        if answer.masks is None
        else {"model": answer.masks.model, "stride": getattr(answer.masks, "stride", 1)},
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
        "notes": list(answer.notes),
        "files": sorted({path.name for path in files.values()} | {"manifest.json"}),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }


def _grounding_json(answer) -> dict[str, Any]:
    data = answer.display.to_dict(answer.display_layout)
    data["text"] = answer.display.text
    return data


def _media_entry(path: str, answer, index: int) -> dict[str, Any]:
    file = Path(path)
    entry: dict[str, Any] = {"name": file.name, "bytes": file.stat().st_size, "sha256": _sha256(file)}
    if answer.video is not None:
        info = answer.video
        entry.update(width=info.width, height=info.height, fps=info.fps, duration=info.duration, codec=info.codec)
    elif index < len(answer.images):
        entry.update(height=int(answer.images[index].shape[0]), width=int(answer.images[index].shape[1]))
    return entry


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def summary(answer) -> dict[str, Any]:
    """The structured result of an answer (README "API"): the grounding in the documented schema, and more."""
    layout = answer.display_layout
    return {
        "task": answer.task.kind,
        "prompt": answer.task.prompt,
        "text": answer.text,
        "answer": answer.display.text,
        "grounding": answer.display.to_dict(layout),
        "count": answer.grounding.count,
        "finish_reason": answer.result.finish_reason,
        "frames": None
        if layout.frame_times is None
        else {"times": list(layout.frame_times), "indices": list(layout.frame_indices or ())},
        "masks": None if answer.masks is None else answer.masks.to_coco()["summary"],
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
        "notes": list(answer.notes),
        "files": {name: path.name for name, path in answer.files.items()},
    }
