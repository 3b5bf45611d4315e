"""Indicators for the contributors of deposited studies, and the private partners' aggregate report.

Sponsors (a study's scoped study managers) and contributing establishments (a site's
investigator) see their own deposited studies; data stewards and administrators see all of them,
to send the standardised report to a private partner. Everything shown is an aggregate of the
warehouse under the airlock's rules (``secure_bubble.disclosure``): a count under the project
threshold (11 by default, never below 10) is hidden, and more cells are hidden (secondary
suppression) so a hidden one cannot be recomputed from the others. A zero count stays visible: it
says no one answered, which reveals nothing about a person. Uses are the approved projects
reusing the study, as the public transparency register already lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from secure_bubble.disclosure import DisclosureRules, secondary_suppression
from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.governance.models import Project
from workbench.storage.base import utcnow
from workbench.studies.models import Study, StudySite
from workbench.warehouse.schema import metadata

__all__ = [
    "ProjectUse",
    "StudyIndicators",
    "partner_report",
    "partner_report_html",
    "study_indicators",
    "suppress_counts",
    "visible_studies",
]

SURVEY, OBS = metadata.tables["survey_conduct"], metadata.tables["observation"]
HIDDEN = "< seuil / < threshold"


@dataclass(frozen=True)
class ProjectUse:
    code: str
    title: str
    purpose: str
    committee_date: datetime
    expires_at: datetime
    status: str


@dataclass
class StudyIndicators:
    """One study's releasable indicators; suppressed cells are NaN (shown as below threshold)."""

    code: str
    title: str
    sponsor: str
    participants: float  # distinct people with at least one questionnaire (NaN if under threshold)
    participants_by_event: pd.DataFrame  # event x instrument
    responses_by_event: pd.DataFrame  # event x instrument (questionnaires filled in)
    completeness: pd.DataFrame  # instrument, variable, sittings, answered_pct
    uses: list[ProjectUse] = field(default_factory=list)
    suppressed: int = 0
    min_cell: int = 11


def suppress_counts(counts: pd.DataFrame, rules: DisclosureRules) -> tuple[pd.DataFrame, int]:
    """Counts with 1..min_cell-1 hidden, plus the secondary cells that would let them be recomputed.

    Returns the releasable table (hidden = NaN) and how many cells were hidden.
    """
    values = counts.to_numpy(dtype=float)
    primary = pd.DataFrame((values > 0) & (values < rules.min_cell), index=counts.index, columns=counts.columns)
    hidden = secondary_suppression(counts, primary) if primary.to_numpy().any() else primary
    return counts.astype(float).mask(hidden), int(hidden.to_numpy().sum())


def _is_admin(viewer: User) -> bool:
    return bool(viewer.role_names & {Role.DATA_STEWARD, Role.ADMINISTRATOR})


def visible_studies(session: Session, viewer: User) -> list[str]:
    """Deposited studies this viewer contributed to (as sponsor or site), or all for stewards."""
    deposited = sa.select(Study.code).where(Study.status == "deposited")
    if _is_admin(viewer):
        return list(session.execute(deposited.order_by(Study.code)).scalars())
    sponsored = {a.scope_id for a in viewer.roles
                 if a.role == Role.STUDY_MANAGER and a.scope_type == "study" and a.scope_id}
    sites = set(session.execute(sa.select(Study.code).join(StudySite).where(
        StudySite.investigator == viewer.username)).scalars())
    mine = sponsored | sites
    if not mine and not viewer.role_names & {Role.STUDY_MANAGER}:
        raise PermissionDenied("indicators are for the sponsors and establishments of deposited studies")
    return sorted(set(session.execute(deposited.where(Study.code.in_(sorted(mine)))).scalars()))


def _uses(session: Session, study: str) -> list[ProjectUse]:
    projects = session.execute(sa.select(Project).order_by(Project.committee_date)).scalars()
    return [ProjectUse(p.code, p.title, p.purpose, p.committee_date, p.expires_at, p.status)
            for p in projects if study in (p.approved or {})]


