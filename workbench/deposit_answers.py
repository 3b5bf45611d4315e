"""Reading a study's questionnaire answers out of the operational store for a deposit.

Answers are stored as one JSON object per response. Exploding them row by row in the store
(SQLite ``json_each``, fetched one row at a time through the driver) dominated the deposit: the
store is asked for the raw JSON of each response only (one row per sitting), and an in-memory
DuckDB explodes it with its vectorised JSON reader into Arrow columns. Same values as the store's
own functions: text unquoted, numbers as written, ``true``/``false`` as 1/0 (how SQLite and the
``yesno`` items store them), nested objects (``_scores``) as JSON text.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = ["study_answers"]

_EXPLODE = """
SELECT r.response_id, r.instrument, j.key AS item,
       CASE j.type WHEN 'VARCHAR' THEN json_extract_string(j.value, '$')
                   WHEN 'BOOLEAN' THEN CASE WHEN j.value::VARCHAR = 'true' THEN '1' ELSE '0' END
                   WHEN 'NULL' THEN NULL
                   ELSE j.value::VARCHAR END AS value
FROM raw r, json_each(r.answers) j
"""
_WITH_NUMBER = "SELECT *, TRY_CAST(value AS DOUBLE) AS number FROM (" + _EXPLODE + ")"


def study_answers(session: Session, study_id: int) -> pd.DataFrame:
    """Every answer of the study: response_id, instrument, item, value (text or None) and
    number (the value as a float, NaN when it is not a number)."""
    rows = session.execute(sa.text(
        "SELECT r.id, r.instrument_id, CAST(r.answers AS TEXT) FROM responses r "
        "JOIN participants p ON p.id = r.participant_id WHERE p.study_id = :study"), {"study": study_id}).all()
    ids, instruments, texts = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    raw = pa.table({"response_id": pa.array(ids, pa.int64()), "instrument": pa.array(instruments, pa.string()),
                    "answers": pa.array(texts, pa.string())})
    with duckdb.connect() as con:
        con.register("raw", raw)
        return con.sql(_WITH_NUMBER).to_arrow_table().to_pandas()
