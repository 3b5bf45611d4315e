"""What the warehouse offers, for the catalog and data-quality dashboards.

The catalog lists every deposited study with what a researcher needs to decide whether to ask
for it (population, instruments, time points, counts, access conditions). Counts are rounded and
small ones withheld, as in the published catalog records, because the catalog is shown to every
staff member, not only to approved projects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import PermissionDenied
from workbench.studies.models import Study
from workbench.warehouse.catalog import publishable_count
from workbench.warehouse.quality import run_checks
from workbench.warehouse.schema import metadata

__all__ = ["ACCESS_CONDITIONS", "CatalogEntry", "catalog_entries", "quality_summary"]

ACCESS_CONDITIONS = ("Access through a request reviewed by the scientific and ethics committee "
                     "(and the deontology committee for private partners), in the secure bubble only; "
                     "tariff from the access pricing grid.")
RESPONDENTS = {"patient": "patients", "carer": "family carers", "healthy_volunteer": "healthy volunteers"}


@dataclass(frozen=True)
class CatalogEntry:
    code: str
    title: str
    sponsor: str
    design: str
    population: str
    instruments: tuple[str, ...]
    time_points: tuple[str, ...]
    persons: int | None  # rounded to 10; None when fewer than 11
    sittings: int | None
    variables: tuple[str, ...]
    access: str


def catalog_entries(session: Session, warehouse: sa.Engine, viewer: User) -> list[CatalogEntry]:
    if not viewer.is_staff:
        raise PermissionDenied("the catalog is for platform staff and researchers")
    studies = session.execute(sa.select(Study).where(Study.status == "deposited").order_by(Study.code)).scalars()
    survey = metadata.tables["survey_conduct"]
    with warehouse.connect() as conn:
        counts = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(
            sa.select(survey.c.survey_source_identifier, sa.func.count(sa.distinct(survey.c.person_id)),
                      sa.func.count()).group_by(survey.c.survey_source_identifier))}
    entries = []
    for study in studies:
        persons, sittings = counts.get(study.code, (0, 0))
        events = sorted(study.events, key=lambda e: (e.respondent_type, e.day_offset))
        entries.append(CatalogEntry(
            code=study.code, title=study.title, sponsor=study.sponsor, design=study.design,
            population=", ".join(sorted({RESPONDENTS.get(e.respondent_type, e.respondent_type) for e in events})),
            instruments=tuple(sorted({i for e in events for i in e.instruments})),
            time_points=tuple(dict.fromkeys(e.code for e in events if e.respondent_type == "patient")),
            persons=publishable_count(persons), sittings=publishable_count(sittings),
            variables=tuple(study.deposit_plan or ()), access=ACCESS_CONDITIONS,
        ))
    audit.record(session, actor=viewer.username, action="catalog.view", object_type="warehouse",
                 object_id="catalog", after={"studies": [e.code for e in entries]})
    return entries


def quality_summary(session: Session, warehouse: sa.Engine, viewer: User) -> dict[str, Any]:
    """The DQD-style report for data stewards: overview per category and the failed checks."""
    if not viewer.role_names & {Role.DATA_STEWARD, Role.ADMINISTRATOR}:
        raise PermissionDenied("data quality reports are for data stewards and administrators")
    report = run_checks(warehouse)
    audit.record(session, actor=viewer.username, action="warehouse.quality.run", object_type="warehouse",
                 object_id="quality", after=report["Overview"])
    return report
