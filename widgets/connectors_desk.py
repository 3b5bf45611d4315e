"""Data steward's connectors dashboard: import FHIR bundles or CSV extracts, see the last runs,
review uncertain linkage pairs.

The same functions as ``weshare import`` and ``weshare link review|decide`` do the work
(``workbench.connectors``, ``trusted_party.links``); ``workbench.connectors.steward`` says who may.
Uploaded files are written to a temporary folder for the run and removed right after it; the run
report is the text the CLI prints. A refusal is audited (``governance.refused``) and shown as one
line, as on the governance desks; the review shows quasi-identifiers only, never an identifier.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any, TypeVar

import ipywidgets as w
from sqlalchemy.orm import Session

from secure_bubble.governed import record_refusal
from widgets._governed import bi, html_table, signed_out
from widgets._store import in_session
from widgets.guarded import guarded, show_message
from workbench.accounts import get_user
from workbench.accounts.models import User
from workbench.connectors import RunReport
from workbench.connectors.steward import (
    active_studies,
    import_files,
    last_runs,
    linkage_runs,
    require_steward,
)
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.settings import Settings
from workbench.trusted_party import open_trusted_party
from workbench.trusted_party.links import decide, review_queue
from workbench.warehouse import connect

__all__ = ["FHIR_SUFFIXES", "MAX_BYTES", "ConnectorsDesk", "connectors_page", "pair_html", "uploaded_files"]

T = TypeVar("T")
FHIR_SUFFIXES = (".json", ".ndjson")
CSV_SUFFIXES = (".csv", ".toml")
# The files travel in widget messages, which Jupyter's websocket caps at 10 MiB; larger extracts
# go through `weshare import` on the server.
MAX_BYTES = 9 * 1024 * 1024
LAST_RUNS = 20


def uploaded_files(value: Any, kind: str) -> dict[str, bytes]:
    """The FileUpload's files by safe name (no folders, lower-case suffix), checked before any run."""
    files = list(value or ())
    if not files:
        raise ValidationError("choisissez un fichier / choose a file first", where="fichiers / files")
    allowed = FHIR_SUFFIXES if kind == "fhir" else CSV_SUFFIXES
    out: dict[str, bytes] = {}
    for f in files:
        raw = Path(str(f["name"])).name
        name = Path(raw).stem + Path(raw).suffix.lower()
        if raw.startswith(".") or Path(name).suffix not in allowed:
            raise ValidationError(f"fichier {', '.join(allowed)} attendu / a {', '.join(allowed)} file is expected",
                                  where=raw or "?")
        if name in out:
            raise ValidationError("deux fichiers portent ce nom / two files have this name", where=name)
        out[name] = bytes(f["content"])
    if sum(map(len, out.values())) > MAX_BYTES:
        raise ValidationError("9 Mo au plus par envoi : utilisez `weshare import` sur le serveur / 9 MB at most "
                              "per upload: use `weshare import` on the server", where="fichiers / files")
    if kind == "csv" and sum(n.endswith(".toml") for n in out) != 1:
        raise ValidationError("un fichier de correspondance .toml et ses CSV / one mapping file (.toml) and "
                              "its CSV files", where="fichiers / files")
    return out


def outcome(report: RunReport) -> tuple[str, str]:
    """The one-line status of a run: (kind, text); "error" when nothing at all came in."""
    inserted, updated = sum(report.inserted.values()), sum(report.updated.values())
    if report.rejected and not (inserted or updated or report.unchanged):
        first = report.rejected[0]
        more = f" (+{len(report.rejected) - 1})" if len(report.rejected) > 1 else ""
        return "error", f"Rien n'a été importé / Nothing was imported — {first.where}: {first.reason}{more}"
    return "info", (f"Import terminé / Import done (run {report.run_id}) : {inserted} ajoutés / inserted, "
                    f"{updated} mis à jour / updated, {report.unchanged} inchangés / unchanged, "
                    f"{len(report.rejected)} rejetés / rejected")


def report_html(report: RunReport) -> str:
    rows = [(escape(r.where), escape(r.reason)) for r in report.rejected]
    table = html_table(bi("Lignes rejetées", "Rejected rows"), [bi("Où", "Where"), bi("Raison", "Reason")],
                       rows, empty=bi("Aucune ligne rejetée.", "No rejected row."))
    return f'<pre class="weshare-run-report">{escape(str(report))}</pre>{table}'


