"""The synced video player: a gr.HTML element whose own JS and CSS (assets/player.js, assets/player.css) draw
the answer on a canvas over the ORIGINAL video (points need no re-encode) above a clickable evidence timeline.

`player_value` computes everything the front end draws from (colours, time windows, track runs, count times) as
plain JSON-safe data; `video_player` is the thin gr.HTML wrapper. With masks, the player shows the annotated MP4
from render_annotated_video instead, where masks, points and ids are burned in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from visualization.filmstrip import FilmStrip, strip_frames
from visualization.frontend import html_element, script, style
from visualization.marks import Evidence, Track, legend, video_evidence
from visualization.masks import mask_set
from visualization.overlay import MARKER_FRACTION, MARKER_MIN
from visualization.palette import hex_colour, id_colour, ink

PLAYER_CSS = style("player.css")
PLAYER_JS = script("player.js", mount="""
let player = null;
const mount = () => {
  if (player) player.destroy();
  player = props.value && props.value.video ? mountEvidencePlayer(element, props.value) : null;
};
mount();
watch("value", mount);
""")  # fmt: skip


def player_value(
    video: str | Path,
    grounding: Any,
    *,
    frame_times: Sequence[float] | None = None,
    masks: Mapping[str, Any] | None = None,
    mask_video: str | Path | None = None,
    duration: float | None = None,
    strip: FilmStrip | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Data for the player: the video to show (the annotated `mask_video` when given, else the original `video`),
    the answer's points and tracks, mask coverage per id, and the times of the frames the model saw.

    video / mask_video: a local file (Gradio serves it, see _served) or an http(s) URL.
    duration: seconds, to lay out the timeline before the video's metadata arrives (optional).
    strip: the frames the model saw (filmstrip.write_film_strip); those with evidence are shown under the timeline.
    size: (width, height) of the original video, for pixel coordinates when a mark is hovered (optional).
    """
    evidence = video_evidence(grounding, frame_times)
    shown = mask_video if mask_video is not None else video
    return {
        "video": _served(shown),
        "annotated": mask_video is not None,  # marks are burned into the video (no canvas drawing); downloadable
        "duration": duration,
        "size": list(size) if size else None,
        "half": evidence.timing.half_window,
        "observed": evidence.timing.observed,
        "marker": [MARKER_FRACTION, MARKER_MIN],
        "points": [
            {"t": p.key, "id": p.id, "x": p.x, "y": p.y, "label": p.label, **_colours(p.slot)} for p in evidence.points
        ],
        "tracks": [_track_data(t) for t in evidence.tracks],
        "masks": _mask_coverage(masks, evidence),
        "sampled": list(evidence.sampled),
        "stops": list(evidence.stops),
        "firsts": [p.key for p in evidence.firsts],
        "total": evidence.total,
        "strip": _strip_data(strip, evidence),
        "legend": [
            {"label": e.label, "count": e.count, "colour": hex_colour(id_colour(e.slot))}
            for e in legend([*evidence.points, *(k for t in evidence.tracks for r in t.runs for k in r.keys)])
        ],
    }


def video_player(value: dict[str, Any] | None = None, **kwargs: Any):
    """A gr.HTML showing `value` (from player_value); update it by returning a new player_value from a handler."""
    return html_element(value, "m2p-host", PLAYER_JS, PLAYER_CSS, **kwargs)


def _served(video: str | Path) -> str | dict[str, Any]:
    """A URL as is; a local file as a Gradio FileData dict, which Gradio copies into its cache and gives a `url`
    when the value is set (gradio.processing_utils.move_files_to_cache walks any component value)."""
    if isinstance(video, str) and video.startswith(("http://", "https://")):
        return video
    return {"path": str(Path(video).resolve()), "meta": {"_type": "gradio.FileData"}}


def _strip_data(strip: FilmStrip | None, evidence: Evidence) -> dict[str, Any] | None:
    if strip is None:
        return None
    return {
        "src": _served(strip.path),
        "width": strip.frame_width,
        "height": strip.frame_height,
        "columns": strip.columns,
        "frames": strip_frames(strip, evidence),
    }


def _track_data(track: Track) -> dict[str, Any]:
    runs = [{"start": r.start, "end": r.end, "keys": [[k.key, k.x, k.y] for k in r.keys]} for r in track.runs]
    return {"id": track.id, "label": track.label, **_colours(track.slot), "runs": runs}


def _colours(slot: int) -> dict[str, str]:
    rgb = id_colour(slot)
    return {"colour": hex_colour(rgb), "ink": hex_colour(ink(rgb))}


def _mask_coverage(masks: Mapping[str, Any] | None, evidence: Evidence) -> list[dict[str, Any]]:
    if not masks:
        return []
    coverage = mask_set(masks).coverage()
    return [
        {"id": id, "colour": hex_colour(id_colour(evidence.slot_of(id))), "spans": [list(s) for s in spans]}
        for id, spans in sorted(coverage.items())
    ]
