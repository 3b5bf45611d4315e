"""Staff pages on the warehouse: the catalog of deposited studies and the data-quality report."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import ipywidgets as w

from widgets._store import in_session
from widgets.guarded import guarded, show_error
from workbench.accounts import get_user
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.warehouse.engine import connect
from workbench.warehouse.listing import CatalogEntry, catalog_entries, quality_summary

__all__ = ["catalog_html", "catalog_page", "quality_html", "quality_page"]

CATALOG_HEADERS = ("Étude / Study", "Population", "Questionnaires", "Temps / Time points",
                   "Personnes / Persons", "Variables", "Accès / Access")


def _count(n: int | None) -> str:
    return "< 11" if n is None else f"≈ {n}"


def catalog_html(entries: Sequence[CatalogEntry]) -> str:
    if not entries:
        return '<p role="status">Aucune étude déposée. <span lang="en">/ No deposited study yet.</span></p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in CATALOG_HEADERS)
    rows = "".join(
        "<tr>"
        f'<th scope="row">{escape(e.code)}<br><small>{escape(e.title)} — {escape(e.sponsor)} '
        f"({escape(e.design)})</small></th>"
        f"<td>{escape(e.population)}</td><td>{escape(', '.join(e.instruments))}</td>"
        f"<td>{escape(', '.join(e.time_points))}</td>"
        f"<td>{_count(e.persons)} ({_count(e.sittings)} questionnaires)</td>"
        f"<td>{escape(', '.join(e.variables))}</td><td>{escape(e.access)}</td></tr>"
        for e in entries)
    return (f'<table class="weshare-table"><caption>Études et données disponibles / Studies and data '
            f"available</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def quality_html(report: dict[str, Any]) -> str:
    o = report["Overview"]
    cats = "".join(
        f"<tr><th scope=\"row\">{c}</th><td>{o[f'count{c}']}</td><td>{o[f'countFailed{c}']}</td></tr>"
        for c in ("Conformance", "Completeness", "Plausibility"))
    failed = [r for r in report["CheckResults"] if r["failed"]]
    lines = "".join(
        f"<tr><td>{escape(r['category'])}</td><td>{escape(r['checkName'])}</td>"
        f"<td>{escape(r['cdmTableName'])}.{escape(str(r['cdmFieldName'] or ''))}</td>"
        f"<td>{r['numViolatedRows']} / {r['numDenominatorRows']} ({r['pctViolatedRows']:.1%})</td>"
        f"<td>{escape(r['description'])}</td></tr>" for r in failed)
    body = (f"<table class=\"weshare-table\"><caption>Contrôles en échec / Failed checks</caption>"
            f"<thead><tr><th>Catégorie</th><th>Contrôle / Check</th><th>Champ / Field</th>"
            f"<th>Lignes / Rows</th><th>Description</th></tr></thead><tbody>{lines}</tbody></table>"
            if failed else '<p role="status">Tous les contrôles passent. <span lang="en">/ Every check passes.</span></p>')
    return (f"<p>{o['countPassed']} / {o['countTotal']} contrôles réussis / checks passed "
            f"({escape(report['executionTime'])}).</p>"
            f"<table class=\"weshare-table\"><thead><tr><th>Catégorie / Category</th><th>Contrôles / Checks</th>"
            f"<th>Échecs / Failed</th></tr></thead><tbody>{cats}</tbody></table>{body}")


def _page(settings: Settings, viewer: str | None, title: str, build: Callable[[Any, Any], str],
          *, button: str | None = None) -> w.VBox:
    output, status = w.HTML(), w.HTML()
    state: dict[str, Any] = {}

    def run(_: object = None) -> None:
        if not viewer:
            show_error(status, PermissionDenied("Connectez-vous d'abord. / Please sign in first."))
            return
        warehouse = connect(settings.warehouse_url)
        try:
            html = in_session(settings, lambda s: build(s, (warehouse, get_user(s, viewer))))
        finally:
            warehouse.dispose()
        output.value, status.value = html, ""
        state["done"] = True

    children: list[w.Widget] = [w.HTML(f"<h2>{escape(title)}</h2>"), status, output]
    if button:
        action = w.Button(description=button, button_style="primary")
        action.on_click(guarded(status)(run))
        children.insert(1, action)
    else:
        guarded(status)(run)()
    return w.VBox(children)


def catalog_page(settings: Settings, viewer: str | None) -> w.VBox:
    return _page(settings, viewer, "Catalogue / Catalog",
                 lambda s, wu: catalog_html(catalog_entries(s, wu[0], wu[1])))


def quality_page(settings: Settings, viewer: str | None) -> w.VBox:
    def build(session: Any, wu: Any) -> str:
        report = quality_summary(session, wu[0], wu[1])
        html = quality_html(report)
        data = escape(json.dumps(report, default=str))
        return (html + f'<details><summary>Rapport JSON / JSON report</summary><pre>{data}</pre></details>')
    return _page(settings, viewer, "Qualité des données / Data quality", build,
                 button="Lancer les contrôles / Run the checks")
