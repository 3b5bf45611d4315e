"""What a project may read from the warehouse, and nothing else.

Only the project's approved studies and variables; people in project-domain pseudonyms issued by
the trusted party (which withholds everyone who opposed reuse); never a warehouse person id. Each
extract is audited with the project and the user, before the rows are released.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from secure_bubble.gateway.pseudonyms import ProjectPseudonyms
from secure_bubble.gateway.withdrawals import WithdrawalSync
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
# Participant and study point into their few distinct values; the labels travel as they are
# (encoding them costs more than the bytes it saves on a local network).
SCHEMA = pa.schema([("participant", pa.dictionary(pa.int32(), pa.string())),
                    ("study", pa.dictionary(pa.int16(), pa.string())), ("event", pa.string()),
                    ("date", pa.date32()), ("variable", pa.string()), ("value", pa.float64()),
                    ("text", pa.string())])
_BY_ID = pa.schema([("person_id", pa.int64()), ("event", pa.string()), ("date", pa.date32()),
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


def _members(study: str) -> tuple[sa.Select, ...]:  # type: ignore[type-arg]
    """The study's people: whoever it deposited a sitting, a diagnosis or an arm for."""
    return (sa.select(SURVEY.c.person_id).where(SURVEY.c.survey_source_identifier == study),
            sa.select(CONDITION.c.person_id).where(CONDITION.c.condition_source_value.like(f"{study}:%")),
            sa.select(OBS.c.person_id).where(OBS.c.observation_source_value == f"{study}:arm"[:50]))


def extract_statements(study: str, patterns: list[str], *,  # type: ignore[type-arg]
                       by_person_id: bool = False) -> list[tuple[str, sa.Select]]:
    """The warehouse queries behind one study's part of an extract (also used by the benchmark).

    Every statement gives the same columns: code (the warehouse pseudonym), event, date, variable,
    value, text; with ``by_person_id`` the first is the warehouse's ``person_id`` instead (the
    gateway's own join to the released people needs no detour through the person table).
    """
    def who(person_id: sa.ColumnElement[int]) -> sa.ColumnElement[object]:
        return person_id.label("person_id") if by_person_id else PERSON.c.person_source_value.label("code")

    def via_person(stmt: sa.Select, person_id: sa.ColumnElement[int]) -> sa.Select:  # type: ignore[type-arg]
        return stmt if by_person_id else stmt.join(PERSON, PERSON.c.person_id == person_id)

    out = []
    no_text = sa.cast(sa.null(), sa.String).label("text")
    like = [p.replace("*", "%") for p in patterns if p not in PERSON_VARIABLES]  # names hold no % or _
    if like:
        out.append(("survey", via_person(sa.select(
            who(OBS.c.person_id), SURVEY.c.timing_source_value.label("event"),
            OBS.c.observation_date.label("date"), OBS.c.observation_source_value.label("variable"),
            OBS.c.value_as_number.label("value"), no_text)
            .join(SURVEY, SURVEY.c.survey_conduct_id == OBS.c.observation_event_id), OBS.c.person_id)
            .where(SURVEY.c.survey_source_identifier == study,
                   sa.or_(*[OBS.c.observation_source_value.like(p) for p in like]))))
    if "condition" in patterns:
        out.append(("condition", via_person(sa.select(
            who(CONDITION.c.person_id), sa.literal("").label("event"),
            CONDITION.c.condition_start_date.label("date"), sa.literal("condition").label("variable"),
            sa.cast(CONDITION.c.condition_concept_id, sa.Float).label("value"), no_text)
            .select_from(CONDITION), CONDITION.c.person_id)
            .where(CONDITION.c.condition_source_value.like(f"{study}:%"))))
    if "arm" in patterns:
        out.append(("arm", via_person(sa.select(
            who(OBS.c.person_id), sa.literal("").label("event"),
            OBS.c.observation_date.label("date"), sa.literal("arm").label("variable"),
            sa.cast(sa.null(), sa.Float).label("value"), OBS.c.value_as_string.label("text"))
            .select_from(OBS), OBS.c.person_id)
            .where(OBS.c.observation_source_value == f"{study}:arm"[:50])))
    if "demographics" in patterns:
        members = sa.union(*_members(study)).subquery("members")
        base = PERSON.join(members, members.c.person_id == PERSON.c.person_id)
        # The cohort API's labels for the same concepts (female/male, else other).
        sex = sa.case({v: k for k, v in SEXES.items()}, value=PERSON.c.gender_concept_id, else_="other")
        for variable, value, text in (("sex", sa.cast(sa.null(), sa.Float), sex),
                                      ("birth_year", sa.cast(PERSON.c.year_of_birth, sa.Float), None)):
            out.append((variable, sa.select(
                who(PERSON.c.person_id), sa.literal("").label("event"),
                sa.cast(sa.null(), sa.Date).label("date"), sa.literal(variable).label("variable"),
                value.label("value"), (text if text is not None else sa.cast(sa.null(), sa.String)).label("text"))
                .select_from(base)))
    return out


def fetch_arrow(conn: sa.Connection, stmt: sa.Select) -> pa.Table:  # type: ignore[type-arg]
    """Rows as Arrow: DuckDB hands them over natively; other engines go through pandas."""
    if conn.dialect.name == "duckdb":
        sql, params = _duckdb_sql(conn, stmt)
        return native_duckdb(conn).sql(sql, params=params).to_arrow_table()
    frame, _sql = fetch_frame(conn, stmt)
    frame["date"] = pd.to_datetime(frame["date"])
    return pa.Table.from_pandas(frame, preserve_index=False)


def _duckdb_sql(conn: sa.Connection, stmt: sa.Select) -> tuple[str, list[object]]:  # type: ignore[type-arg]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), [compiled.params[name] for name in compiled.positiontup or []]


