"""Visual evidence for grounded answers: image overlays, the annotated MP4, the video player and charts."""

from visualization.annotated_video import render_annotated_video

__all__ = ["render_annotated_video"]
