"""Enter to continue, and the form's look on a phone: the two things plain ipywidgets cannot do.

ipywidgets has no key events (``Text.on_submit`` is deprecated and radio groups have none), so a
tiny anywidget listens for Enter inside the form and tells the kernel; the kernel processes
messages in order, so the answer typed or picked just before Enter has arrived before it.
The style sheet gives 48 px touch targets and lets long answer labels wrap at 375 px wide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as w
import traitlets

__all__ = ["FORM_CLASS", "FORM_STYLE", "EnterKey"]

FORM_CLASS = "weshare-form"

_ESM = """
function focusWhenShown(selector) {
  // The widget to focus is drawn a moment after this message arrives: wait for it (3 s at most).
  const until = Date.now() + 3000;
  const tryFocus = () => {
    const host = document.querySelector(selector);
    if (host) {
      const tags = ["INPUT", "TEXTAREA", "BUTTON", "SELECT"];
      const target = tags.includes(host.tagName) ? host
        : host.querySelector("input:checked") || host.querySelector("input, textarea, select, button");
      if (target) { target.focus(); return; }
    }
    if (Date.now() < until) requestAnimationFrame(tryFocus);
  };
  requestAnimationFrame(tryFocus);
}
function render({ model, el }) {
  el.style.display = "none";
  const onKey = (event) => {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey) return;
    const target = event.target;
    if (!target || !target.closest || !target.closest(".@FORM")) return;
    const tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "BUTTON" || tag === "SELECT") return;
    event.preventDefault();
    // Send what the participant sees with the key: a fast arrow then Enter can otherwise beat
    // the widget's own value update on its way to the kernel.
    const message = { event: "enter" };
    if (target.type === "radio") {
      const box = target.closest(".widget-radio-box");
      const checked = box ? box.querySelector("input:checked") : null;
      message.index = checked ? Number(checked.value) : null;
    } else if (tag === "INPUT" && target.type === "text") {
      message.text = target.value;
    }
    model.send(message);
  };
  const onFocus = () => {
    const marker = model.get("focus_marker");
    if (marker) focusWhenShown("." + marker);
  };
  document.addEventListener("keydown", onKey);
  model.on("change:focus_marker", onFocus);
  onFocus();
  return () => {
    document.removeEventListener("keydown", onKey);
    model.off("change:focus_marker", onFocus);
  };
}
export default { render };
""".replace("@FORM", FORM_CLASS)

FORM_STYLE = """<style>
.@FORM { max-width: 40rem; width: 100%; box-sizing: border-box; padding: 0 0.5rem;
  font-size: 1.125rem; line-height: 1.45; }
.@FORM h1 { font-size: 1.35rem; margin: 0.5rem 0; }
.@FORM h2 { font-size: 1.2rem; margin: 0.75rem 0 0.5rem; }
.@FORM .widget-html, .@FORM .widget-html-content { width: 100%; white-space: normal;
  overflow-wrap: anywhere; height: auto; line-height: 1.45; }
.@FORM .widget-radio, .@FORM .widget-text, .@FORM .widget-textarea, .@FORM .widget-datepicker,
.@FORM .widget-checkbox, .@FORM .widget-hslider { width: 100%; height: auto; }
.@FORM .widget-radio-box { width: 100%; }
.@FORM .widget-radio-box label { min-height: 48px; display: flex; align-items: center;
  white-space: normal; font-size: 1.125rem; line-height: 1.3; padding: 0.25rem 0; cursor: pointer; }
.@FORM .widget-radio-box input[type="radio"] { width: 1.4rem; height: 1.4rem; margin: 0 0.75rem 0 0.25rem;
  flex: none; order: -1; }
.@FORM .widget-checkbox label { min-height: 48px; white-space: normal; font-size: 1.125rem; }
.@FORM .widget-checkbox input[type="checkbox"] { width: 1.4rem; height: 1.4rem; }
.@FORM input[type="text"], .@FORM input[type="date"], .@FORM textarea { min-height: 48px;
  font-size: 1.125rem; width: 100%; box-sizing: border-box; }
.@FORM button.jupyter-button { min-height: 48px; min-width: 7.5rem; font-size: 1.125rem;
  height: auto; white-space: normal; padding: 0.5rem 1rem; }
.@FORM :focus-visible { outline: 3px solid #1a4fa0; outline-offset: 2px; }
.@FORM .weshare-nav { display: flex; flex-wrap: wrap; gap: 0.75rem; justify-content: space-between; }
.@FORM .weshare-attribution { font-size: 0.85rem; color: #444; margin-top: 1.5rem; }
.@FORM .weshare-item-error { color: #a40000; font-weight: 600; }
</style>""".replace("@FORM", FORM_CLASS)


class EnterKey(anywidget.AnyWidget):  # type: ignore[misc]
    """Invisible: calls ``on_enter(seen)`` when Enter is pressed in a text field or on a radio button.

    ``seen`` is what the page showed at that moment: ``{"index": n}`` for a radio group (None if
    nothing is chosen), ``{"text": "…"}`` for a text field, else ``{}``.
    """

    _esm = _ESM
    focus_marker = traitlets.Unicode("").tag(sync=True)  # class of the widget to focus next

    def __init__(self, on_enter: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__()
        self._on_enter = on_enter
        self._focus_count = 0
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "enter":
            self._on_enter({k: v for k, v in content.items() if k in ("index", "text")})

    def focus_on(self, widget: w.DOMWidget) -> None:
        """Move the keyboard focus to ``widget`` (its checked radio, or its first field) once drawn.

        ipywidgets' own ``focus()`` is lost when sent before the view exists, and on a radio group
        it focuses a label; a participant using the keyboard would have to tab back every time.
        """
        self._focus_count += 1
        marker = f"weshare-focus-{self._focus_count}"
        for old in [c for c in widget._dom_classes if c.startswith("weshare-focus-")]:
            widget.remove_class(old)
        widget.add_class(marker)
        self.focus_marker = marker

    def press(self, **seen: Any) -> None:
        """What the browser does on Enter; for tests without a browser."""
        self._message(self, {"event": "enter", **seen}, [])


def style_sheet() -> w.HTML:
    return w.HTML(FORM_STYLE, layout=w.Layout(height="0px", margin="0"))