def _grid(frame: pd.DataFrame, value: str, events: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(dtype=float)
    grid = frame.pivot_table(index="event", columns="instrument", values=value, aggfunc="sum", fill_value=0)
    order = [e for e in events if e in grid.index] + sorted(set(grid.index) - set(events))
    return grid.reindex(order).astype(int)


def study_indicators(session: Session, warehouse: sa.Engine, viewer: User, study_code: str, *,
                     rules: DisclosureRules | None = None) -> StudyIndicators:
    """The indicators of one deposited study, if the viewer may see it; the view is audited.

    A refusal is audited too: callers commit before re-raising (see ``widgets.indicators``).
    """
    code = study_code.strip().upper()
    study = session.execute(sa.select(Study).where(Study.code == code)).scalar_one_or_none()
    if study is None or study.status != "deposited":
        raise NotFoundError(f"no deposited study {code}")
    if code not in visible_studies(session, viewer):
        audit.record(session, actor=viewer.username, action="indicators.refused", object_type="study",
                     object_id=code, reason="not a sponsor or establishment of this study")
        raise PermissionDenied(f"{viewer.username} is neither a sponsor nor an establishment of {code}")
    rules = rules or DisclosureRules()
    where = SURVEY.c.survey_source_identifier == code
    with warehouse.connect() as conn:
        by_event = pd.DataFrame(conn.execute(sa.select(
            SURVEY.c.timing_source_value.label("event"), SURVEY.c.survey_source_value.label("instrument"),
            sa.func.count(sa.distinct(SURVEY.c.person_id)).label("people"), sa.func.count().label("sittings"))
            .where(where).group_by(SURVEY.c.timing_source_value, SURVEY.c.survey_source_value)).all(),
            columns=["event", "instrument", "people", "sittings"])
        people = int(conn.execute(sa.select(sa.func.count(sa.distinct(SURVEY.c.person_id))).where(where)).scalar()
                     or 0)
        answered = pd.DataFrame(conn.execute(sa.select(
            SURVEY.c.survey_source_value.label("instrument"), OBS.c.observation_source_value.label("variable"),
            sa.func.count(sa.distinct(OBS.c.observation_event_id)).label("answered"))
            .join(SURVEY, SURVEY.c.survey_conduct_id == OBS.c.observation_event_id)
            .where(where, OBS.c.value_as_number.is_not(None))
            .group_by(SURVEY.c.survey_source_value, OBS.c.observation_source_value)).all(),
            columns=["instrument", "variable", "answered"])
    events = [e.code for e in sorted(study.events, key=lambda e: (e.day_offset, e.code))]
    participants, hidden_p = suppress_counts(_grid(by_event, "people", events), rules)
    responses, hidden_r = suppress_counts(_grid(by_event, "sittings", events), rules)
    sittings = by_event.groupby("instrument")["sittings"].sum() if not by_event.empty else pd.Series(dtype=int)
    completeness = answered.assign(sittings=answered["instrument"].map(sittings).fillna(0).astype(int))
    small = completeness["sittings"] < rules.min_cell
    completeness["answered_pct"] = np.where(
        small, np.nan, (100.0 * completeness["answered"] / completeness["sittings"].clip(lower=1)).round(1))
    completeness["sittings"] = completeness["sittings"].astype(float).mask(small)
    completeness = (completeness.drop(columns="answered").sort_values(["instrument", "variable"])
                    .reset_index(drop=True))
    total = float(people) if people == 0 or people >= rules.min_cell else float("nan")
    result = StudyIndicators(
        code=code, title=study.title, sponsor=study.sponsor, participants=total,
        participants_by_event=participants, responses_by_event=responses, completeness=completeness,
        uses=_uses(session, code), suppressed=hidden_p + hidden_r + int(small.sum()) + int(np.isnan(total)),
        min_cell=rules.min_cell)
    audit.record(session, actor=viewer.username, action="indicators.view", object_type="study", object_id=code,
                 after={"suppressed": result.suppressed, "min_cell": rules.min_cell})
    return result


# HTML: the dashboard and the partners' standardised report share it --------------------------------

def _cell(value: float, suffix: str = "") -> str:
    return f'<td class="weshare-hidden">{HIDDEN}</td>' if pd.isna(value) else f"<td>{value:g}{suffix}</td>"


def _grid_html(grid: pd.DataFrame, caption: str) -> str:
    if grid.empty:
        return f'<p role="status">{escape(caption)} : aucune donnée / no data.</p>'
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in grid.columns)
    rows = "".join(f'<tr><th scope="row">{escape(str(event))}</th>{"".join(_cell(v) for v in row)}</tr>'
                   for event, row in zip(grid.index, grid.to_numpy(dtype=float), strict=True))
    return (f'<table class="weshare-table"><caption>{escape(caption)}</caption><thead><tr>'
            f'<th scope="col">Temps / Event</th>{head}</tr></thead><tbody>{rows}</tbody></table>')


