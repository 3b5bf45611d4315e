"""A drawn signature: pen, finger or mouse strokes in the browser, normalised to the box.

The browser sends strokes as lists of ``[x, y]`` points in 0–1 (box-relative), so the record
does not depend on the screen; the consent domain checks them and draws them into the PDF.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["SignaturePad"]

_HERE = Path(__file__).parent


class SignaturePad(anywidget.AnyWidget):  # type: ignore[misc]
    _esm = _HERE / "pad.js"
    _css = _HERE / "pad.css"
    strokes = traitlets.List([]).tag(sync=True)
    label = traitlets.Unicode("Signez dans le cadre / Sign in the box").tag(sync=True)
    clear_label = traitlets.Unicode("Effacer / Clear").tag(sync=True)

    def points(self) -> list[list[tuple[float, float]]]:
        return [[(float(x), float(y)) for x, y in stroke] for stroke in self.strokes]
