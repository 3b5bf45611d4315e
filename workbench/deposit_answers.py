"""Reading a study's questionnaire answers out of the operational store for a deposit.

Answers are stored as one JSON object per response. Exploding them row by row in the store
(SQLite ``json_each``, fetched one row at a time through the driver) dominated the deposit: the
store is asked for each response once (one row per sitting, its raw JSON as text) and an
in-memory DuckDB reads the JSON. Each instrument's selected sittings become one matrix (a row
per sitting, a column per item: one vectorised ``json_extract`` of all items per sitting), from
which numpy builds the observation rows and the scorers read their items, so no Python object
or pandas row per answer (2 M of them for 10,000 participants) is ever built. Same values as the
store's own functions: text unquoted, numbers as written, ``true``/``false`` as 1/0 (how SQLite
and the ``yesno`` items store them), nested objects (``_scores``) as JSON text.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from types import TracebackType

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from workbench.errors import ValidationError

__all__ = ["Sheet", "StudyAnswers", "study_answers"]


def _text(value: str, kind: str) -> str:
    """SQL turning a JSON ``value`` of type ``kind`` into the stored answer's text."""
    return (f"CASE {kind} WHEN 'VARCHAR' THEN json_extract_string({value}, '$') "
            f"WHEN 'BOOLEAN' THEN CASE WHEN {value}::VARCHAR = 'true' THEN '1' ELSE '0' END "
            f"WHEN 'NULL' THEN NULL ELSE {value}::VARCHAR END")


_VALUE = _text("j.value", "j.type")
_BLANK = " \t\n\r\f\v"
_EXPLODE = f"SELECT r.response_id, r.instrument, j.key AS item, {_VALUE} AS value FROM raw r, json_each(r.answers) j"
_WITH_NUMBER = "SELECT *, TRY_CAST(value AS DOUBLE) AS number FROM (" + _EXPLODE + ")"


