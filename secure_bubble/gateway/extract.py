"""What a project may read from the warehouse, and nothing else.

Only the project's approved studies and variables; people in project-domain pseudonyms issued by
the trusted party (which withholds everyone who opposed reuse); never a warehouse person id. Each
extract is audited with the project and the user before its first row is released, and again with
what was taken once it has gone (or broke off).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from secure_bubble.gateway.cohort import cohort_members
from secure_bubble.gateway.feed import Feed
from secure_bubble.gateway.pseudonyms import ProjectPseudonyms, Release
from secure_bubble.gateway.rows import fetch_arrow, released_batches, rows_schema, study_people
from secure_bubble.gateway.rows import members as study_members
from secure_bubble.gateway.withdrawals import WithdrawalSync
from workbench import audit
from workbench.accounts import get_user
from workbench.accounts.models import Role
from workbench.errors import PermissionDenied, ValidationError, WorkbenchError
from workbench.governance.models import Project
from workbench.trusted_party import TrustedParty
from workbench.warehouse.criteria import SEXES, Cohort
from workbench.warehouse.schema import metadata

__all__ = ["Extract", "approved_project", "extract", "extract_statements", "fetch_arrow", "open_extract"]

T = metadata.tables
PERSON, OBS, SURVEY, CONDITION = T["person"], T["observation"], T["survey_conduct"], T["condition_occurrence"]
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
        members = sa.union(*study_members(study)).subquery("members")
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


class Extract:
    """An approved extract on its way out, made by ``open_extract``: its audit entry written, its
    rows coming from the warehouse. ``batches`` gives them checked, with the project pseudonyms and
    study names as Arrow dictionaries; ``record_end`` audits what was handed on. Close it in the end."""

    def __init__(self, project: str, username: str, names: list[str], rows: pa.Schema, release: Release,
                 feed: Feed, connections: ExitStack) -> None:
        self.project, self.username = project, username
        self._release, self._feed, self._connections = release, feed, connections
        self._studies = pa.array(names, pa.string())
        # The feed's positions (``rows``) as dictionaries into the project pseudonyms and the studies.
        self.schema = rows
        for i, name in enumerate(("participant", "study")):
            self.schema = self.schema.set(i, rows.field(name).with_type(pa.dictionary(rows.field(name).type, pa.string())))
        self.rows = 0
        self._seen = np.zeros(len(release.pseudonyms), dtype=bool)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as they come. Counting the people released also checks every position (none
        negative or past the end), so the dictionaries are made without Arrow checking them again.
        ``rows`` and the people counted are those of the batches handed on (the taker came back)."""
        while (batch := self._feed.take()) is not None:
            participant, study = batch.column(0), batch.column(1)
            counts = np.bincount(participant.to_numpy(), minlength=len(self._seen))  # ValueError if negative
            if len(counts) != len(self._seen) or participant.null_count:
                raise ValueError("a participant position past the release")
            if len(study):
                low, high = (v.as_py() for v in pc.min_max(study).values())
                if study.null_count or low < 0 or high >= len(self._studies):
                    raise ValueError("a study position past the request")
            yield pa.record_batch([pa.DictionaryArray.from_arrays(participant, self._release.pseudonyms, safe=False),
                                   pa.DictionaryArray.from_arrays(study, self._studies, safe=False),
                                   *batch.columns[2:]], schema=self.schema)
            # Counted once the taker asks for more: it has handed this batch on.
            self._seen |= counts.astype(bool)
            self.rows += batch.num_rows

    def record_end(self, session: Session, *, complete: bool) -> None:
        """Audit what was handed on: rows, distinct people, and whether the whole extract went."""
        audit.record(session, actor=self.username, action="gateway.extract.end", object_type="project",
                     object_id=self.project, after={"rows": self.rows, "people": int(np.count_nonzero(self._seen)),
                                                    "complete": complete})

    def close(self) -> None:
        try:
            self._feed.close()
        finally:
            self._connections.close()

    def __enter__(self) -> Extract:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_extract(session: Session, tp: TrustedParty, warehouse: sa.Engine, project_code: str, username: str,
                 variables: list[str], *, cohort: Cohort | dict[str, Any] | None = None,
                 pseudonyms: ProjectPseudonyms | None = None,
                 withdrawals: WithdrawalSync | None = None) -> Extract:
    """Check and audit an extract and start its rows; the caller commits ``session`` before it
    takes the first batch, so the audit entry exists before any row leaves.

    ``session`` is committed once the approval is checked and the studies' withdrawals are passed
    on to the trusted party (``withdrawals``, or a fresh ``WithdrawalSync``): no transaction of the
    operational store stays open while the warehouse and the trusted party work (on SQLite it
    would hold the store's write lock, and extracts at once would wait on each other). Then the
    studies' people are translated into project pseudonyms (once, by the trusted party, or from
    ``pseudonyms`` while that still holds); only those released are joined to the rows, so withheld
    people's rows are never fetched. The audit entry names the variables, the studies, how many
    people were released and how many withheld for an opposition; ``Extract.record_end`` adds
    what was taken.

    With ``cohort`` (a ``Cohort``, or its JSON as ``Cohort.describe`` gives it) only the people
    meeting every criterion are joined to the rows (``secure_bubble.gateway.cohort``); the entry
    adds the definition and how many people it kept. A variable or a criterion refused is
    audited (``gateway.refused``) with its reason.
    """
    project = approved_project(session, project_code, username)
    try:
        wanted = _allowed(project, variables)
        asked = cohort if isinstance(cohort, Cohort) or cohort is None else Cohort.from_description(cohort)
    except WorkbenchError as exc:
        _refused(session, username, project.code, exc)
    names = sorted(wanted)
    request = tuple((study, tuple(wanted[study])) for study in names)
    (withdrawals or WithdrawalSync()).sync(session, tp, names)
    session.commit()
    kept = pseudonyms or ProjectPseudonyms()
    connections = ExitStack()
    feed: Feed | None = None
    try:
        conn = connections.enter_context(warehouse.connect())
        with warehouse.connect() as other:
            # The rows are begun for the release last made for these studies, if it still holds;
            # they are kept only if the studies' people, read meanwhile on another connection,
            # give that very release, and begun again for the release they give otherwise.
            guess = kept.latest(tp, project.code, names) if asked is None else None
            feed = Feed(released_batches(conn, request, _by_person_id, guess.people)) if guess else None
            people = study_people(other, names)
            try:
                members = (None if asked is None else
                           pa.array(other.execute(cohort_members(other, asked, names, project.approved)).scalars().all(),
                                    pa.int64()))
            except WorkbenchError as exc:
                _refused(session, username, project.code, exc)
        release = kept.release(tp, people, project.code, actor=username, studies=names)
        joined = release.people if members is None else release.people.filter(
            pc.is_in(release.people["person_id"], value_set=members))
        if feed is None or release is not guess:
            if feed is not None:
                feed.close()  # the connection is free again (its rows are dropped)
            feed = Feed(released_batches(conn, request, _by_person_id, joined))
        entry = {"variables": variables, "studies": names, "released": len(release.pseudonyms),
                 "withheld": release.withheld_opposed}
        if asked is not None:
            entry |= {"cohort": asked.describe(), "in_cohort": joined.num_rows}
        audit.record(session, actor=username, action="gateway.extract", object_type="project",
                     object_id=project.code, after=entry)
        return Extract(project.code, username, names, rows_schema(request, release.people), release, feed, connections)
    except BaseException:
        if feed is not None:
            feed.close()
        connections.close()
        raise


