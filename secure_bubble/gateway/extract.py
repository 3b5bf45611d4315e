"""What a project may read from the warehouse, and nothing else.

Only the project's approved studies and variables; people in project-domain pseudonyms issued by
the trusted party (which withholds everyone who opposed reuse); never a warehouse person id. Each
extract is audited with the project and the user, before the rows are released.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts import get_user
from workbench.accounts.models import Role
from workbench.errors import PermissionDenied, ValidationError
from workbench.governance.models import Project
from workbench.trusted_party import TrustedParty
from workbench.warehouse.criteria import SEXES
from workbench.warehouse.engine import fetch_frame, native_duckdb
from workbench.warehouse.schema import metadata

__all__ = ["approved_project", "extract", "extract_statements", "fetch_arrow"]

T = metadata.tables
PERSON, OBS, SURVEY, CONDITION = T["person"], T["observation"], T["survey_conduct"], T["condition_occurrence"]
_TEXT = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema([("participant", _TEXT), ("study", _TEXT), ("event", _TEXT), ("date", pa.date32()),
                    ("variable", _TEXT), ("value", pa.float64()), ("text", _TEXT)])
_COLUMNS = pa.schema([("code", pa.string()), ("event", pa.string()), ("date", pa.date32()),
                      ("variable", pa.string()), ("value", pa.float64()), ("text", pa.string())])
# Variables about the person rather than a questionnaire, each asked for (and approved) by name:
# ``demographics`` gives sex and birth year, ``arm`` the randomised arm deposited by the study.
PERSON_VARIABLES = ("condition", "demographics", "arm")


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


_VARIABLE = re.compile(r"^(condition|demographics|arm|[a-z0-9][a-z0-9-]{0,31}\.(\*|[A-Za-z0-9]{1,32}))$")


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


def extract_statements(study: str, patterns: list[str]) -> list[tuple[str, sa.Select]]:  # type: ignore[type-arg]
    """The warehouse queries behind one study's part of an extract (also used by the benchmark).

    Every statement gives the same columns: code, event, date, variable, value, text.
    """
    out = []
    no_text = sa.cast(sa.null(), sa.String).label("text")
    like = [p.replace("*", "%") for p in patterns if p not in PERSON_VARIABLES]  # names hold no % or _
    if like:
        out.append(("survey", sa.select(
            PERSON.c.person_source_value.label("code"), SURVEY.c.timing_source_value.label("event"),
            OBS.c.observation_date.label("date"), OBS.c.observation_source_value.label("variable"),
            OBS.c.value_as_number.label("value"), no_text)
            .join(SURVEY, SURVEY.c.survey_conduct_id == OBS.c.observation_event_id)
            .join(PERSON, PERSON.c.person_id == OBS.c.person_id)
            .where(SURVEY.c.survey_source_identifier == study,
                   sa.or_(*[OBS.c.observation_source_value.like(p) for p in like]))))
    if "condition" in patterns:
        out.append(("condition", sa.select(
            PERSON.c.person_source_value.label("code"), sa.literal("").label("event"),
            CONDITION.c.condition_start_date.label("date"), sa.literal("condition").label("variable"),
            sa.cast(CONDITION.c.condition_concept_id, sa.Float).label("value"), no_text)
            .join(PERSON, PERSON.c.person_id == CONDITION.c.person_id)
            .where(CONDITION.c.condition_source_value.like(f"{study}:%"))))
    arm_of_study = OBS.c.observation_source_value == f"{study}:arm"[:50]
    if "arm" in patterns:
        out.append(("arm", sa.select(
            PERSON.c.person_source_value.label("code"), sa.literal("").label("event"),
            OBS.c.observation_date.label("date"), sa.literal("arm").label("variable"),
            sa.cast(sa.null(), sa.Float).label("value"), OBS.c.value_as_string.label("text"))
            .join(PERSON, PERSON.c.person_id == OBS.c.person_id).where(arm_of_study)))
    if "demographics" in patterns:
        # The study's people: whoever it deposited a sitting, a diagnosis or an arm for.
        members = sa.union(
            sa.select(SURVEY.c.person_id).where(SURVEY.c.survey_source_identifier == study),
            sa.select(CONDITION.c.person_id).where(CONDITION.c.condition_source_value.like(f"{study}:%")),
            sa.select(OBS.c.person_id).where(arm_of_study)).subquery("members")
        base = PERSON.join(members, members.c.person_id == PERSON.c.person_id)
        # The cohort API's labels for the same concepts (female/male, else other).
        sex = sa.case({v: k for k, v in SEXES.items()}, value=PERSON.c.gender_concept_id, else_="other")
        for variable, value, text in (("sex", sa.cast(sa.null(), sa.Float), sex),
                                      ("birth_year", sa.cast(PERSON.c.year_of_birth, sa.Float), None)):
            out.append((variable, sa.select(
                PERSON.c.person_source_value.label("code"), sa.literal("").label("event"),
                sa.cast(sa.null(), sa.Date).label("date"), sa.literal(variable).label("variable"),
                value.label("value"), (text if text is not None else sa.cast(sa.null(), sa.String)).label("text"))
                .select_from(base)))
    return out


def fetch_arrow(conn: sa.Connection, stmt: sa.Select) -> pa.Table:  # type: ignore[type-arg]
    """Rows as Arrow: DuckDB hands them over natively; other engines go through pandas."""
    if conn.dialect.name == "duckdb":
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup or []]
        return native_duckdb(conn).sql(str(compiled), params=params).to_arrow_table()
    frame, _sql = fetch_frame(conn, stmt)
    frame["date"] = pd.to_datetime(frame["date"])
    return pa.Table.from_pandas(frame, preserve_index=False)


def _dictionary(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Repeated labels (time points, variable names, arms) sent once each, not once per row."""
    return pc.dictionary_encode(values) if values.num_chunks else pa.chunked_array([], _TEXT)


