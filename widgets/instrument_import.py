"""Staff dashboard: the instruments a study may schedule, and importing one from a file.

A study manager uploads a REDCap data dictionary (.csv), an XLSForm (.xlsx) or a FHIR
Questionnaire (.json). "Vérifier / Check" parses it and shows what would be stored; "Importer /
Import" stores it in one transaction (``import_file``), so a file with an error stores nothing and
the message names the file, the row (or linkId) and the column (or field).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk, instrument_choices
from workbench.accounts.models import User
from workbench.errors import ValidationError, WorkbenchError
from workbench.instruments.model import Instrument
from workbench.instruments.store import available_instruments, import_file, read_file
from workbench.settings import Settings
from workbench.studies.service import get_study

__all__ = ["SUFFIXES", "InstrumentLibrary", "instrument_library", "instruments_table_html", "stored_choices"]

SUFFIXES = (".csv", ".xlsx", ".json")
MAX_BYTES = 5 * 1024 * 1024
SOURCES = {"library": "Bibliothèque / Library", "redcap": "REDCap", "xlsform": "XLSForm", "fhir": "FHIR"}


def stored_choices(desk: StaffDesk, study_code: str | None = None) -> Callable[[], list[tuple[str, str]]]:
    """(label, id) of the library plus every imported instrument, read from the store when called."""

    def load() -> list[tuple[str, str]]:
        try:
            rows = desk.run(study_code, "view" if study_code else "create",
                            lambda session, _user: available_instruments(session))
        except WorkbenchError:  # not allowed to see the store's list: the built-in library only
            return instrument_choices()
        return [(f"{ident} — {title}" if title else ident, ident) for ident, title, _source in rows]

    return load


def instruments_table_html(rows: list[tuple[str, str, str]]) -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in ("Identifiant / Id", "Titre / Title", "Source"))
    body = "".join(f'<tr><th scope="row">{escape(i)}</th><td>{escape(t)}</td>'
                   f"<td>{escape(SOURCES.get(s, s))}</td></tr>" for i, t, s in rows)
    return (f'<table class="weshare-instruments"><caption>Instruments disponibles / Available instruments'
            f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _preview_html(verb: str, instruments: list[Instrument], warnings: list[str]) -> str:
    items = "".join(
        f"<li><strong>{escape(i.id)}</strong> v{escape(i.version)} — "
        f"{escape(i.title.get('fr') or i.title.get('en') or i.id)} : {len(i.items)} item(s)</li>"
        for i in instruments)
    notes = "".join(f"<li>{escape(x)}</li>" for x in warnings)
    return (f"<p>{escape(verb)}</p><ul>{items}</ul>"
            + (f"<p>Avertissements / Warnings</p><ul>{notes}</ul>" if notes else ""))


def _uploaded(value: Any) -> tuple[str, bytes]:
    """(file name, bytes) of the one uploaded file; ipywidgets 8 gives a tuple of dicts."""
    files = list(value or ())
    if not files:
        raise ValidationError("choisissez un fichier / choose a file first", where="fichier / file")
    name = Path(str(files[0]["name"])).name  # never a path the browser made up
    if Path(name).suffix.lower() not in SUFFIXES:
        raise ValidationError("un dictionnaire REDCap (.csv), un XLSForm (.xlsx) ou un questionnaire FHIR "
                              "(.json) / a REDCap dictionary (.csv), an XLSForm (.xlsx) or a FHIR "
                              "Questionnaire (.json)", where=name)
    content = bytes(files[0]["content"])
    if len(content) > MAX_BYTES:
        raise ValidationError("fichier trop volumineux (5 Mo au plus) / file too large (5 MB at most)", where=name)
    return name, content


def _with_file(name: str, content: bytes, work: Callable[[Path], Any]) -> Any:
    """Run ``work`` on a private copy of the upload; errors name the uploaded file, not the copy."""
    with tempfile.TemporaryDirectory(prefix="weshare-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            return work(path)
        except ValidationError as exc:
            where = (exc.where or name).replace(str(path), name).replace(folder + "/", "")
            raise ValidationError(exc.message.replace(folder + "/", ""), where=where) from None


class InstrumentLibrary(w.VBox):  # type: ignore[misc]
    """Table of available instruments, upload, check and import."""

    def __init__(self, desk: StaffDesk, study_code: str | None = None,
                 on_imported: Callable[[list[str]], None] | None = None) -> None:
        self.desk, self.study_code, self.on_imported = desk, study_code, on_imported
        self.status = w.HTML()
        self.table = w.HTML()
        self.preview = w.HTML()
        self.upload = w.FileUpload(accept=",".join(SUFFIXES), multiple=False,
                                   description="Fichier / File")
        self.language = w.Dropdown(description="Langue des libellés / Label language",
                                   options=[("Français", "fr"), ("English", "en")], value="fr",
                                   style={"description_width": "14em"}, layout=w.Layout(width="30em"))
        self.check_button = w.Button(description="Vérifier / Check")
        self.import_button = w.Button(description="Importer / Import", button_style="primary")
        ok = guarded(self.status)
        self.check_button.on_click(ok(lambda _b: self.check()))
        self.import_button.on_click(ok(lambda _b: self.import_upload()))
        scope = f" — {escape(study_code)}" if study_code else ""
        super().__init__([
            w.HTML(f"<h2>Instruments{scope}</h2>"), self.status, self.table,
            w.HTML("<h3>Importer un instrument / Import an instrument</h3>"
                   "<p>REDCap (.csv), XLSForm (.xlsx), FHIR Questionnaire (.json)</p>"),
            self.upload, self.language, w.HBox([self.check_button, self.import_button]), self.preview,
        ])
        ok(lambda: self.refresh())()

    def _need(self) -> str:
        return "manage" if self.study_code else "create"

    def refresh(self) -> None:
        rows = self.desk.run(self.study_code, "view" if self.study_code else "create",
                             lambda session, _user: available_instruments(session))
        self.table.value = instruments_table_html(rows)

    def check(self) -> None:
        """Parse only: what an import would store (nothing is written)."""
        name, content = _uploaded(self.upload.value)
        self.preview.value = ""
        language = self.language.value
        # the same permission as an import: checking a file is the first step of importing it
        self.desk.run(self.study_code, self._need(), lambda _s, _u: None)
        instruments, warnings = _with_file(name, content, lambda p: read_file(p, language=language))
        self.preview.value = _preview_html("Fichier valide ; serait importé / Valid file; would import:",
                                           instruments, warnings)
        show_message(self.status, f"{name} : rien n'est enregistré / nothing stored yet")

    def import_upload(self) -> None:
        name, content = _uploaded(self.upload.value)
        self.preview.value = ""
        language, code = self.language.value, self.study_code

        def work(session: Session, user: User) -> tuple[list[Instrument], list[str]]:
            study_id = get_study(session, code).id if code else None
            return _with_file(name, content, lambda p: import_file(
                session, p, actor=user.username, language=language, study_id=study_id))

        instruments, warnings = self.desk.run(code, self._need(), work)
        self.preview.value = _preview_html("Importé / Imported:", instruments, warnings)
        self.upload.value = ()
        self.refresh()
        ids = [i.id for i in instruments]
        show_message(self.status, f"{name} : {', '.join(ids)} importé(s) / imported")
        if self.on_imported is not None:
            self.on_imported(ids)


def instrument_library(settings: Settings, viewer: str | None, study_code: str | None = None) -> InstrumentLibrary:
    return InstrumentLibrary(StaffDesk(settings, viewer), study_code)