class StudyAnswers:
    """A study's responses, held in an in-memory DuckDB for the time of one deposit.

    ``select`` fixes the sittings to deposit; ``sheet`` reads one instrument's answers of those
    sittings as a matrix (each JSON object read once, all its items in one vectorised call);
    ``observations`` turns the sheets into OMOP rows.
    """

    def __init__(self, responses: pa.Table) -> None:
        self._con = duckdb.connect()
        self._con.execute("SET preserve_insertion_order = false").fetchall()
        # DuckDB scans an Arrow table one record batch per thread: as one batch, every JSON
        # object of the study would be parsed by one thread. Zero-copy slices of 16,384 rows.
        self._con.register("raw", pa.Table.from_batches(responses.to_batches(max_chunksize=16_384),
                                                        schema=responses.schema))
        self._pairs: pd.DataFrame | None = None
        self._sheets: dict[str, Sheet] = {}
        self._first_sitting = self._sittings = 0

    @classmethod
    def read(cls, session: Session, study_id: int) -> StudyAnswers:
        """Every response of the study: id, participant, instrument, event, time and raw JSON."""
        # Plain DBAPI tuples (no Row objects); the id is an int, so it is written into the text.
        # The cyclic collector is paused meanwhile: the tuples hold no cycles, and its passes over
        # the 10^5–10^6 new objects cost more than the fetch.
        cursor = session.connection().connection.cursor()
        paused = gc.isenabled()
        gc.disable()
        try:
            cursor.execute("SELECT r.id, r.participant_id, r.instrument_id, r.event_code, r.submitted_at, "
                           "CAST(r.answers AS TEXT) FROM responses r JOIN participants p ON p.id = r.participant_id "
                           f"WHERE p.study_id = {int(study_id)}")
            rows = cursor.fetchall()
            columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(6)]
            del rows
        finally:
            cursor.close()
            if paused:
                gc.enable()
        return cls(pa.table({
            "response_id": pa.array(columns[0], pa.int64()), "pid": pa.array(columns[1], pa.int64()),
            "instrument": pa.array(columns[2], pa.string()), "event": pa.array(columns[3], pa.string()),
            "submitted_at": _timestamps(columns[4]), "answers": pa.array(columns[5], pa.string())}))

    def __enter__(self) -> StudyAnswers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def pairs(self) -> pd.DataFrame:
        """The distinct (instrument, item) pairs the study holds answers for."""
        if self._pairs is None:
            self._pairs = self._con.sql("SELECT DISTINCT instrument, unnest(json_keys(answers)) AS item FROM raw "
                                        "ORDER BY ALL").to_arrow_table().to_pandas()
        return self._pairs

    def long(self) -> pd.DataFrame:
        """Every answer: response_id, instrument, item, value (text or None), number (NaN if none)."""
        return self._con.sql(_WITH_NUMBER).to_arrow_table().to_pandas()

    def select(self, people: pa.Table, instruments: list[str], first_id: int) -> pa.Table:
        """The sittings to deposit: responses to ``instruments`` by ``people`` (pid → person_id),
        numbered from ``first_id`` in response order."""
        self._con.register("people", people)
        self._con.register("chosen", pa.table({"instrument": pa.array(instruments, pa.string())}))
        self._con.execute("""
            CREATE OR REPLACE TEMP TABLE sit AS
            SELECT (row_number() OVER (ORDER BY r.response_id) - 1 + ?)::BIGINT AS survey_conduct_id,
                   p.person_id::BIGINT AS person_id, r.response_id, r.instrument, r.event, r.submitted_at,
                   r.submitted_at::DATE AS day
            FROM raw r JOIN people p ON p.pid = r.pid WHERE r.instrument IN (SELECT instrument FROM chosen)
            """, [first_id]).fetchall()
        self._sheets.clear()
        sittings = self._con.sql("SELECT survey_conduct_id, person_id, instrument, event, submitted_at, day "
                                 "FROM sit ORDER BY survey_conduct_id").to_arrow_table()
        self._first_sitting, self._sittings = first_id, sittings.num_rows
        return sittings

    def sheet(self, instrument: str) -> Sheet:
        """The selected sittings of ``instrument`` as a matrix (``_`` items left out)."""
        if instrument in self._sheets:
            return self._sheets[instrument]
        pairs = self.pairs()
        items = sorted(pairs["item"][(pairs["instrument"] == instrument) & ~pairs["item"].str.startswith("_")])
        bad = [i for i in items if '"' in i or "\\" in i]
        if bad:
            raise ValidationError(f"item name {bad[0]!r} cannot be read", where=f"answers to {instrument}")
        params = {"paths": [f'$."{i}"' for i in items], "instrument": instrument}
        # One JSON read per sitting for all its items; the list cast is exact whenever every
        # present answer casts (numbers, numeric text, booleans): other sittings take the text way.
        number = f"TRY_CAST({_text('v', 'json_type(v)')} AS DOUBLE)"
        odd = f"({number} IS NULL OR isnan({number})) AND trim({_text('v', 'json_type(v)')}, '{_BLANK}') <> ''"
        query = f"""
            WITH one AS (
                SELECT s.survey_conduct_id, s.person_id, s.day, json_extract(r.answers, $paths::VARCHAR[]) AS j
                FROM sit s JOIN raw r ON r.response_id = s.response_id WHERE s.instrument = $instrument),
            two AS (SELECT *, TRY_CAST(j AS DOUBLE[]) AS fast FROM one)
            SELECT survey_conduct_id, person_id, day,
                   CASE WHEN list_count(fast) = list_count(j) THEN fast
                        ELSE list_transform(j, lambda v: {number}) END AS numbers,
                   CASE WHEN list_count(fast) = list_count(j) THEN false
                        ELSE coalesce(list_bool_or(list_transform(j, lambda v: {odd})), false) END AS odd
                   {{texts}}
            FROM two ORDER BY survey_conduct_id"""
        rows = self._con.sql(query.format(texts=""), params=params).to_arrow_table()
        text: np.ndarray | None = None
        if pc.any(rows["odd"]).as_py():  # a text answer: the scorer gets the text and names it
            texts = f", list_transform(j, lambda v: {_text('v', 'json_type(v)')}) AS texts"
            text = _matrix(self._con.sql(query.format(texts=texts), params=params).to_arrow_table()["texts"],
                           len(items), rows.num_rows).astype(object)
        sheet = Sheet(instrument, rows["survey_conduct_id"].to_numpy(), rows["person_id"].to_numpy(), rows["day"].to_numpy(),
                      items, _matrix(rows["numbers"], len(items), rows.num_rows), text)
        self._sheets[instrument] = sheet
        return sheet

    def observations(self, variables: dict[str, dict[str, int]], first_id: int, type_concept: int) -> pa.Table:
        """OMOP observation rows of the numeric answers to ``variables`` (instrument → item →
        concept), ids from ``first_id`` in sitting then item order, source value ``instrument.item``.

        Built from the sheets with numpy: the source values are a dictionary of the few variables.
        """
        sheets = [(self.sheet(instrument), wanted) for instrument, wanted in variables.items()]
        kept = [(sheet, wanted, [j for j, item in enumerate(sheet.items) if item in wanted])
                for sheet, wanted in sheets]
        kept = [(sheet, wanted, columns) for sheet, wanted, columns in kept if columns]
        # Sittings are numbered consecutively from the first, so a sitting's first row is a
        # running sum of row counts; what belongs to the sitting (person, date, event) is then
        # one repeat in sitting order, and only the answers themselves are placed row by row.
        n = self._sittings
        counts, person, day = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, "datetime64[D]")
        parts = []
        for sheet, _, columns in kept:
            values = sheet.numbers if len(columns) == len(sheet.items) else sheet.numbers[:, columns]
            mask = ~np.isnan(values)
            at, per_row = sheet.survey_conduct_id - self._first_sitting, np.count_nonzero(mask, axis=1)
            counts[at], person[at], day[at] = per_row, sheet.person_id, sheet.day
            parts.append((at, values, mask, per_row))
        starts = np.cumsum(counts) - counts
        size = int(counts.sum())
        value, code = np.empty(size), np.empty(size, np.int32)
        names: list[str] = []
        concepts: list[int] = []
        for (sheet, wanted, columns), (at, values, mask, per_row) in zip(kept, parts, strict=True):
            flat = np.flatnonzero(mask)  # row-major: sitting, then item
            before = np.cumsum(per_row) - per_row  # this sheet's answers before each of its sittings
            place = np.arange(len(flat)) + np.repeat(starts[at] - before, per_row)
            value[place] = values.ravel()[flat]
            code[place] = (flat % len(columns)).astype(np.int32) + len(names)
            names += [f"{sheet.instrument}.{sheet.items[j]}" for j in columns]
            concepts += [wanted[sheet.items[j]] for j in columns]
        return pa.table({
            "observation_id": np.arange(size, dtype=np.int64) + first_id,
            "person_id": np.repeat(person, counts),
            "observation_concept_id": np.array(concepts, np.int32)[code],
            "observation_date": pa.array(np.repeat(day, counts), pa.date32()),
            "value_as_number": value,
            "observation_event_id": np.repeat(np.arange(n, dtype=np.int64) + self._first_sitting, counts),
            "observation_source_value": pa.DictionaryArray.from_arrays(code, pa.array(names, pa.string())),
            "observation_type_concept_id": np.full(size, type_concept, np.int32)})


