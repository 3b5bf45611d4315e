"""What the data steward's connectors dashboard asks the domain: who may run the connectors, into
which studies, the last warehouse runs and the linkage runs awaiting clerical review.

The imports themselves are the CLI's functions (``import_fhir``, ``import_fhir_into_study``,
``import_csv``) and the review is ``trusted_party.links``; this module only adds the steward's
permission and the listings, so the dashboard holds no rule of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workbench.accounts.models import Role, User
from workbench.connectors.csv_import import import_csv
from workbench.connectors.fhir_import import import_fhir
from workbench.connectors.fhir_study import import_fhir_into_study
from workbench.connectors.pipeline import Progress
from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, runs
from workbench.errors import PermissionDenied, ValidationError
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies.models import Study, StudyStatus
from workbench.trusted_party import TrustedParty, open_trusted_party
from workbench.trusted_party.schema import link_runs, links
from workbench.warehouse import connect, create_schema, load_mini_vocabulary

__all__ = ["LinkageRun", "RunLine", "active_studies", "import_files", "last_runs", "linkage_runs",
           "open_warehouse", "require_steward"]


def require_steward(user: User) -> User:
    """Connectors write the warehouse and the trusted party: data stewards only (no implicit admin)."""
    if not user.active or Role.DATA_STEWARD not in user.role_names:
        raise PermissionDenied("les connecteurs sont réservés aux gestionnaires de données / "
                               "connectors are for data stewards")
    return user


def active_studies(session: Session) -> list[str]:
    """Codes of the studies a FHIR bundle may enrol patients in (active ones only)."""
    return list(session.execute(sa.select(Study.code).where(Study.status == StudyStatus.ACTIVE.value)
                                .order_by(Study.code)).scalars())


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Engine]:
    """The warehouse as ``weshare import`` prepares it: missing schema and mini-vocabulary added."""
    warehouse = connect(settings.warehouse_url)
    try:
        create_schema(warehouse)  # only what is missing
        load_mini_vocabulary(warehouse)  # idempotent
        yield warehouse
    finally:
        warehouse.dispose()


def import_files(session: Session, settings: Settings, paths: Sequence[Path], *, kind: str, target: str,
                 site: str, source: str, actor: str, progress: Progress | None = None) -> RunReport:
    """One upload of the dashboard through the CLI's functions: FHIR into the warehouse or a study
    (``target``, a study code, "" for the warehouse), or a CSV extract with its ``.toml`` mapping
    (warehouse only)."""
    if kind == "csv" and target:
        raise ValidationError("un extrait CSV va dans l'entrepôt / a CSV extract goes to the warehouse",
                              where="vers / into")
    if site and not target:
        raise ValidationError("le site va avec une étude / a site goes with a study", where="site")
    with open_trusted_party(settings) as tp:
        if target:
            return import_fhir_into_study(session, tp, paths, study=target, source=source, actor=actor,
                                          site=site, progress=progress)
        with open_warehouse(settings) as warehouse:
            if kind == "csv":
                mapping = next(p for p in paths if p.suffix == ".toml")
                return import_csv(warehouse, tp, mapping, source=source, actor=actor,
                                  folder=mapping.parent, progress=progress)
            return import_fhir(warehouse, tp, paths, source=source, actor=actor, progress=progress)


@dataclass(frozen=True)
class RunLine:
    """One warehouse connector run, counted as ``weshare import runs`` prints it."""

    finished_at: datetime
    connector: str
    source: str
    run_id: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int

    def __str__(self) -> str:
        return (f"{self.finished_at:%Y-%m-%d %H:%M} {self.connector:<9} {self.source:<30} run {self.run_id}: "
                f"read {self.read}, inserted {self.inserted}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}")


def last_runs(warehouse: Engine, last: int = 20) -> list[RunLine]:
    """The ``last`` runs stored in ``weshare.connector_run``, newest first (counts only)."""
    ensure_state(warehouse)
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.finished_at.desc()).limit(last)).all()
    out = []
    for r in rows:
        body = json.loads(r.report)
        out.append(RunLine(r.finished_at, r.connector, r.source, r.run_id, sum(body["read"].values()),
                           sum(body["inserted"].values()), sum(body["updated"].values()), body["unchanged"],
                           len(body["rejected"])))
    return out


@dataclass(frozen=True)
class LinkageRun:
    run_id: str
    source: str
    created_at: datetime
    awaiting: int  # pairs still awaiting a clerical decision


def linkage_runs(tp: TrustedParty) -> list[LinkageRun]:
    """The trusted party's linkage runs, newest first, with how many pairs await review (counts only)."""
    awaiting = (sa.select(links.c.run_id, sa.func.count().label("n")).where(links.c.status == "review")
                .group_by(links.c.run_id).subquery())
    with session_scope(tp.engine) as s:
        rows = s.execute(sa.select(link_runs.c.run_id, link_runs.c.source, link_runs.c.created_at, awaiting.c.n)
                         .outerjoin(awaiting, awaiting.c.run_id == link_runs.c.run_id)
                         .order_by(link_runs.c.created_at.desc(), link_runs.c.run_id)).all()
    return [LinkageRun(r.run_id, r.source, r.created_at, int(r.n or 0)) for r in rows]
