"""Analysis-ready QoL tables from the two data paths a research notebook has.

Inside a project server the only path is the warehouse gateway (``secure_bubble.client``), which
hands back a long extract of item answers in project pseudonyms; outside (the demo warehouse,
a developer's laptop) the notebook opens the warehouse itself and runs audited cohort queries.
Both end here in the same shape, so a template's analysis cells do not care where data came
from:

- ``scores``: one row per participant × time point, with ``date``, ``day`` and ``month`` since the
  participant's baseline assessment, ``visit_month`` (the time point's median month, for figures)
  and one column per scale (QL2, PF2, … for the QLQ-C30);
- ``people``: one row per participant with what the source knows (arm, gender, year of birth;
  through the gateway, only what the project asked for and was approved).

Time is counted from each participant's baseline assessment (the time origin of QoLR's TTD).
A participant without a baseline assessment keeps ``day`` blank and is counted in ``notes``;
nothing is imputed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from workbench.analysis.deterioration import DAYS_PER_MONTH
from workbench.deposit_scores import SCORE_CONCEPTS, VOCABULARY
from workbench.errors import NotFoundError, ValidationError
from workbench.instruments.scoring import score_frame
from workbench.warehouse import Cohort, CohortQuery, connect
from workbench.warehouse.vocabulary import resolve_codes

__all__ = ["CohortData", "from_extract", "from_warehouse", "gateway_variables", "open_warehouse", "ttd_scores"]

_ITEM = re.compile(r"^q\d+$")
# What a participant column needs from the gateway (each asked for by name, approved or refused).
_GROUP_VARIABLES = {"arm": "arm", "gender": "demographics", "year_of_birth": "demographics"}
_PERSON_ROWS = {"sex": ("text", "gender"), "birth_year": ("value", "year_of_birth"), "arm": ("text", "arm")}


@dataclass(frozen=True)
class CohortData:
    """Scores per participant and time point, who the participants are, and what was assumed."""

    scores: pd.DataFrame
    people: pd.DataFrame
    instrument: str
    scales: tuple[str, ...]
    events: tuple[str, ...]
    baseline_event: str
    source: str
    notes: tuple[str, ...]

    def table(self) -> pd.DataFrame:
        """Scores with the participant columns joined (``age`` at baseline when the birth year is known)."""
        out = self.scores.merge(self.people, on="participant", how="left")
        if "year_of_birth" in out.columns:
            first = out.groupby("participant")["baseline_date"].transform("first")
            out["age"] = pd.to_datetime(first).dt.year - pd.to_numeric(out["year_of_birth"])
        return out

    def summary(self) -> str:
        """A few lines for the notebook: source, counts, time points, assumptions."""
        lines = [f"source: {self.source}",
                 f"{self.people['participant'].nunique()} participants, {len(self.scores)} assessments"
                 f" of {self.instrument} ({', '.join(self.scales)})",
                 f"time points: {', '.join(self.events)} (baseline: {self.baseline_event})",
                 f"participant columns: {', '.join(c for c in self.people.columns if c != 'participant') or 'none'}"]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def open_warehouse(url: str) -> Engine:
    """The warehouse at ``url``; a DuckDB file that does not exist is refused (connecting would
    create an empty one and every query would then fail obscurely)."""
    if url.startswith("duckdb:///") and url != "duckdb:///:memory:":
        path = Path(url[len("duckdb:///"):])
        if not path.is_file():
            raise NotFoundError(f"no warehouse at {path}; build one with `weshare warehouse init` then"
                                " `weshare warehouse sample` (or `weshare deposit STUDY`), or set warehouse_url")
    return connect(url)


def from_warehouse(engine: Engine, *, instrument: str = "qlq-c30", actor: str = "researcher",
                   purpose: str = "research notebook", audit: Callable[[dict[str, Any]], None] | None = None,
                   baseline_event: str | None = None, scales: Sequence[str] | None = None,
                   records: list[dict[str, Any]] | None = None, cohort: Cohort | None = None) -> CohortData:
    """Everyone's scores (or ``cohort``'s people's only) from a warehouse opened directly (the demo
    warehouse), through audited cohort queries. Without ``audit`` the query records go to
    ``records`` (a list you keep)."""
    known = SCORE_CONCEPTS.get(instrument)
    if known is None:
        raise ValidationError(f"no warehouse scores for {instrument!r}; choose one of {', '.join(SCORE_CONCEPTS)}",
                              where="instrument")
    wanted = list(scales) if scales else list(known)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValidationError(f"unknown scale(s) {', '.join(unknown)}; {instrument} has {', '.join(known)}",
                              where="scales")
    sink = audit if audit is not None else (records if records is not None else []).append
    query = CohortQuery(engine, audit=sink, actor=actor, purpose=purpose)
    refs = {f"{VOCABULARY[instrument]}:{known[s]}": s for s in wanted}
    with engine.connect() as conn:
        ids = resolve_codes(conn, list(refs))
    by_id = {int(ids[ref]): scale for ref, scale in refs.items()}
    everyone = cohort if cohort is not None else Cohort("all_participants")
    people = query.participants(everyone, ("person_id", "person_source_value", "gender", "year_of_birth", "arm"))
    # Participants are named by their warehouse pseudonym (what the trusted party can translate to
    # link other sources, e.g. interview codes); a warehouse without them falls back to the row id.
    named = people["person_source_value"].notna().all() and people["person_source_value"].is_unique
    key = dict(zip(people["person_id"], people["person_source_value"] if named
                   else people["person_id"].astype(str), strict=True))
    people = people.assign(participant=people["person_id"].map(key)).drop(
        columns=["person_id", "person_source_value"])[["participant", "gender", "year_of_birth", "arm"]]
    long = query.scores(everyone, list(refs))
    long = pd.DataFrame({"participant": long["person_id"].map(key), "event": long["timepoint"].astype(str),
                         "date": pd.to_datetime(long["date"]),
                         "variable": long["concept_id"].map(by_id), "value": long["value"]})
    if people["arm"].isna().all():
        people = people.drop(columns="arm")
    url = engine.url.render_as_string(hide_password=True)
    return _finish(long, people, instrument, [s for s in wanted if s in set(long["variable"])],
                   baseline_event, f"warehouse {url} (cohort queries, audited)"
                   + (f", cohort {cohort.name}" if cohort is not None else ""))


def gateway_variables(instrument: str, group: str | None = None) -> list[str]:
    """What to ask the gateway for: the instrument, and the person variable ``group`` needs.

    A project approved without ``arm`` (or ``demographics``) is refused the whole extract by name,
    which says what to ask the committee for instead of silently analysing one group.
    """
    wanted = [f"{instrument}.*"]
    if group is not None and group in _GROUP_VARIABLES:
        wanted.append(_GROUP_VARIABLES[group])
    return wanted


def from_extract(extract: pd.DataFrame, *, instrument: str = "qlq-c30",
                 baseline_event: str | None = None) -> CohortData:
    """Scores from the gateway's long extract (participant, study, event, date, variable, value,
    text), with the person variables it holds (sex, birth_year, arm) as ``people`` columns.

    Item answers (``qlq-c30.q1`` …) are scored with the workbench's scorers (half rule);
    variables that already are scales (``qlq-c30.QL2``) are taken as they are.
    """
    need = ["participant", "event", "date", "variable", "value"]
    missing = [c for c in need if c not in extract.columns]
    if missing:
        raise ValidationError(f"column(s) {', '.join(missing)} not found in the extract", where="extract")
    prefix = f"{instrument}."
    mine = extract[extract["variable"].astype(str).str.startswith(prefix)].copy()
    if mine.empty:
        raise ValidationError(f"the extract holds no {instrument} variable; ask for '{instrument}.*'"
                              " in Warehouse.extract and check the project's approval", where="extract")
    mine["name"] = mine["variable"].str[len(prefix):]
    mine["participant"] = mine["participant"].astype(str)
    keys = ["participant", "event"]
    dates = mine.groupby(keys)["date"].min()
    items = mine[mine["name"].str.match(_ITEM)]
    parts = []
    scales: list[str] = []
    if not items.empty:
        wide = items.pivot_table(index=keys, columns="name", values="value", aggfunc="first")
        wide.columns = [str(c) for c in wide.columns]
        scored = score_frame(instrument, wide.reset_index(), where="gateway extract", absent_items_blank=True)
        scales = [c for c in scored.columns if c not in wide.columns and c not in keys]
        scored = scored[[*keys, *scales]]
        parts.append(scored.melt(id_vars=keys, var_name="variable", value_name="value"))
    given = mine[~mine["name"].str.match(_ITEM)]
    if not given.empty:
        parts.append(given[[*keys, "value"]].assign(variable=given["name"]))
        scales += [s for s in pd.unique(given["name"]) if s not in scales]
    long = pd.concat(parts, ignore_index=True)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long = long.dropna(subset=["value"])
    long["date"] = pd.to_datetime(long.set_index(keys).index.map(dates))
    columns = ["participant", "study"] if "study" in extract.columns else ["participant"]
    people = extract[columns].drop_duplicates("participant").astype(str)
    for variable, (field, column) in _PERSON_ROWS.items():
        rows = extract[extract["variable"] == variable] if field in extract.columns else extract.iloc[:0]
        if not rows.empty:  # one value per participant (the first study's, if several)
            first = rows.assign(participant=rows["participant"].astype(str)).drop_duplicates("participant")
            people[column] = people["participant"].map(first.set_index("participant")[field])
    if "year_of_birth" in people.columns:
        people["year_of_birth"] = people["year_of_birth"].astype("Int64")
    return _finish(long, people, instrument, scales, baseline_event, "warehouse gateway (project extract)")


def _finish(long: pd.DataFrame, people: pd.DataFrame, instrument: str, scales: Sequence[str],
            baseline_event: str | None, source: str) -> CohortData:
    """Long scores → one row per participant × event, with time since the baseline assessment."""
    if long.empty:
        raise ValidationError(f"no {instrument} scores found; check that the warehouse holds this"
                              " instrument's scores (weshare deposit scores instruments deposited whole)",
                              where=source)
    notes: list[str] = []
    keys = ["participant", "event"]
    twice = long.duplicated([*keys, "variable"])
    if twice.any():
        notes.append(f"{int(twice.sum())} repeated score(s) at the same time point were left out"
                     " (the earliest assessment is kept)")
        long = long.sort_values("date", kind="stable").drop_duplicates([*keys, "variable"])
    wide = long.pivot_table(index=keys, columns="variable", values="value", aggfunc="first")
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    wide["date"] = pd.to_datetime(wide.set_index(keys).index.map(long.groupby(keys)["date"].min()))
    events = _event_order(wide)
    if baseline_event is None:
        first = wide.sort_values("date", kind="stable").drop_duplicates("participant")["event"]
        counts = first.value_counts()
        baseline_event = str(counts.index[0])
        notes.append(f"baseline time point taken as {baseline_event!r}, the first assessment of"
                     f" {int(counts.iloc[0])} of {wide['participant'].nunique()} participants;"
                     " set baseline_event to choose another")
    elif baseline_event not in events:
        raise ValidationError(f"no assessment at time point {baseline_event!r}; the data have"
                              f" {', '.join(events)}", where="baseline_event")
    origin = wide[wide["event"] == baseline_event].set_index("participant")["date"]
    wide["baseline_date"] = wide["participant"].map(origin)
    wide["day"] = (wide["date"] - wide["baseline_date"]).dt.days.astype("float64")
    wide["month"] = wide["day"] / DAYS_PER_MONTH
    # The nominal time of each time point (median over participants): the x axis of figures.
    wide["visit_month"] = wide["event"].map(wide.groupby("event")["month"].median()).astype("float64")
    without = int(wide.loc[wide["baseline_date"].isna(), "participant"].nunique())
    if without:
        notes.append(f"{without} participant(s) have no {baseline_event} assessment: their time since"
                     " baseline is blank (they count as 'no baseline' in time to deterioration)")
    early = wide["day"] < 0
    if early.any():
        notes.append(f"{int(early.sum())} assessment(s) are dated before the participant's baseline"
                     " assessment (negative day); check the dates before a time-based analysis")
    wide["event"] = pd.Categorical(wide["event"], categories=events, ordered=True)
    wide = wide.sort_values(["participant", "event"]).reset_index(drop=True)
    ordered = [s for s in scales if s in wide.columns]
    wide = wide[["participant", "event", "date", "baseline_date", "day", "month", "visit_month", *ordered]]
    people = people[people["participant"].isin(set(wide["participant"]))].reset_index(drop=True)
    return CohortData(wide, people, instrument, tuple(ordered), tuple(events), baseline_event,
                      source, tuple(notes))


def _event_order(wide: pd.DataFrame) -> list[str]:
    """Time points in the order they happen: by median days since each participant's first sitting."""
    start = wide.groupby("participant")["date"].transform("min")
    offset = (wide["date"] - start).dt.days
    return [str(e) for e in offset.groupby(wide["event"]).median().sort_values(kind="stable").index]


def ttd_scores(data: CohortData, scale: str, *, keep: Sequence[str] = ()) -> pd.DataFrame:
    """The score table ``time_to_deterioration`` expects (subject, day, score, kept columns).

    Participants without a baseline assessment get a single blank row at day 0, so the rule's
    ``no_baseline`` option decides what happens to them (censored at day 0 by default, as QoLR).
    """
    if scale not in data.scales:
        raise ValidationError(f"no scale {scale!r}; the data have {', '.join(data.scales)}", where="scale")
    table = data.table()
    missing = [c for c in keep if c not in table.columns]
    if missing:
        raise ValidationError(f"column(s) {', '.join(missing)} not found; the data have"
                              f" {', '.join(data.people.columns)}", where="keep")
    dated = table[table["day"].notna()]
    orphans = table[table["day"].isna()].drop_duplicates("participant").assign(day=0.0, **{scale: np.nan})
    orphans = orphans[~orphans["participant"].isin(set(dated["participant"]))]
    both = pd.concat([dated, orphans], ignore_index=True)
    out = both[["participant", "day", scale, *keep]].rename(columns={"participant": "subject", scale: "score"})
    return out.reset_index(drop=True)