@dataclass(frozen=True)
class Sheet:
    """One instrument's sittings, one row each in sitting order, one column per item."""

    instrument: str
    survey_conduct_id: np.ndarray
    person_id: np.ndarray
    day: np.ndarray  # datetime64[D]
    items: list[str]
    numbers: np.ndarray  # float, NaN where the answer is not a number
    text: np.ndarray | None  # the answers as text, only when one is text that is not a number

    def frame(self) -> pd.DataFrame:
        """survey_conduct_id, person_id and the items: what the scorers read."""
        frame = pd.DataFrame(self.text if self.text is not None else self.numbers, columns=self.items)
        frame.insert(0, "survey_conduct_id", self.survey_conduct_id)
        frame.insert(1, "person_id", self.person_id)
        return frame


def _matrix(lists: pa.ChunkedArray, width: int, height: int) -> np.ndarray:
    """A column of equal-length lists as a (height, width) matrix, nulls as NaN or None."""
    flat = lists.combine_chunks().flatten() if height else pa.array([], lists.type.value_type)
    if len(flat) != width * height:
        raise ValidationError("answers are not JSON objects", where="responses.answers")
    return flat.to_numpy(zero_copy_only=False).reshape(height, width)


def _timestamps(values: list[object]) -> pa.Array:
    """Submission times as naive UTC timestamps (SQLite returns them as ISO text)."""
    if values and isinstance(values[0], str):
        try:
            return pa.array(values, pa.string()).cast(pa.timestamp("us"))
        except pa.ArrowInvalid as exc:
            raise ValidationError(f"unreadable submission time: {exc}", where="responses.submitted_at") from None
    return pa.array(values, pa.timestamp("us"))


def study_answers(session: Session, study_id: int) -> pd.DataFrame:
    """Every answer of the study: response_id, instrument, item, value (text or None) and
    number (the value as a float, NaN when it is not a number)."""
    with StudyAnswers.read(session, study_id) as answers:
        return answers.long()
