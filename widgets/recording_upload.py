"""Staff dashboard: upload an interview recording, transcribe it on the platform, review, store.

A study manager chooses the recording and, for a stereo file, who speaks on each channel.
"Transcrire / Transcribe" runs speech recognition locally (the site's model; nothing leaves the
platform) and shows the **pseudonymised** transcript with the proposed replacement list; names
can be added, and words wrongly taken for names kept, then "Appliquer / Apply" re-pseudonymises
without transcribing again. "Enregistrer / Store" stores the pseudonymised text in the study.
The raw recognition output stays in this kernel's memory only, and is dropped once stored.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk
from workbench.accounts.models import User
from workbench.errors import ValidationError
from workbench.qualitative.recordings import (
    Transcription,
    pseudonymise_transcription,
    store_transcription,
)
from workbench.qualitative.speech import check_model_dir, transcribe_audio
from workbench.qualitative.transcripts import Transcript, format_ms
from workbench.settings import Settings
from workbench.studies.service import get_study

__all__ = ["AUDIO_SUFFIXES", "RecordingUpload", "recording_upload", "recording_upload_page"]

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac", ".webm")
# The whole file travels in one widget message, and Jupyter's websocket refuses messages over
# 10 MiB (tornado's default): about 20 minutes of 64 kbit/s Opus or M4A. Longer recordings go
# through `weshare qda transcribe` on the server.
MAX_BYTES = 9 * 1024 * 1024
PREVIEW_TURNS = 40


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _uploaded(value: Any) -> tuple[str, bytes]:
    files = list(value or ())
    if not files:
        raise ValidationError("choisissez un enregistrement / choose a recording first",
                              where="enregistrement / recording")
    name = Path(str(files[0]["name"])).name
    if Path(name).suffix.lower() not in AUDIO_SUFFIXES:
        raise ValidationError(f"format audio attendu / an audio file is expected "
                              f"({', '.join(AUDIO_SUFFIXES)})", where=name)
    content = bytes(files[0]["content"])
    if len(content) > MAX_BYTES:
        raise ValidationError("fichier trop volumineux pour le navigateur (9 Mo au plus) : "
                              "compressez-le (Opus, M4A) ou utilisez `weshare qda transcribe` / file "
                              "too large for the browser (9 MB at most): compress it (Opus, M4A) or "
                              "use `weshare qda transcribe`", where=name)
    return name, content


def preview_html(result: Transcription) -> str:
    """The pseudonymised turns (first ones) and the replacement list, escaped."""
    t: Transcript = result.transcript
    rows = "".join(
        f"<tr><td>{escape(format_ms(turn.start_ms)) if turn.start_ms is not None else ''}</td>"
        f"<th scope='row'>{escape(turn.speaker)}</th><td>{escape(turn.text)}</td></tr>"
        for turn in t.turns[:PREVIEW_TURNS])
    more = (f"<p>… {len(t.turns) - PREVIEW_TURNS} autres tours / more turns</p>"
            if len(t.turns) > PREVIEW_TURNS else "")
    names = "".join(f"<tr><td>{escape(r.name)}</td><td>{escape(r.placeholder)}</td>"
                    f"<td>{r.occurrences}</td></tr>" for r in result.replacements)
    meta = t.metadata
    return (f"<p>{len(t.turns)} tours / turns, {escape(meta.get('audio_seconds', '?'))} s, "
            f"facteur temps réel / real-time factor {escape(meta.get('real_time_factor', '?'))}</p>"
            "<table class='weshare-transcript'><thead><tr><th scope='col'>Temps / Time</th>"
            "<th scope='col'>Locuteur / Speaker</th><th scope='col'>Texte pseudonymisé / "
            f"Pseudonymised text</th></tr></thead><tbody>{rows}</tbody></table>{more}"
            "<h4>Remplacements proposés (noms réels : ne pas diffuser) / Proposed replacements "
            "(real names: do not share)</h4><table class='weshare-replacements'><thead><tr>"
            "<th scope='col'>Nom / Name</th><th scope='col'>Remplacé par / Replaced by</th>"
            f"<th scope='col'>Occurrences</th></tr></thead><tbody>{names}</tbody></table>")


class RecordingUpload(w.VBox):  # type: ignore[misc]
    """Upload, transcribe locally, review the pseudonymisation, store in the study."""

    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self._raw: Transcript | None = None
        self._result: Transcription | None = None
        style = {"description_width": "16em"}
        wide = w.Layout(width="36em")
        self.status = w.HTML()
        self.preview = w.HTML()
        self.upload = w.FileUpload(accept=",".join(AUDIO_SUFFIXES), multiple=False,
                                   description="Enregistrement / Recording")
        self.participant = w.Text(description="Participant (pseudonyme) / (pseudonym)", style=style,
                                  layout=wide)
        self.left = w.Text(description="Canal gauche / Left channel", placeholder="Enquêtrice",
                           style=style, layout=wide)
        self.right = w.Text(description="Canal droit / Right channel", placeholder="P-…",
                            style=style, layout=wide)
        self.language = w.Dropdown(description="Langue / Language", style=style,
                                   options=[("Détectée / Detected", ""), ("Français", "fr"),
                                            ("English", "en")], value="")
        self.names = w.Textarea(description="Noms à remplacer / Names to replace", style=style,
                                layout=w.Layout(width="36em", height="5em"))
        self.keep = w.Textarea(description="Mots à garder / Not names, keep", style=style,
                               layout=w.Layout(width="36em", height="5em"))
        self.transcribe_button = w.Button(description="Transcrire / Transcribe", button_style="primary")
        self.apply_button = w.Button(description="Appliquer / Apply", disabled=True)
        self.store_button = w.Button(description="Enregistrer / Store", button_style="success",
                                     disabled=True)
        ok = guarded(self.status)
        self.transcribe_button.on_click(ok(lambda _b: self.transcribe()))
        self.apply_button.on_click(ok(lambda _b: self.apply()))
        self.store_button.on_click(ok(lambda _b: self.store()))
        super().__init__([
            w.HTML(f"<h2>Transcrire un entretien / Transcribe an interview — {escape(study_code)}</h2>"
                   "<p>La reconnaissance vocale tourne sur la plateforme ; rien n'est envoyé à "
                   "l'extérieur. / Speech recognition runs on the platform; nothing is sent out. "
                   "Un fichier stéréo avec un micro par personne donne les tours de parole. / A "
                   "stereo file with one microphone per person gives the speaker turns.</p>"),
            self.status, self.upload, self.participant, self.left, self.right, self.language,
            self.names, self.keep,
            w.HBox([self.transcribe_button, self.apply_button, self.store_button]), self.preview,
        ])

    def _speakers(self) -> list[str]:
        left, right = self.left.value.strip(), self.right.value.strip()
        if right and not left:
            raise ValidationError("nommez aussi le canal gauche / name the left channel too",
                                  where="canal gauche / left channel")
        return [s for s in (left, right) if s]

    def transcribe(self) -> None:
        name, content = _uploaded(self.upload.value)
        speakers = self._speakers()
        check_model_dir(self.desk.settings.transcription_model_dir)
        self.desk.run(self.study_code, "manage", lambda s, _u: get_study(s, self.study_code))
        self._raw = self._result = None
        self.apply_button.disabled = self.store_button.disabled = True
        self.preview.value = ""
        show_message(self.status, "Transcription en cours… / Transcribing…")
        with tempfile.TemporaryDirectory(prefix="weshare-audio-") as folder:
            path = Path(folder) / name
            path.write_bytes(content)
            self._raw = transcribe_audio(path, self.desk.settings.transcription_model_dir,
                                         language=self.language.value or None, speakers=speakers,
                                         name=Path(name).stem)
        self.apply()
        show_message(self.status, f"{name} : relisez puis enregistrez / review, then store "
                                  f"(rien n'est enregistré / nothing stored yet)")

    def apply(self) -> None:
        if self._raw is None:
            raise ValidationError("transcrivez d'abord / transcribe first", where="transcription")
        keep = [*self._speakers(), self.participant.value.strip(), *_lines(self.keep.value)]
        self._result = pseudonymise_transcription(self._raw, names=_lines(self.names.value),
                                                  keep=[k for k in keep if k])
        self.preview.value = preview_html(self._result)
        self.apply_button.disabled = self.store_button.disabled = False

    def store(self) -> None:
        if self._result is None:
            raise ValidationError("transcrivez d'abord / transcribe first", where="transcription")
        self.apply()  # what is stored is what the current lists give, never a stale preview
        result, participant = self._result, self.participant.value.strip() or None

        def work(session: Session, user: User) -> int:
            return store_transcription(session, self.study_code, result, actor=user.username,
                                       participant=participant).id

        version_id = self.desk.run(self.study_code, "manage", work)
        self._raw = self._result = None
        self.upload.value = ()
        self.apply_button.disabled = self.store_button.disabled = True
        show_message(self.status, f"« {result.transcript.name} » enregistré / stored "
                                  f"(version {version_id}) : {len(result.transcript.turns)} tours / turns")


def recording_upload(settings: Settings, viewer: str | None, study_code: str) -> RecordingUpload:
    return RecordingUpload(StaffDesk(settings, viewer), study_code)


def recording_upload_page(settings: Settings, viewer: str | None, query_string: str | None) -> w.Widget:
    """The dashboard page: ``transcription.ipynb?study=CODE``."""
    study = (parse_qs(query_string or "").get("study") or [""])[0].strip()
    if not study:
        return w.HTML("<p role='alert'>Ajoutez <code>?study=CODE</code> à l'adresse / add "
                      "<code>?study=CODE</code> to the address.</p>")
    return recording_upload(settings, viewer, study)
