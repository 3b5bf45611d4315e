"""Researcher's airlock: ask for a table, figure or model result of the project space to leave the
bubble, with a context note; see the automatic disclosure checks at once; follow the review; and
download released files with their checksum.

Files come from the researcher's own project space (never from their computer: data never left
the bubble). Checks, review rules and release are the domain's (``secure_bubble.airlock``).
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

import ipywidgets as w

from secure_bubble import airlock, desk
from widgets._governed import Desk, bi, data_link, html_table, signed_out
from widgets.guarded import guarded, show_message
from workbench.settings import Settings

__all__ = ["CHECK", "RELEASE_STATUS", "AirlockRequest", "airlock_page", "files_html", "mime_of",
           "released_file_html"]

RELEASE_STATUS = {
    "draft": "Brouillon / Draft", "submitted": "En vérification / Under review",
    "approved": "Approuvée / Approved", "rejected": "Refusée / Rejected", "released": "Publiée / Released",
}
CHECK = {"pass": "✔ conforme / pass", "review": "à examiner / review", "fail": "✘ échec / fail"}
MIME = {".csv": "text/csv", ".png": "image/png", ".svg": "image/svg+xml", ".json": "application/json",
        ".html": "text/html", ".txt": "text/plain", ".md": "text/markdown", ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg"}


def files_html(files: list[Any]) -> str:
    """Each file with its automatic check and its checksum."""
    return html_table(
        bi("Fichiers et contrôles automatiques", "Files and automatic checks"),
        [bi("Fichier", "File"), bi("Contrôle", "Check"), bi("Problèmes", "Problems"), "SHA-256"],
        [[escape(f.name), f'<span class="check-{escape(f.check_status)}">{escape(CHECK.get(f.check_status, f.check_status))}</span>',
          escape("; ".join(f.check_report)), f"<code>{escape(f.sha256)}</code>"] for f in files],
        empty=bi("Aucun fichier.", "No file."))


def mime_of(name: str) -> str:
    return next((m for suffix, m in MIME.items() if name.lower().endswith(suffix)), "application/octet-stream")


class AirlockRequest(w.VBox):  # type: ignore[misc]
    """One draft at a time (``current``); the list of the viewer's requests below."""

    def __init__(self, desk_: Desk, settings: Settings) -> None:
        self.desk, self.settings = desk_, settings
        self.current: int | None = None
        self.status, self.checks, self.mine, self.reviews, self.link = (w.HTML() for _ in range(5))
        wide = w.Layout(width="95%")
        self.project = w.Dropdown(description="Projet / Project", options=[])
        self.files = w.SelectMultiple(description="Fichiers / Files", options=[], layout=wide)
        self.title = w.Text(description="Titre / Title", layout=wide)
        self.context = w.Textarea(description="Note de contexte / Context note", layout=wide,
                                  placeholder="Ce que sont ces résultats et pourquoi ils sont sûrs / "
                                              "what these outputs are and why they are safe")
        self.check_button = w.Button(description="Contrôler / Check", button_style="info")
        self.submit_button = w.Button(description="Soumettre / Submit", button_style="primary", disabled=True)
        self.release_choice = w.Dropdown(description="Demande / Request", options=[])
        self.file_choice = w.Dropdown(description="Fichier / File", options=[])
        self.download_button = w.Button(description="Télécharger / Download")
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        for button, callback in ((self.check_button, self.check), (self.submit_button, self.submit),
                                 (self.download_button, self.download), (self.refresh_button, self.load)):
            button.on_click(guarded(self.status)(callback))
        self.project.observe(guarded(self.status)(self._list_files), "value")
        self.release_choice.observe(guarded(self.status)(self.show_release), "value")
        super().__init__([
            w.HTML(f"<h2>{bi('Sortie de résultats (sas)', 'Output release (airlock)')}</h2>"
                   f"<p>{bi('Seuls des résultats agrégés quittent la bulle, après contrôle automatique puis vérification par deux personnes.', 'Only aggregate results leave the bubble, after automatic checks and then two output checkers.')}</p>"),
            self.status, self.project, self.files, self.title, self.context,
            w.HBox([self.check_button, self.submit_button]), self.checks,
            w.HTML(f"<h3>{bi('Mes demandes de sortie', 'My release requests')}</h3>"), self.refresh_button,
            self.mine, self.release_choice, self.reviews, w.HBox([self.file_choice, self.download_button]),
            self.link,
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        projects = self.desk.read(lambda s, u: [p.code for p in desk.my_projects(s, u)])
        self.project.options = projects
        self.project.value = projects[0] if projects else None
        if not projects:
            show_message(self.status, "Aucun projet approuvé à votre nom. / No approved project of yours.")
        self._list_files()
        self._list_releases()

    def _list_files(self, _: object = None) -> None:
        project = self.project.value
        self.files.options = self.desk.read(
            lambda s, u: desk.project_files(self.settings, s, u, project)) if project else []

    def _list_releases(self) -> None:
        def work(s: Any, u: Any) -> list[tuple[int, str, str, str, int]]:
            return [(r.id, r.title, r.project, r.status, len(r.files)) for r in desk.my_releases(s, u)]
        rows = self.desk.read(work)
        self.mine.value = html_table(
            bi("Demandes", "Requests"), ["N°", bi("Titre", "Title"), bi("Projet", "Project"), bi("Statut", "Status"),
                                         bi("Fichiers", "Files")],
            [[str(i), escape(t), escape(p), escape(RELEASE_STATUS.get(st, st)), str(n)] for i, t, p, st, n in rows],
            empty=bi("Aucune demande de sortie.", "No release request yet."))
        self.release_choice.options = [(f"{i} — {t}", i) for i, t, *_ in rows]
        self.release_choice.value = rows[0][0] if rows else None
        self.show_release()

    def check(self, _: object = None) -> None:
        """Stage the chosen files in the draft (a new one the first time) and show the checks."""
        project, paths = self.project.value, list(self.files.value)
        title, context, current = self.title.value, self.context.value, self.current

        def work(s: Any, u: Any) -> tuple[int, str, bool]:
            r = desk.stage_release(self.settings, s, u, project, paths, title=title, context=context,
                                   request_id=current)
            return r.id, files_html(r.files), any(f.check_status == "fail" for f in r.files)

        self.current, self.checks.value, failing = self.desk.act("airlock.request", "project", project or "", work)
        self.submit_button.disabled = failing
        self._list_releases()
        if failing:
            show_message(self.status, "Un contrôle automatique échoue : corrigez le fichier dans votre espace "
                                      "projet puis contrôlez à nouveau. / An automatic check fails: fix the file "
                                      "in your project space, then check again.", kind="error")
        else:
            show_message(self.status, f"Demande n°{self.current} prête à soumettre. / Request {self.current} "
                                      "ready to submit.")

    def submit(self, _: object = None) -> None:
        rid = self.current
        if rid is None:
            show_message(self.status, "Contrôlez d'abord vos fichiers. / Check your files first.", kind="error")
            return
        self.desk.act("airlock.request", "release", rid, lambda s, u: airlock.submit(s, rid, u))
        self.current, self.submit_button.disabled, self.checks.value = None, True, ""
        self.title.value = self.context.value = ""
        self._list_releases()
        show_message(self.status, f"Demande n°{rid} soumise aux vérificateurs. / Request {rid} sent to the "
                                  "output checkers.")

    def show_release(self, _: object = None) -> None:
        rid = self.release_choice.value
        if rid is None:
            self.reviews.value, self.file_choice.options = "", []
            return

        def work(s: Any, u: Any) -> tuple[str, str, list[str], str]:
            votes = airlock.visible_reviews(s, rid, u)  # blind until both checkers voted (audited)
            r = next(x for x in desk.my_releases(s, u) if x.id == rid)
            table = html_table(bi("Avis des vérificateurs", "Checkers' reviews"),
                               [bi("Vérificateur", "Checker"), bi("Décision", "Decision"), bi("Commentaire", "Comment")],
                               [[escape(v.reviewer), escape(v.decision), escape(v.comment)] for v in votes],
                               empty=bi("Avis visibles quand les deux vérificateurs ont voté.",
                                        "Reviews are shown once both checkers have voted."))
            return r.status, files_html(r.files) + table, [f.name for f in r.files], r.context

        status, html, names, context = self.desk.act("airlock.view", "release", rid, work)
        self.reviews.value = (f"<p>{bi('Statut', 'Status')} : {escape(RELEASE_STATUS.get(status, status))}</p>"
                              f"<p>{bi('Note de contexte', 'Context note')} : {escape(context)}</p>{html}")
        self.file_choice.options = names if status == "released" else []
        self.file_choice.value = self.file_choice.options[0] if self.file_choice.options else None
        self.download_button.disabled = status != "released"

    def download(self, _: object = None) -> None:
        rid, name = self.release_choice.value, self.file_choice.value
        if rid is None or not name:
            show_message(self.status, "Choisissez un fichier publié. / Choose a released file.", kind="error")
            return
        content = self.desk.act("airlock.download", "release", rid,
                                lambda s, u: airlock.download(s, desk.airlock_store(self.settings), rid, name, u))
        self.link.value = released_file_html(name, content)
        self.status.value = ""


def released_file_html(name: str, content: bytes) -> str:
    """The download link of a released file, with the checksum it was approved under."""
    digest = hashlib.sha256(content).hexdigest()
    return (f'<p role="status">{data_link(name, content, mime_of(name), bi("Télécharger", "Download") + " " + escape(name))}'
            f" — SHA-256 <code>{digest}</code> ({len(content)} octets / bytes)</p>")


def airlock_page(settings: Settings, viewer: str | None) -> w.Widget:
    return AirlockRequest(Desk.for_settings(settings, viewer), settings) if viewer else signed_out()