def pair_html(pair: dict[str, Any]) -> str:
    """One uncertain pair as ``weshare link review`` prints it: each comparison's two values side by side."""
    caption = f"link {pair['id']}: evidence {pair['evidence_bits']:.2f} bits"
    if not pair["comparisons"]:
        kept = bi("Valeurs comparées non conservées", "Compared values not kept")
        return f"<p>{escape(caption)}</p><p role='status'>{kept} (run made before trusted-party schema 4)</p>"
    rows = [(escape(c["comparison"]), escape(str(c["study"] or "—")), escape(str(c["snds"] or "—")),
             "?" if c["weight"] is None else f"{c['weight']:+.2f}", escape(c["level"]))
            for c in pair["comparisons"]]
    return html_table(escape(caption), [bi("Comparaison", "Comparison"), bi("Étude", "Study"), "SNDS",
                                        bi("Poids (bits)", "Weight (bits)"), bi("Niveau", "Level")],
                      rows, empty="")


class ConnectorsDesk(w.VBox):  # type: ignore[misc]
    """Import, Runs and Linkage review tabs for a data steward; anyone else sees the refusal only."""

    def __init__(self, settings: Settings, viewer: str) -> None:
        self.settings, self.viewer = settings, viewer
        self.status = w.HTML()
        wide, style = w.Layout(width="36em"), {"description_width": "14em"}
        # Import
        self.kind = w.ToggleButtons(options=[("FHIR (bundle, NDJSON)", "fhir"), ("CSV + correspondance / "
                                             "mapping (TOML)", "csv")], value="fhir")
        self.upload = w.FileUpload(accept=",".join(FHIR_SUFFIXES + CSV_SUFFIXES), multiple=True,
                                   description="Fichiers / Files")
        self.source = w.Text(description="Source (établissement / establishment)", placeholder="CHU-Lyon",
                             style=style, layout=wide)
        self.target = w.Dropdown(description="Vers / Into", style=style, layout=wide,
                                 options=[("Entrepôt / Warehouse", "")], value="")
        self.site = w.Text(description="Site (étude / study)", placeholder="optionnel / optional",
                           style=style, layout=wide)
        self.run_button = w.Button(description="Importer / Run", button_style="primary")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", layout=wide)
        self.report = w.HTML()
        # Runs
        self.runs = w.HTML()
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        # Linkage review
        self.link_run = w.Dropdown(description="Appariement / Linkage run", style=style, layout=wide, options=[])
        self.show_button = w.Button(description="Afficher les paires / Show pairs")
        self.pair = w.Dropdown(description="Paire / Pair", style=style, layout=wide, options=[])
        self.pair_view = w.HTML()
        self.same_button = w.Button(description="Même personne / Same", button_style="success", disabled=True)
        self.different_button = w.Button(description="Différentes / Different", button_style="danger",
                                         disabled=True)
        self._queue: dict[int, dict[str, Any]] = {}
        ok = guarded(self.status)
        self.run_button.on_click(ok(lambda _b: self.run_import()))
        self.refresh_button.on_click(ok(lambda _b: self.load_runs()))
        self.show_button.on_click(ok(lambda _b: self.show_queue()))
        self.same_button.on_click(ok(lambda _b: self.decide(same=True)))
        self.different_button.on_click(ok(lambda _b: self.decide(same=False)))
        self.pair.observe(lambda _c: self._show_pair(), names="value")
        note = bi("Les identifiants vont au tiers de confiance seulement ; rien n’est importé à moitié.",
                  "Identifiers go to the trusted party only; nothing is half imported.")
        self.tabs = w.Tab(children=[
            w.VBox([w.HTML(f"<p>{note}</p>"), self.kind, self.upload, self.source, self.target, self.site,
                    self.run_button, self.progress, self.report]),
            w.VBox([self.refresh_button, self.runs]),
            w.VBox([w.HBox([self.link_run, self.show_button]), self.pair, self.pair_view,
                    w.HBox([self.same_button, self.different_button])]),
        ], titles=("Import", "Exécutions / Runs", "Revue des appariements / Linkage review"))
        super().__init__([w.HTML(f"<h2>{bi('Connecteurs', 'Connectors')}</h2>"), self.status])
        guarded(self.status)(self.start)()

    # ------------------------------------------------------------------ the one path to the domain
    def steward(self, action: str, object_id: str | int, work: Callable[[Session, User], T]) -> T:
        """``work`` in one transaction once the domain says the viewer is a steward; a refusal is audited."""
        def inner(session: Session) -> T:
            try:
                user = get_user(session, self.viewer)
            except NotFoundError:
                raise PermissionDenied("compte inconnu / unknown account") from None
            return work(session, require_steward(user))

        try:
            return in_session(self.settings, inner)
        except PermissionDenied as exc:
            reason = str(exc)
            in_session(self.settings, lambda s: record_refusal(s, actor=self.viewer, action=action,
                                                               object_type="connectors", object_id=object_id,
                                                               reason=reason))
            raise

    def start(self) -> None:
        studies = self.steward("connectors.view", "dashboard", lambda s, _u: active_studies(s))
        self.target.options = [("Entrepôt / Warehouse", ""), *((f"Étude / Study {c}", c) for c in studies)]
        self.target.value = ""
        self.children = (*self.children, self.tabs)
        self.load_runs()
        self.load_linkage_runs()

    # ------------------------------------------------------------------ import
    def _tick(self, stage: str, done: int, total: int) -> None:
        self.progress.description, self.progress.max, self.progress.value = stage[:20], max(total, done, 1), done

    def run_import(self) -> None:
        kind, target, site = self.kind.value, self.target.value, self.site.value.strip()
        files = uploaded_files(self.upload.value, kind)
        source = self.source.value.strip()
        self.report.value, self.progress.value = "", 0
        show_message(self.status, "Import en cours… / Importing…")
        with tempfile.TemporaryDirectory(prefix="weshare-import-") as folder:
            paths = []
            for name, content in files.items():
                (Path(folder) / name).write_bytes(content)
                paths.append(Path(folder) / name)

            def work(session: Session, user: User) -> RunReport:
                return import_files(session, self.settings, paths, kind=kind, target=target, site=site,
                                    source=source, actor=user.username, progress=self._tick)

            report = self.steward("connectors.import", target or "warehouse", work)
        self.upload.value = ()  # the bytes are not kept in the kernel either
        self.report.value = report_html(report)
        kind, text = outcome(report)
        show_message(self.status, text, kind=kind)
        if not target:
            self.load_runs()

    # ------------------------------------------------------------------ runs
    def load_runs(self) -> None:
        def work(_s: Session, _u: User) -> list[str]:
            warehouse = connect(self.settings.warehouse_url)  # as `weshare import runs`: no schema work
            try:
                return [str(r) for r in last_runs(warehouse, LAST_RUNS)]
            finally:
                warehouse.dispose()

        lines = self.steward("connectors.view", "runs", work)
        self.runs.value = (f'<pre class="weshare-runs">{escape(chr(10).join(lines))}</pre>' if lines else
                           f'<p role="status">{bi("Aucune exécution encore.", "No run yet.")}</p>')

    # ------------------------------------------------------------------ linkage review
    def load_linkage_runs(self) -> None:
        def work(_s: Session, _u: User) -> list[tuple[str, str]]:
            with open_trusted_party(self.settings) as tp:
                return [(f"{r.run_id} — {r.source} ({r.awaiting} à revoir / to review)", r.run_id)
                        for r in linkage_runs(tp)]

        current, options = self.link_run.value, self.steward("connectors.view", "linkage", work)
        self.link_run.options = options
        ids = [v for _label, v in options]
        self.link_run.value = current if current in ids else (ids[0] if ids else None)

    def show_queue(self) -> None:
        run_id = self.link_run.value
        if not run_id:
            raise ValidationError("choisissez un appariement / choose a linkage run", where="appariement / run")

        def work(_s: Session, user: User) -> list[dict[str, Any]]:
            with open_trusted_party(self.settings) as tp:
                return review_queue(tp, run_id, actor=user.username)

        queue = self.steward("linkage.review", run_id, work)
        # The SNDS identifier is never shown, nor kept in the page's state.
        self._queue = {p["id"]: {k: p[k] for k in ("id", "evidence_bits", "comparisons")} for p in queue}
        self._pairs()
        show_message(self.status, f"{run_id} : {len(queue)} paire(s) à revoir / pair(s) awaiting review")

    def _pairs(self) -> None:
        self.pair.options = [(f"link {p['id']}: {p['evidence_bits']:.2f} bits", p["id"])
                             for p in self._queue.values()]
        self.pair.value = next(iter(self._queue), None)
        self._show_pair()

    def _show_pair(self) -> None:
        pair = self._queue.get(self.pair.value) if self.pair.value is not None else None
        self.pair_view.value = pair_html(pair) if pair else ""
        self.same_button.disabled = self.different_button.disabled = pair is None

    def decide(self, *, same: bool) -> None:
        link = self.pair.value
        if link is None:
            raise ValidationError("choisissez une paire / choose a pair", where="paire / pair")

        def work(_s: Session, user: User) -> None:
            with open_trusted_party(self.settings) as tp:
                decide(tp, link, same_person=same, actor=user.username)

        self.steward("linkage.decide", link, work)
        self._queue.pop(link, None)
        self._pairs()
        self.load_linkage_runs()
        verdict = "confirmé / confirmed" if same else "rejeté / rejected"
        show_message(self.status, f"link {link}: {verdict} ({len(self._queue)} restante(s) / left)")


def connectors_page(settings: Settings, viewer: str | None) -> w.Widget:
    """The dashboard for the signed-in viewer (``WESHARE_VIEWER``, set by the dashboards server)."""
    if not viewer:
        return signed_out()
    return ConnectorsDesk(settings, viewer)
