"""The gr.HTML elements with their own JS and CSS under assets/ (the video player, the picture inspector): one way
to build them. assets/dom.js (shared helpers) comes first in every element's script, assets/shared.css (their
styles) first in every element's CSS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def asset(name: str) -> str:
    return (ASSETS / name).read_text()


def script(*names: str, mount: str) -> str:
    """js_on_load for an element: the shared helpers, the named asset files, then `mount`, which gr.HTML runs
    with `element`, `props` and `watch` in scope."""
    return "\n".join([asset("dom.js"), *(asset(n) for n in names), mount])


def style(*names: str) -> str:
    """css_template for an element: the shared styles, then the named asset files."""
    return "\n".join(asset(n) for n in ("shared.css", *names))


def html_element(value: dict[str, Any] | None, host_class: str, js: str, css: str, **kwargs: Any):
    """A gr.HTML holding an empty host div that `js` fills from `value`; a new value rebuilds it."""
    import gradio as gr

    return gr.HTML(
        value,
        html_template=f'<div class="{host_class}"></div>',
        css_template=css,
        js_on_load=js,
        apply_default_css=False,
        **kwargs,
    )