def study_html(ind: StudyIndicators) -> str:
    """One study's section: counts per event, completeness per variable, uses."""
    complete = "".join(
        f"<tr><td>{escape(r.instrument)}</td><td>{escape(r.variable)}</td>{_cell(r.sittings)}"
        f"{_cell(r.answered_pct, ' %')}</tr>" for r in ind.completeness.itertuples())
    uses = "".join(
        f"<tr><td>{escape(u.code)}</td><td>{escape(u.title)}</td><td>{escape(u.purpose)}</td>"
        f"<td>{u.committee_date:%Y-%m-%d}</td><td>{u.expires_at:%Y-%m-%d}</td><td>{escape(u.status)}</td></tr>"
        for u in ind.uses)
    people = HIDDEN if pd.isna(ind.participants) else f"{ind.participants:g}"
    return (
        f'<section aria-label="{escape(ind.code)}"><h3>{escape(ind.code)} — {escape(ind.title)}</h3>'
        f"<p>Promoteur / Sponsor : {escape(ind.sponsor or '—')}. Participants ayant répondu / "
        f"participants who answered : <strong>{people}</strong>. Cellules masquées / cells hidden : "
        f"{ind.suppressed} (seuil / threshold {ind.min_cell}).</p>"
        + _grid_html(ind.participants_by_event, "Participants par temps et questionnaire / "
                     "Participants per event and questionnaire")
        + _grid_html(ind.responses_by_event, "Questionnaires remplis / Questionnaires filled in")
        + ('<table class="weshare-table"><caption>Complétude par variable / Completeness per variable'
           '</caption><thead><tr><th scope="col">Questionnaire</th><th scope="col">Variable</th>'
           '<th scope="col">Passations / Sittings</th><th scope="col">Renseignée / Answered</th></tr>'
           f"</thead><tbody>{complete}</tbody></table>" if complete else "")
        + ('<table class="weshare-table"><caption>Utilisations : projets approuvés / Uses: approved '
           'projects</caption><thead><tr><th scope="col">Projet / Project</th><th scope="col">Titre / '
           'Title</th><th scope="col">Finalité / Purpose</th><th scope="col">Comité / Committee</th>'
           '<th scope="col">Fin / Ends</th><th scope="col">Statut / Status</th></tr></thead>'
           f"<tbody>{uses}</tbody></table>" if uses
           else '<p role="status">Aucune réutilisation approuvée / no approved reuse yet.</p>')
        + "</section>")


def partner_report_html(indicators: list[StudyIndicators], *, partner: str, generated_by: str,
                        generated_at: datetime | None = None) -> str:
    """The standardised aggregate report for a private partner: a standalone HTML document built
    from the same suppressed indicators as the dashboard, never from row-level data."""
    at = generated_at or utcnow()
    sections = "".join(study_html(i) for i in indicators) or "<p>Aucune étude / no study.</p>"
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>WeShare — rapport agrégé / aggregate report — {escape(partner)}</title>"
        "<style>table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #999;padding:.2em .5em}"
        ".weshare-hidden{color:#666;font-style:italic}</style></head><body>"
        f"<h1>Rapport agrégé standardisé / Standardised aggregate report</h1>"
        f"<p>Destinataire / For : {escape(partner)}. Produit le / produced on {at:%Y-%m-%d %H:%M} UTC "
        f"par / by {escape(generated_by)}.</p>"
        "<p>Agrégats uniquement, avec les règles de contrôle de divulgation du sas de sortie : petits "
        "effectifs et cellules permettant de les recalculer masqués. <span lang=\"en\">Aggregates only, "
        "under the airlock's disclosure rules: small counts and the cells that would reveal them are "
        "hidden.</span></p>"
        f"{sections}</body></html>")


def partner_report(session: Session, warehouse: sa.Engine, viewer: User, partner: str, *,
                   studies: list[str] | None = None, rules: DisclosureRules | None = None) -> str:
    """The report for ``partner`` over the viewer's studies (or the named ones among them); audited
    with the partner's name, so every aggregate sent outside is on record."""
    if not partner.strip():
        raise ValidationError("name the partner the report is for", where="partner")
    mine = visible_studies(session, viewer)
    chosen = mine if studies is None else [c.strip().upper() for c in studies]
    if not chosen:
        raise ValidationError("no deposited study to report on", where="studies")
    indicators = [study_indicators(session, warehouse, viewer, code, rules=rules) for code in chosen]
    audit.record(session, actor=viewer.username, action="indicators.partner_report", object_type="report",
                 object_id=partner.strip()[:64], after={"studies": chosen})
    return partner_report_html(indicators, partner=partner.strip(), generated_by=viewer.username)
