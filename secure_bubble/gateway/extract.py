"""What a project may read from the warehouse, and nothing else.

Only the project's approved studies and variables; people in project-domain pseudonyms issued by
the trusted party (which withholds everyone who opposed reuse); never a warehouse person id. Each
extract is audited with the project and the user, before the rows are released.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts import get_user
from workbench.accounts.models import Role
from workbench.errors import PermissionDenied, ValidationError
from workbench.governance.models import Project
from workbench.trusted_party import TrustedParty
from workbench.warehouse.schema import metadata

__all__ = ["approved_project", "extract"]

T = metadata.tables
PERSON, OBS, SURVEY, CONDITION = T["person"], T["observation"], T["survey_conduct"], T["condition_occurrence"]
SCHEMA = pa.schema([("participant", pa.string()), ("study", pa.string()), ("event", pa.string()),
                    ("date", pa.date32()), ("variable", pa.string()), ("value", pa.float64())])


def approved_project(session: Session, project_code: str, username: str, *, now: datetime | None = None) -> Project:
    """The project, if it is active and this user is one of its researchers; refusals are audited."""
    project = session.execute(sa.select(Project).where(Project.code == project_code)).scalar_one_or_none()
    at = now or datetime.now(UTC)
    reason = None
    if project is None:
        reason = "unknown project"
    elif project.status != "active" or project.expires_at <= at:
        reason = f"project is {project.status if project.status != 'active' else 'expired'}"
    else:
        user = get_user(session, username)
        member = any(a.role == Role.RESEARCHER and a.scope_type == "project" and a.scope_id == project.code
                     for a in user.roles)
        if not member:
            reason = "not a researcher of this project"
    if reason is not None:
        audit.record(session, actor=username, action="gateway.refused", object_type="project",
                     object_id=project_code, reason=reason)
        raise PermissionDenied(f"no access to project {project_code}: {reason}")
    assert project is not None
    return project


_VARIABLE = re.compile(r"^(condition|[a-z0-9][a-z0-9-]{0,31}\.(\*|[A-Za-z0-9]{1,32}))$")


def _allowed(project: Project, variables: list[str]) -> dict[str, list[str]]:
    """Requested variables per approved study; anything not approved is refused by name.

    A request may be narrower than the approval (``qlq-c30.q1`` under ``qlq-c30.*``), never broader.
    """
    if not variables:
        raise ValidationError("name at least one variable", where="variables")
    out: dict[str, list[str]] = {}
    for variable in variables:
        if not isinstance(variable, str) or not _VARIABLE.match(variable):
            raise ValidationError(f"{variable!r} is not a variable name (e.g. qlq-c30.* or phq-9.q9)",
                                  where="variables")
        studies = [s for s, approved in project.approved.items()
                   if any(fnmatch.fnmatchcase(variable, a) for a in approved)]
        if not studies:
            raise PermissionDenied(f"variable {variable!r} is not approved for project {project.code}")
        for study in studies:
            out.setdefault(study, []).append(variable)
    return out


def extract(session: Session, tp: TrustedParty, warehouse: sa.Engine, project_code: str, username: str,
            variables: list[str]) -> pa.Table:
    """Long table (participant, study, event, date, variable, value) of approved data only."""
    project = approved_project(session, project_code, username)
    wanted = _allowed(project, variables)
    rows: list[tuple[str, str, str, object, str, float]] = []
    with warehouse.connect() as conn:
        for study, patterns in wanted.items():
            like = [p.replace("*", "%") for p in patterns if p != "condition"]  # names hold no % or _
            if like:
                stmt = (sa.select(PERSON.c.person_source_value, SURVEY.c.timing_source_value,
                                  OBS.c.observation_date, OBS.c.observation_source_value, OBS.c.value_as_number)
                        .join(SURVEY, SURVEY.c.survey_conduct_id == OBS.c.observation_event_id)
                        .join(PERSON, PERSON.c.person_id == OBS.c.person_id)
                        .where(SURVEY.c.survey_source_identifier == study,
                               sa.or_(*[OBS.c.observation_source_value.like(p) for p in like])))
                rows += [(p, study, e, d, v, float(x)) for p, e, d, v, x in conn.execute(stmt)]
            if "condition" in patterns:
                stmt = (sa.select(PERSON.c.person_source_value, CONDITION.c.condition_start_date,
                                  CONDITION.c.condition_concept_id)
                        .join(PERSON, PERSON.c.person_id == CONDITION.c.person_id)
                        .where(CONDITION.c.condition_source_value.like(f"{study}:%")))
                rows += [(p, study, "", d, "condition", float(c)) for p, d, c in conn.execute(stmt)]
    codes = sorted({r[0] for r in rows})
    translation = tp.translate(codes, "warehouse", f"project:{project.code}", actor=username,
                               reason=f"extract for {project.code}")
    mapping = {c: t for c, t in zip(codes, translation.pseudonyms, strict=True) if t is not None}
    kept = [(mapping[r[0]], *r[1:]) for r in rows if r[0] in mapping]
    audit.record(session, actor=username, action="gateway.extract", object_type="project",
                 object_id=project.code, after={"variables": variables, "rows": len(kept),
                                                "people": len(mapping), "withheld": translation.withheld_opposed})
    if not kept:
        return SCHEMA.empty_table()
    columns = list(zip(*kept, strict=True))
    return pa.table([pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA)


