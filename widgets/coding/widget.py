"""The coding widget: one transcript, its codebook and the codings a viewer may see.

State lives in synced traits; the browser (``coding.js``) renders one block per speaker turn and
converts every DOM selection to **Unicode code points, end exclusive** before it reaches Python,
so what is stored is ``text[start:end]`` whatever emoji or accents the text holds. Actions arrive
as custom messages (``apply``, ``remove``, ``undo``, ``memo``, ``jump``, ``sync``) and call the
same public methods tests call; each goes through a backend (``StoreBackend`` in production) and
then reloads the version's codings, so another coder's work appears on the next action or sync.
Errors are shown through ``widgets.guarded`` in ``status``, never as a traceback.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import anywidget
import ipywidgets as w
import traitlets

from widgets.guarded import guarded, show_message
from workbench.errors import ValidationError
from workbench.qualitative.codebook import Codebook
from workbench.qualitative.transcripts import Transcript

__all__ = ["LABELS", "CodingBackend", "CodingWidget"]

_HERE = Path(__file__).parent

LABELS = {
    "apply": "Appliquer / Apply",
    "undo": "Annuler / Undo",
    "codes": "Codes",
    "filters": "Filtres / Filters",
    "all_codes": "Tous les codes / All codes",
    "all_speakers": "Tous les locuteurs / All speakers",
    "all_coders": "Tous les codeurs / All coders",
    "only_coded": "Tours codés seulement / Coded turns only",
    "memo": "Mémo / Memo",
    "save_memo": "Enregistrer le mémo / Save memo",
    "remove": "Retirer ce codage / Remove this coding",
    "close": "Fermer / Close",
    "next": "Segment suivant / Next segment",
    "previous": "Segment précédent / Previous segment",
    "blind": "Codage en aveugle : seuls vos codages sont visibles / Blind coding: only your codings are shown",
    "selection": "Sélection / Selection",
    "keys": ("Raccourcis / Keys : 1–9 choisir un code / pick a code · Entrée/Enter appliquer / apply · "
             "Ctrl+Z ou/or U annuler / undo · N/P segment suivant/précédent / next/previous · "
             "Échap/Esc effacer / clear"),
}


class CodingBackend(Protocol):
    """What the widget needs from storage (``StoreBackend``); tests may pass any equivalent."""

    def codings(self, version_id: int, *, blind: bool) -> list[dict[str, Any]]: ...
    def apply(self, version_id: int, codes: Sequence[str], start: int, end: int, *,
              as_consensus: bool) -> list[int]: ...
    def remove(self, ids: Sequence[int], *, as_consensus: bool) -> None: ...
    def restore(self, ids: Sequence[int], *, as_consensus: bool) -> None: ...
    def memo(self, coding_id: int, memo: str, *, as_consensus: bool) -> str: ...


class CodingWidget(anywidget.AnyWidget):  # type: ignore[misc]
    _esm = _HERE / "coding.js"
    _css = _HERE / "coding.css"

    text = traitlets.Unicode("").tag(sync=True)
    turns = traitlets.List([]).tag(sync=True)  # [line_start, start, end, speaker, start_ms]
    codes = traitlets.List([]).tag(sync=True)  # {id, name, color, definition, key}
    codings = traitlets.List([]).tag(sync=True)  # {id, code, coder, start, end, memo}
    coder = traitlets.Unicode("").tag(sync=True)
    blind = traitlets.Bool(True).tag(sync=True)
    filter_codes = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    filter_speakers = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    filter_coders = traitlets.List(traitlets.Unicode(), []).tag(sync=True)
    only_coded = traitlets.Bool(False).tag(sync=True)
    selection = traitlets.Dict({}).tag(sync=True)  # {start, end} in code points, end exclusive
    armed = traitlets.List(traitlets.Unicode(), []).tag(sync=True)  # codes the next apply uses
    active = traitlets.Int(-1).tag(sync=True)  # coding whose inline memo editor is open
    focus_span = traitlets.Dict({}).tag(sync=True)  # {start, end, seq}: scroll there
    can_undo = traitlets.Bool(False).tag(sync=True)
    revision = traitlets.Int(0).tag(sync=True)  # bumped by every reload from the store
    labels = traitlets.Dict(LABELS).tag(sync=True)

    def __init__(self, transcript: Transcript, codebook: Codebook, *, backend: CodingBackend,
                 version_id: int, coder: str, blind: bool = True, as_consensus: bool = False,
                 status: w.HTML | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = status or w.HTML()
        self._backend, self._version_id, self._as_consensus = backend, version_id, as_consensus
        self._transcript = transcript
        self._undo: list[tuple[str, Any]] = []
        self._turn_starts = [t.line_start for t in transcript.turns]
        codable = [c for c in codebook.codes if c.codable]
        with self.hold_sync():
            self.text = transcript.text
            self.turns = [[t.line_start, t.start, t.end, t.speaker, t.start_ms] for t in transcript.turns]
            self.codes = [{"id": c.id, "name": c.name, "color": c.color, "definition": c.definition,
                           "key": str(i + 1) if i < 9 else ""} for i, c in enumerate(codable)]
            self.coder, self.blind = coder, blind
        self._code_ids = {c["id"] for c in self.codes}
        self.on_msg(self._on_message)
        self.refresh()

    # -- what the browser asks for -----------------------------------------------------------
    def _on_message(self, _widget: object, content: dict[str, Any], _buffers: object) -> None:
        self.handle(content)

    def handle(self, content: dict[str, Any]) -> None:
        """One message from the browser (tests send the same dicts); failures become a message."""
        guarded(self.status)(self._dispatch)(content)
        self.revision += 1  # the view stops showing "busy", whatever happened

    def _dispatch(self, content: dict[str, Any]) -> None:
        kind = content.get("type")
        if kind == "apply":
            if "start" in content:
                self.select(int(content["start"]), int(content["end"]))
            self.apply(content.get("codes"))
        elif kind == "remove":
            self.remove(int(content["id"]))
        elif kind == "undo":
            self.undo()
        elif kind == "memo":
            self.set_memo(int(content["id"]), str(content.get("memo", "")))
        elif kind == "jump":
            self.jump(str(content["code"]), int(content.get("step", 1)))
        elif kind == "sync":
            self.refresh()
        else:
            raise ValidationError(f"unknown action {kind!r}", where="coding widget")

    # -- actions ------------------------------------------------------------------------------
    def select(self, start: int, end: int) -> None:
        """A selection in code points; what the browser sets after converting from UTF-16."""
        if not 0 <= start < end <= len(self.text):
            raise ValidationError("sélectionnez du texte / select some text first", where="selection")
        self.selection = {"start": start, "end": end}

    def apply(self, codes: Sequence[str] | None = None) -> list[int]:
        """Apply ``codes`` (default: the armed ones) to the current selection, as one undo step."""
        chosen = list(codes) if codes else list(self.armed)
        if not chosen:
            raise ValidationError("choisissez au moins un code / choose at least one code", where="codes")
        unknown = [c for c in chosen if c not in self._code_ids]
        if unknown:
            raise ValidationError(f"unknown code {unknown[0]!r}", where="codes")
        if not self.selection:
            raise ValidationError("sélectionnez du texte / select some text first", where="selection")
        start, end = int(self.selection["start"]), int(self.selection["end"])
        ids = self._backend.apply(self._version_id, chosen, start, end, as_consensus=self._as_consensus)
        self._undo.append(("add", ids))
        self.refresh()
        show_message(self.status, f"{len(ids)} codage(s) ajouté(s) / coding(s) added")
        return ids

    def remove(self, coding_id: int) -> None:
        self._backend.remove([coding_id], as_consensus=self._as_consensus)
        self._undo.append(("remove", [coding_id]))
        if self.active == coding_id:
            self.active = -1
        self.refresh()
        show_message(self.status, "Codage retiré / Coding removed")

    def set_memo(self, coding_id: int, memo: str) -> None:
        old = self._backend.memo(coding_id, memo, as_consensus=self._as_consensus)
        self._undo.append(("memo", (coding_id, old)))
        self.refresh()
        show_message(self.status, "Mémo enregistré / Memo saved")

    def undo(self) -> None:
        """Reverse this session's last change (never another coder's)."""
        if not self._undo:
            raise ValidationError("rien à annuler / nothing to undo", where="undo")
        kind, data = self._undo[-1]
        if kind == "add":
            self._backend.remove(data, as_consensus=self._as_consensus)
        elif kind == "remove":
            self._backend.restore(data, as_consensus=self._as_consensus)
        else:
            self._backend.memo(data[0], data[1], as_consensus=self._as_consensus)
        self._undo.pop()
        self.refresh()
        show_message(self.status, "Annulé / Undone")

    def jump(self, code: str, step: int = 1) -> dict[str, int]:
        """Scroll to the next (step 1) or previous (-1) visible segment of ``code``, cycling."""
        spans = sorted({(c["start"], c["end"]) for c in self.visible_codings() if c["code"] == code})
        if not spans:
            raise ValidationError("aucun segment pour ce code / no segment for this code", where="jump")
        here = int(self.focus_span.get("start", -1)) if self.focus_span.get("code") == code else None
        if here is None:
            index = 0 if step > 0 else len(spans) - 1
        else:
            after = [i for i, (s, _e) in enumerate(spans) if (s > here if step > 0 else s < here)]
            index = (after[0] if step > 0 else after[-1]) if after else (0 if step > 0 else len(spans) - 1)
        start, end = spans[index]
        self.focus_span = {"code": code, "start": start, "end": end, "seq": int(self.focus_span.get("seq", 0)) + 1,
                      "index": index + 1, "of": len(spans)}
        return {"start": start, "end": end}

    def refresh(self) -> None:
        """Reload the codings from the store: other coders' work arrives this way."""
        rows = self._backend.codings(self._version_id, blind=self.blind)
        with self.hold_sync():
            if rows != self.codings:
                self.codings = rows
            self.can_undo = bool(self._undo)

    # -- what the view shows (same rules as coding.js, for tests and panels) ------------------
    def turn_of(self, offset: int) -> int:
        return max(0, bisect_right(self._turn_starts, offset) - 1)

    def visible_codings(self) -> list[dict[str, Any]]:
        codes, coders = set(self.filter_codes), set(self.filter_coders)
        speakers = set(self.filter_speakers)
        out = []
        for c in self.codings:
            if (codes and c["code"] not in codes) or (coders and c["coder"] not in coders):
                continue
            if speakers and self.turns[self.turn_of(c["start"])][3] not in speakers:
                continue
            out.append(c)
        return out

    def visible_turns(self) -> list[int]:
        """Indices of the turns shown: speaker filter, then (if asked) only turns with codings."""
        speakers = set(self.filter_speakers)
        shown = [i for i, t in enumerate(self.turns) if not speakers or t[3] in speakers]
        if self.only_coded:
            coded: set[int] = set()
            for c in self.visible_codings():
                first, last = self.turn_of(c["start"]), self.turn_of(max(c["start"], c["end"] - 1))
                coded.update(range(first, last + 1))
            shown = [i for i in shown if i in coded]
        return shown

    @property
    def version_id(self) -> int:
        return self._version_id

    @property
    def transcript(self) -> Transcript:
        return self._transcript
