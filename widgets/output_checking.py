"""Output checker's dashboard: the release requests awaiting their review (never their own), the
context note and automatic checks, each file's content, their own vote only until both checkers
have voted; then the decided requests, their release, and the released files with checksums.

Blindness, the two-checker rule and the author exclusion are the domain's
(``secure_bubble.airlock``); every view, vote, release and download is a governed, audited action.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

import ipywidgets as w

from secure_bubble import airlock, desk
from widgets._governed import Desk, bi, html_table, signed_out
from widgets.airlock_request import RELEASE_STATUS, files_html, mime_of, released_file_html
from widgets.guarded import guarded, show_message
from workbench.settings import Settings

__all__ = ["OutputChecking", "checking_page", "preview_html"]

DECISIONS = [("Approuver / Approve", "approve"), ("Refuser / Reject", "reject")]
PREVIEW_LINES = 60


def preview_html(name: str, content: bytes) -> str:
    """What a checker looks at: images inline, text (CSV, JSON, Markdown…) as text, first lines."""
    mime = mime_of(name)
    if mime.startswith("image/"):
        return f'<img alt="{escape(name)}" style="max-width:100%" src="data:{mime};base64,{base64.b64encode(content).decode()}">'
    text = content.decode("utf-8", errors="replace").splitlines()
    more = (f"\n… {len(text) - PREVIEW_LINES} " + "ligne(s) de plus / more line(s)") if len(text) > PREVIEW_LINES else ""
    return f"<pre>{escape(chr(10).join(text[:PREVIEW_LINES]) + more)}</pre>"


class OutputChecking(w.VBox):  # type: ignore[misc]
    def __init__(self, desk_: Desk, settings: Settings) -> None:
        self.desk, self.settings = desk_, settings
        self.status, self.queue_view, self.detail, self.preview = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        self.done_view, self.done_detail, self.link = w.HTML(), w.HTML(), w.HTML()
        wide = w.Layout(width="95%")
        self.choice = w.Dropdown(description="Demande / Request", options=[], layout=wide)
        self.file_choice = w.Dropdown(description="Fichier / File", options=[])
        self.view_button = w.Button(description="Voir / View")
        self.decision = w.ToggleButtons(options=DECISIONS, value=None, description="Avis / Review")
        self.comment = w.Textarea(description="Commentaire / Comment", layout=wide)
        self.review_button = w.Button(description="Enregistrer l'avis / Record review", button_style="primary")
        self.done_choice = w.Dropdown(description="Examinée / Reviewed", options=[], layout=wide)
        self.release_button = w.Button(description="Publier / Release", button_style="success")
        self.done_file = w.Dropdown(description="Fichier / File", options=[])
        self.download_button = w.Button(description="Télécharger / Download")
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        for button, callback in ((self.view_button, self.view), (self.review_button, self.review),
                                 (self.release_button, self.release), (self.download_button, self.download),
                                 (self.refresh_button, self.load)):
            button.on_click(guarded(self.status)(callback))
        self.choice.observe(guarded(self.status)(self.show), "value")
        self.done_choice.observe(guarded(self.status)(self.show_done), "value")
        super().__init__([
            w.HTML(f"<h2>{bi('Vérification des sorties', 'Output checking')}</h2>"), self.status,
            self.refresh_button, self.queue_view, self.choice, self.detail,
            w.HBox([self.file_choice, self.view_button]), self.preview, self.decision, self.comment,
            self.review_button,
            w.HTML(f"<h3>{bi('Déjà examinées ou décidées', 'Already reviewed or decided')}</h3>"), self.done_view, self.done_choice,
            self.done_detail, self.release_button, w.HBox([self.done_file, self.download_button]), self.link,
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        def work(s: Any, u: Any) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str, str]]]:
            pending, done = desk.checker_queue(s, u)
            waiting = desk.checker_waiting(s, u)
            return ([(r.id, r.title, r.project) for r in pending],
                    [(r.id, r.title, r.project, r.status) for r in waiting + done])

        pending, done = self.desk.act("airlock.view", "release", "*", work)
        self.queue_view.value = html_table(
            bi("À vérifier", "To review"), ["N°", bi("Titre", "Title"), bi("Projet", "Project")],
            [[str(i), escape(t), escape(p)] for i, t, p in pending],
            empty=bi("Rien à vérifier.", "Nothing to review."))
        self.choice.options = [(f"{i} — {t} ({p})", i) for i, t, p in pending]
        self.choice.value = pending[0][0] if pending else None
        self.done_view.value = html_table(
            bi("Examinées", "Reviewed"), ["N°", bi("Titre", "Title"), bi("Projet", "Project"), bi("Statut", "Status")],
            [[str(i), escape(t), escape(p), escape(RELEASE_STATUS.get(st, st))] for i, t, p, st in done],
            empty="—")
        self.done_choice.options = [(f"{i} — {t} ({RELEASE_STATUS.get(st, st)})", i) for i, t, _, st in done]
        self.done_choice.value = done[0][0] if done else None
        self.show()
        self.show_done()

    def _describe(self, rid: int) -> tuple[str, list[str], str]:
        def work(s: Any, u: Any) -> tuple[str, list[str], str]:
            votes = airlock.visible_reviews(s, rid, u)  # only the viewer's own until both voted
            r = desk.checker_request(s, u, rid)
            table = html_table(
                bi("Avis visibles", "Visible reviews"),
                [bi("Vérificateur", "Checker"), bi("Décision", "Decision"), bi("Commentaire", "Comment")],
                [[escape(v.reviewer), escape(v.decision), escape(v.comment)] for v in votes],
                empty=bi("Aucun avis visible : les avis restent cachés jusqu'au second.",
                         "No review visible: reviews stay hidden until the second one."))
            html = (f"<p>{bi('Projet', 'Project')} : {escape(r.project)} — {bi('Auteur', 'Author')} : "
                    f"{escape(r.author)}</p><p>{bi('Note de contexte', 'Context note')} : {escape(r.context)}</p>"
                    + files_html(r.files) + table)
            return html, [f.name for f in r.files], r.status
        return self.desk.act("airlock.view", "release", rid, work)  # type: ignore[no-any-return]

    def show(self, _: object = None) -> None:
        rid = self.choice.value
        self.preview.value = ""
        if rid is None:
            self.detail.value, self.file_choice.options = "", []
            return
        self.detail.value, names, _status = self._describe(rid)
        self.file_choice.options = names
        self.file_choice.value = names[0] if names else None

    def view(self, _: object = None) -> None:
        rid, name = self.choice.value, self.file_choice.value
        if rid is None or not name:
            show_message(self.status, "Choisissez un fichier. / Choose a file.", kind="error")
            return
        content = self.desk.act("airlock.file_view", "release", rid, lambda s, u: airlock.review_content(
            s, desk.airlock_store(self.settings), rid, name, u))
        self.preview.value = preview_html(name, content)

    def review(self, _: object = None) -> None:
        rid, decision, comment = self.choice.value, self.decision.value, self.comment.value
        if rid is None or decision is None:
            show_message(self.status, "Choisissez une demande et un avis. / Choose a request and a review.",
                         kind="error")
            return
        status = self.desk.act("airlock.review", "release", rid,
                               lambda s, u: airlock.review(s, rid, u, decision, comment).status)
        self.decision.value, self.comment.value = None, ""
        self.load()
        show_message(self.status, f"Avis enregistré (n°{rid}) / Review recorded (no. {rid}) — "
                                  f"{RELEASE_STATUS.get(status, status)}")

    def show_done(self, _: object = None) -> None:
        rid = self.done_choice.value
        if rid is None:
            self.done_detail.value, self.done_file.options = "", []
            self.release_button.disabled = self.download_button.disabled = True
            return
        self.done_detail.value, names, status = self._describe(rid)
        self.release_button.disabled = status != "approved"
        self.download_button.disabled = status != "released"
        self.done_file.options = names if status == "released" else []
        self.done_file.value = self.done_file.options[0] if self.done_file.options else None

    def release(self, _: object = None) -> None:
        rid = self.done_choice.value
        if rid is None:
            return
        manifest = self.desk.act("airlock.release", "release", rid, lambda s, u: airlock.release(s, rid, u))
        self.load()
        self.done_choice.value = rid
        show_message(self.status, f"Publiée : {len(manifest)} fichier(s) / Released: {len(manifest)} file(s)")

    def download(self, _: object = None) -> None:
        rid, name = self.done_choice.value, self.done_file.value
        if rid is None or not name:
            show_message(self.status, "Choisissez un fichier publié. / Choose a released file.", kind="error")
            return
        content = self.desk.act("airlock.download", "release", rid, lambda s, u: airlock.download(
            s, desk.airlock_store(self.settings), rid, name, u))
        self.link.value = released_file_html(name, content)


def checking_page(settings: Settings, viewer: str | None) -> w.Widget:
    return OutputChecking(Desk.for_settings(settings, viewer), settings) if viewer else signed_out()