def _refused(session: Session, username: str, project: str, exc: WorkbenchError) -> NoReturn:
    audit.record(session, actor=username, action="gateway.refused", object_type="project",
                 object_id=project, reason=str(exc)[:500])
    raise exc


def extract(session: Session, tp: TrustedParty, warehouse: sa.Engine, project_code: str, username: str,
            variables: list[str], *, cohort: Cohort | dict[str, Any] | None = None,
            pseudonyms: ProjectPseudonyms | None = None, withdrawals: WithdrawalSync | None = None) -> pa.Table:
    """The whole extract as one table (participant, study, event, date, variable, value, text),
    both audit entries in the caller's transaction (``session`` is committed once on the way, as
    ``open_extract`` says): for use inside the trusted zone (tests, tools); the gateway streams
    ``open_extract``'s batches instead.

    ``text`` holds what is not a number (sex, arm); questionnaire answers and scores are values.
    """
    with open_extract(session, tp, warehouse, project_code, username, variables, cohort=cohort,
                      pseudonyms=pseudonyms, withdrawals=withdrawals) as opened:
        table = pa.Table.from_batches(list(opened.batches()), opened.schema)
        opened.record_end(session, complete=True)
    return table


def _by_person_id(study: str, patterns: list[str]) -> list[tuple[str, sa.Select]]:  # type: ignore[type-arg]
    return extract_statements(study, patterns, by_person_id=True)