def _people(conn: sa.Connection, studies: list[str]) -> list[tuple[int, str]]:
    """(person_id, warehouse pseudonym) of the studies' people: whom the extract may speak of."""
    members = sa.union_all(*[part for study in studies for part in _members(study)])
    stmt = (sa.select(PERSON.c.person_id, PERSON.c.person_source_value)
            .where(PERSON.c.person_id.in_(members), PERSON.c.person_source_value.is_not(None)))
    if conn.dialect.name == "duckdb":
        sql, params = _duckdb_sql(conn, stmt)
        return native_duckdb(conn).sql(sql, params=params).fetchall()  # type: ignore[no-any-return]
    return [(int(pid), str(code)) for pid, code in conn.execute(stmt).all()]


def _rows_duckdb(conn: sa.Connection, statements: list[tuple[str, sa.Select]],  # type: ignore[type-arg]
                 released: pa.Table) -> list[tuple[str, pa.Table]]:
    """Each statement joined, inside DuckDB, to the released people: a person's rows come back
    with the position of their project pseudonym, and withheld people's rows never leave the engine."""
    raw = native_duckdb(conn)
    name = f"gateway_people_{secrets.token_hex(8)}"
    raw.register(name, released)
    try:
        out = []
        for study, stmt in statements:
            sql, params = _duckdb_sql(conn, stmt)
            out.append((study, raw.sql(
                f"SELECT p.slot AS participant, CAST(q.event AS VARCHAR) AS event, q.date, q.variable, "
                f"CAST(q.value AS DOUBLE) AS value, q.text FROM ({sql}) q JOIN {name} p ON p.person_id = q.person_id",
                params=params).to_arrow_table()))
        return out
    finally:
        raw.unregister(name)


def _rows_portable(conn: sa.Connection, statements: list[tuple[str, sa.Select]],  # type: ignore[type-arg]
                   released: pa.Table) -> list[tuple[str, pa.Table]]:
    """The same on any other engine: rows fetched, then withheld people's rows dropped here."""
    out = []
    for study, stmt in statements:
        part = fetch_arrow(conn, stmt).select(_BY_ID.names).cast(_BY_ID)
        where = pc.index_in(part["person_id"], value_set=released["person_id"])
        slot = released["slot"].take(where)
        part = part.drop_columns(["person_id"]).add_column(0, "participant", slot).filter(pc.is_valid(where))
        out.append((study, part))
    return out


def extract(session: Session, tp: TrustedParty, warehouse: sa.Engine, project_code: str, username: str,
            variables: list[str], *, pseudonyms: ProjectPseudonyms | None = None,
            withdrawals: WithdrawalSync | None = None) -> pa.Table:
    """Long table (participant, study, event, date, variable, value, text) of approved data only.

    ``text`` holds what is not a number (sex, arm); questionnaire answers and scores are values.

    The studies' people are translated into project pseudonyms first (once, by the trusted party,
    or from ``pseudonyms`` while the trusted party is unchanged); only those released are joined
    to the rows, so withheld people's rows are never fetched. Withdrawals recorded in the studies
    since their deposit are passed on to the trusted party first (``withdrawals``, or a fresh
    ``WithdrawalSync``). ``participant`` and ``study`` point
    into their few distinct values (Arrow dictionaries); the labels travel as they come.
    """
    project = approved_project(session, project_code, username)
    wanted = _allowed(project, variables)
    names = sorted(wanted)
    (withdrawals or WithdrawalSync()).sync(session, tp, names)
    statements = [(study, stmt) for study in names
                  for _kind, stmt in extract_statements(study, wanted[study], by_person_id=True)]
    with warehouse.connect() as conn:
        people = _people(conn, names)
        codes = sorted({code for _pid, code in people})
        translation = (pseudonyms.translate(tp, codes, project.code, actor=username) if pseudonyms is not None
                       else tp.translate(codes, "warehouse", f"project:{project.code}", actor=username,
                                         reason=f"extract for {project.code}"))
        # Withheld people (opposed to reuse, or unknown) have no pseudonym and are not joined.
        given = {c: p for c, p in zip(codes, translation.pseudonyms, strict=True) if p is not None}
        slot_of = {code: i for i, code in enumerate(given)}
        joined = [(pid, slot_of[code]) for pid, code in people if code in slot_of]
        released = pa.table({"person_id": pa.array([pid for pid, _s in joined], pa.int64()),
                             "slot": pa.array([slot for _p, slot in joined], pa.int32())})
        rows = (_rows_duckdb if conn.dialect.name == "duckdb" else _rows_portable)(conn, statements, released)
    dictionary = pa.array(list(given.values()), pa.string())
    study_names = pa.array(names, pa.string())
    batches, seen = [], np.zeros(len(dictionary), dtype=bool)
    for study, part in rows:
        slots = part["participant"].chunks
        for chunk in slots:
            seen[chunk.to_numpy(zero_copy_only=False)] = True
        batches.append(pa.table({
            "participant": pa.chunked_array([pa.DictionaryArray.from_arrays(c, dictionary) for c in slots],
                                            SCHEMA.field("participant").type),
            "study": pa.DictionaryArray.from_arrays(
                pa.array(np.full(part.num_rows, names.index(study), dtype=np.int16)), study_names),
            **{column: part[column] for column in ("event", "date", "variable", "value", "text")}},
            schema=SCHEMA))
    out = pa.concat_tables(batches) if batches else SCHEMA.empty_table()
    # people: distinct participants released; withheld: the studies' people left out for opposition.
    audit.record(session, actor=username, action="gateway.extract", object_type="project",
                 object_id=project.code, after={"variables": variables, "rows": out.num_rows,
                                                "people": int(seen.sum()), "withheld": translation.withheld_opposed})
    return out