def extract(session: Session, tp: TrustedParty, warehouse: sa.Engine, project_code: str, username: str,
            variables: list[str]) -> pa.Table:
    """Long table (participant, study, event, date, variable, value, text) of approved data only.

    ``text`` holds what is not a number (sex, arm); questionnaire answers and scores are values.

    Stays columnar end to end: each distinct person is translated once by the trusted party and
    the rows point into that list of pseudonyms (an Arrow dictionary), so a million-row extract
    costs little more than the query itself and travels as a few bytes per row.
    """
    project = approved_project(session, project_code, username)
    wanted = _allowed(project, variables)
    parts, studies = [], []
    with warehouse.connect() as conn:
        for study, patterns in wanted.items():
            for _kind, stmt in extract_statements(study, patterns):
                parts.append(fetch_arrow(conn, stmt).select(_COLUMNS.names).cast(_COLUMNS))
                studies.append(study)
    data = pa.concat_tables(parts) if parts else _COLUMNS.empty_table()
    codes = pc.unique(data["code"]).drop_null()
    translation = tp.translate(codes.to_pylist(), "warehouse", f"project:{project.code}", actor=username,
                               reason=f"extract for {project.code}")
    pseudonyms = pa.array(translation.pseudonyms, pa.string())
    # Withheld people (opposed to reuse, or unknown) have no pseudonym: their rows are dropped.
    position = pc.index_in(data["code"], value_set=codes)
    keep = pc.is_valid(pseudonyms).take(position) if len(data) else pa.array([], pa.bool_())
    dictionary = pc.fill_null(pseudonyms, "")  # never pointed at once the rows are filtered
    participant = pa.chunked_array([pa.DictionaryArray.from_arrays(chunk, dictionary) for chunk in position.chunks],
                                   SCHEMA.field("participant").type)
    names = sorted(set(studies))
    study_names = pa.array(names, pa.string())
    which = pa.chunked_array([pa.DictionaryArray.from_arrays(
        pa.array(np.full(part.num_rows, names.index(st), dtype=np.int32)), study_names)
        for st, part in zip(studies, parts, strict=True)], SCHEMA.field("study").type)
    out = pa.table({"participant": participant, "study": which, "event": _dictionary(data["event"]),
                    "date": data["date"], "variable": _dictionary(data["variable"]), "value": data["value"],
                    "text": _dictionary(data["text"])}, schema=SCHEMA).filter(keep)
    audit.record(session, actor=username, action="gateway.extract", object_type="project",
                 object_id=project.code, after={"variables": variables, "rows": out.num_rows,
                                                "people": len(codes) - translation.unknown - translation.withheld_opposed,
                                                "withheld": translation.withheld_opposed})
    return out
