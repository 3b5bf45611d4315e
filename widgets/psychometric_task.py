"""Timed cognitive tasks in a Voila form: symbol–digit substitution and verbal fluency.

Timing happens in the browser: a small anywidget takes ``performance.now()`` at the start and
sends each answer (or each word the examiner types) with its time in milliseconds; a kernel
round trip would add its own delay to every response time. The kernel only collects those
messages and hands the raw record to ``workbench.psychometrics.submit_task``, which scores it
and stores it through the questionnaires' idempotent submit path. Nothing is scored here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import anywidget
import ipywidgets as w
import traitlets

from widgets._store import in_session
from widgets.guarded import guarded, show_message
from widgets.participant_home import bad_link_html, token_from_query
from widgets.questionnaire import for_participants
from widgets.questionnaire_keys import FORM_CLASS, style_sheet
from widgets.questionnaire_store import FormTarget
from workbench.errors import NotFoundError, ValidationError, WorkbenchError
from workbench.instruments.cognitive import SYMBOL_DIGIT, VERBAL_FLUENCY
from workbench.psychometrics import fluency, symbol_digit
from workbench.psychometrics.service import due_task, submit_task, task_result
from workbench.runtime import open_operational
from workbench.settings import Settings

__all__ = ["TEXTS", "FluencyTask", "PsychometricSession", "SymbolDigitTask", "TaskStore", "psychometric_form"]

TEXTS = {
    "fr": {
        SYMBOL_DIGIT: "Tâche de substitution symbole–chiffre",
        VERBAL_FLUENCY: "Fluence verbale",
        "sd_help": "Chaque symbole correspond à un chiffre (clé en haut). Touchez le chiffre du symbole "
                   "affiché, aussi vite que possible, pendant {s} secondes.",
        "vf_help": "Consigne : « {cue} ». Lancez le chronomètre ({s} s) et tapez chaque mot dit, puis Entrée.",
        "start": "Commencer", "done": "Terminé", "word": "Mot entendu", "save": "Enregistrer",
        "intrusion": "Hors consigne", "total": "Mots produits", "repetitions": "Répétitions",
        "intrusions": "Intrusions", "saved": "Résultat enregistré : {score}.", "nothing": "Aucune épreuve à faire.",
        "mark": "Cochez les mots hors consigne, puis enregistrez.",
    },
    "en": {
        SYMBOL_DIGIT: "Symbol–digit substitution task",
        VERBAL_FLUENCY: "Verbal fluency",
        "sd_help": "Each symbol goes with a digit (key at the top). Tap the digit of the symbol shown, "
                   "as fast as you can, for {s} seconds.",
        "vf_help": "Cue: “{cue}”. Start the timer ({s} s) and type each word said, then Enter.",
        "start": "Start", "done": "Done", "word": "Word heard", "save": "Save",
        "intrusion": "Outside the cue", "total": "Words produced", "repetitions": "Repetitions",
        "intrusions": "Intrusions", "saved": "Result saved: {score}.", "nothing": "No task to do.",
        "mark": "Tick the words outside the cue, then save.",
    },
}


def _t(language: str) -> dict[str, str]:
    return TEXTS[language if language in TEXTS else "fr"]


_TIMER_JS = """
function clock(model, el, onStart, onStop) {
  // One time base for the whole task, taken in the browser: performance.now() is monotonic.
  const bar = document.createElement("div"); bar.className = "wb-clock"; bar.setAttribute("role", "timer");
  const start = document.createElement("button"); start.type = "button"; start.className = "wb-start";
  start.textContent = model.get("texts").start;
  el.append(start, bar);
  let t0 = null, timer = null, tick = null;
  const limit = model.get("limit_ms");
  const elapsed = () => Math.round(performance.now() - t0);
  const stop = () => {
    if (t0 === null || timer === null) return;
    clearTimeout(timer); clearInterval(tick); timer = null;
    bar.textContent = model.get("texts").done;
    onStop(elapsed());
  };
  start.addEventListener("click", () => {
    start.remove(); t0 = performance.now();
    model.send({ event: "start" });
    timer = setTimeout(stop, limit);
    tick = setInterval(() => { bar.textContent = Math.max(0, Math.ceil((limit - elapsed()) / 1000)) + " s"; }, 250);
    onStart();
  });
  return { elapsed, running: () => timer !== null };
}
"""

_SD_ESM = _TIMER_JS + """
function render({ model, el }) {
  el.classList.add("wb-task", "wb-sd");
  const key = document.createElement("table"); key.className = "wb-key";
  const glyphs = model.get("key");
  key.innerHTML = "<tr>" + glyphs.map((g) => "<td>" + g + "</td>").join("") + "</tr><tr>"
    + glyphs.map((_g, i) => "<td>" + (i + 1) + "</td>").join("") + "</tr>";
  const shown = document.createElement("div"); shown.className = "wb-glyph"; shown.setAttribute("aria-live", "polite");
  const pad = document.createElement("div"); pad.className = "wb-pad";
  const items = model.get("items");
  let position = 0;
  const c = clock(model, el, () => { shown.textContent = items[0]; pad.hidden = false; },
                  (t) => { pad.hidden = true; shown.textContent = ""; model.send({ event: "done", n: position, t }); });
  const answer = (digit) => {
    if (!c.running() || position >= items.length) return;
    model.send({ event: "answer", position, answer: digit, t: c.elapsed() });
    position += 1;
    shown.textContent = position < items.length ? items[position] : "";
  };
  for (let d = 1; d <= 9; d++) {
    const b = document.createElement("button"); b.type = "button"; b.textContent = String(d);
    b.addEventListener("click", () => answer(d)); pad.append(b);
  }
  pad.hidden = true;
  const onKey = (e) => { if (/^[1-9]$/.test(e.key) && c.running()) { e.preventDefault(); answer(Number(e.key)); } };
  document.addEventListener("keydown", onKey);
  el.prepend(key); el.append(shown, pad);
  return () => document.removeEventListener("keydown", onKey);
}
export default { render };
"""

_VF_ESM = _TIMER_JS + """
function render({ model, el }) {
  el.classList.add("wb-task", "wb-vf");
  const input = document.createElement("input"); input.type = "text"; input.disabled = true;
  input.setAttribute("aria-label", model.get("texts").word); input.placeholder = model.get("texts").word;
  const list = document.createElement("ol"); list.className = "wb-words";
  let n = 0;
  const c = clock(model, el, () => { input.disabled = false; input.focus(); },
                  (t) => { input.disabled = true; model.send({ event: "done", n, t }); });
  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !input.value.trim() || !c.running()) return;
    e.preventDefault();
    model.send({ event: "word", text: input.value.trim(), t: c.elapsed() });
    const li = document.createElement("li"); li.textContent = input.value.trim(); list.append(li);
    n += 1; input.value = "";
  });
  el.append(input, list);
}
export default { render };
"""

_CSS = """
.wb-task { font-size: 1.2rem; max-width: 40rem; }
.wb-task button { min-height: 48px; min-width: 48px; font-size: 1.3rem; margin: 0.2rem; }
.wb-key td { border: 1px solid #555; padding: 0.3rem 0.6rem; text-align: center; font-size: 1.5rem; }
.wb-glyph { font-size: 4rem; text-align: center; min-height: 5rem; }
.wb-pad { display: grid; grid-template-columns: repeat(3, 1fr); max-width: 18rem; margin: auto; }
.wb-pad[hidden] { display: none; }
.wb-clock { font-weight: 600; margin: 0.5rem 0; }
.wb-vf input { min-height: 48px; font-size: 1.2rem; width: 100%; box-sizing: border-box; }
"""


class _TimedTask(anywidget.AnyWidget):  # type: ignore[misc]
    """Collects the browser's messages in order; ``receive`` is what a browser would send (tests)."""

    _css = _CSS
    _event = ""
    limit_ms = traitlets.Int(60_000).tag(sync=True)
    texts = traitlets.Dict().tag(sync=True)
    phase = traitlets.Unicode("ready").tag(sync=True)  # ready | running | done

    def __init__(self, on_done: Callable[[list[dict[str, Any]], Any], Any], **traits: Any) -> None:
        super().__init__(**traits)
        self._on_done = on_done
        self.events: list[dict[str, Any]] = []
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "start" and self.phase == "ready":
            self.events, self.phase = [], "running"
        elif event == self._event and self.phase == "running":
            self.events.append({k: v for k, v in content.items() if k != "event"})
        elif event == "done" and self.phase == "running":
            self.phase = "done"
            self._on_done(list(self.events), content.get("n"))

    def receive(self, **content: Any) -> None:
        self._message(self, content, [])


class SymbolDigitTask(_TimedTask):
    _esm = _SD_ESM
    _event = "answer"
    key = traitlets.List(traitlets.Unicode()).tag(sync=True)
    items = traitlets.List(traitlets.Unicode()).tag(sync=True)


class FluencyTask(_TimedTask):
    _esm = _VF_ESM
    _event = "word"


class TaskBackend(Protocol):
    def submit(self, target: FormTarget, payload: dict[str, Any], key: str) -> dict[str, Any]: ...


class TaskStore:
    """The operational store behind one task page (one engine per page)."""

    def __init__(self, settings: Settings) -> None:
        self._engine = open_operational(settings)

    def submit(self, target: FormTarget, payload: dict[str, Any], key: str) -> dict[str, Any]:
        """Score, store, and return the stored scores (raw material left out)."""
        receipt = submit_task(self._engine, target.participant_id, target.event_code, target.instrument_id,
                              payload, key)
        return task_result(self._engine, receipt.response_id)

    def close(self) -> None:
        self._engine.dispose()


class PsychometricSession(w.VBox):  # type: ignore[misc]
    """One task for one participant at one time point: instructions, the timed task, saving."""

    def __init__(self, backend: TaskBackend, target: FormTarget, *, language: str = "fr",
                 seed: int | None = None, mode: str = "category", cue: str = "animaux",
                 limit_ms: int | None = None) -> None:
        self.backend, self.target, self.language = backend, target, language
        self.key = secrets.token_hex(16)  # one per sitting: a retried save is recognised
        self.status = w.HTML()
        self.result: dict[str, Any] | None = None
        self.payload: dict[str, Any] = {}
        t = _t(language)
        heading = w.HTML(f'<h1 lang="{language}">{t[target.instrument_id]}</h1>')
        self.save = w.Button(description=t["save"], disabled=True)
        self.save.on_click(guarded(self.status)(lambda _b: self._submit()))
        self.marks: list[w.Checkbox] = []
        self.marks_box = w.VBox()
        if target.instrument_id == SYMBOL_DIGIT:
            form = symbol_digit.make_form(secrets.randbelow(2**31) if seed is None else seed)
            limit = limit_ms or symbol_digit.LIMIT_MS
            self.payload = {"seed": form.seed, "limit_ms": limit}
            self.task: _TimedTask = SymbolDigitTask(
                guarded(self.status)(self._symbol_digit_done), key=list(form.key),
                items=[symbol_digit.GLYPHS[i] for i in form.items], limit_ms=limit, texts=t)
            help_text = t["sd_help"].format(s=limit // 1000)
            self.counts: dict[str, w.BoundedIntText] = {}
        elif target.instrument_id == VERBAL_FLUENCY:
            limit = limit_ms or fluency.LIMIT_MS
            self.payload = {"mode": mode, "cue": cue, "limit_ms": limit}
            self.task = FluencyTask(guarded(self.status)(self._fluency_done), limit_ms=limit, texts=t)
            help_text = t["vf_help"].format(cue=cue, s=limit // 1000)
            self.counts = {name: w.BoundedIntText(0, min=0, max=300, description=t[name])
                           for name in ("total", "repetitions", "intrusions")}
            for box in self.counts.values():
                box.observe(lambda _c: setattr(self.save, "disabled", False), names="value")
        else:
            raise NotFoundError(f"{target.instrument_id!r} is not a psychometric task")
        super().__init__([style_sheet(), heading, w.HTML(f'<p lang="{language}">{help_text}</p>'), self.task,
                          self.marks_box, *self.counts.values(), self.save, self.status])
        self.add_class(FORM_CLASS)

    @staticmethod
    def _complete(events: list[dict[str, Any]], sent: Any) -> None:
        if sent != len(events):  # a message lost on the way: never score a record with a gap
            raise ValidationError(f"{sent} responses sent, {len(events)} received", where="task record")

    def _symbol_digit_done(self, events: list[dict[str, Any]], sent: Any) -> None:
        self._complete(events, sent)
        self.payload["trials"] = events
        self._submit()

    def _fluency_done(self, events: list[dict[str, Any]], sent: Any) -> None:
        self._complete(events, sent)
        self.payload["words"] = events
        t = _t(self.language)
        self.marks = [w.Checkbox(False, description=f"{i + 1}. {e.get('text', '')} — {t['intrusion']}",
                                 indent=False) for i, e in enumerate(events)]
        self.marks_box.children = [w.HTML(f"<p>{t['mark']}</p>"), *self.marks] if events else []
        for box in self.counts.values():
            box.layout.display = "none"  # the words were typed: counts come from them
        self.save.disabled = False

    def _submit(self) -> None:
        payload = dict(self.payload)
        if self.target.instrument_id == VERBAL_FLUENCY:
            if "words" in payload:
                payload["intrusions"] = [i for i, box in enumerate(self.marks) if box.value]
            else:
                payload.update({name: box.value for name, box in self.counts.items()})
        try:
            self.result = self.backend.submit(self.target, payload, self.key)
        except WorkbenchError:
            self.save.disabled = False  # the same key again: a retry cannot store twice
            raise
        self.save.disabled = True
        score = self.result.get("sd_correct", self.result.get("vf_correct"))
        show_message(self.status, _t(self.language)["saved"].format(score=score))


def psychometric_form(settings: Settings, query_string: str) -> w.Widget:
    """The page behind ``?access=TOKEN[&task=symbol-digit|verbal-fluency][&cue=…&mode=letter]``."""
    query = parse_qs(query_string or "")
    wanted = (query.get("task") or [""])[0]
    token = token_from_query(query_string)

    try:
        due, language = for_participants(in_session)(settings, lambda s: due_task(s, token, wanted))
    except NotFoundError:
        return w.HTML(bad_link_html())
    if due is None:
        return w.HTML(f'<p role="status">{_t(language)["nothing"]}</p>')
    target = FormTarget(due.participant_id, due.event_code, due.instrument_id)
    mode = (query.get("mode") or ["category"])[0]
    cue = (query.get("cue") or ["P" if mode == "letter" else ("animaux" if language == "fr" else "animals")])[0]
    return PsychometricSession(TaskStore(settings), target, language=language, mode=mode, cue=cue[:40])
