"""Glue from the coding widgets to the qualitative workspace: one transaction per action.

The engine is opened (and the schema checked) once per dashboard, not per click, so applying a
code costs one short transaction. Each coder's action commits on its own: two coders working at
the same time each write their own rows and see the other's on their next reload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from workbench.qualitative import workspace
from workbench.qualitative.codebook import Codebook
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.transcripts import Transcript
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = ["StoreBackend"]

T = TypeVar("T")


class StoreBackend:
    """Everything a coding dashboard does for ``viewer``, each call one transaction."""

    def __init__(self, settings: Settings, viewer: str) -> None:
        self.viewer = viewer
        self._engine = open_operational(settings)
        self._books: dict[int, Codebook] = {}  # the codebook each opened transcript is coded with

    def run(self, work: Callable[[Session], T]) -> T:
        with session_scope(self._engine) as session:
            return work(session)

    def close(self) -> None:
        self._engine.dispose()

    # -- choosing what to code ------------------------------------------------------------------
    def studies(self) -> list[tuple[str, str, str]]:
        return self.run(lambda s: workspace.coding_studies(s, self.viewer))

    def documents(self, study_code: str) -> list[workspace.DocumentRow]:
        return self.run(lambda s: workspace.study_documents(s, study_code, viewer=self.viewer))

    def open(self, version_id: int) -> tuple[str, Transcript, Codebook]:
        study, transcript, book = self.run(lambda s: workspace.open_document(s, version_id, viewer=self.viewer))
        self._books[version_id] = book
        return study, transcript, book

    # -- the widget's backend protocol ------------------------------------------------------------
    def codings(self, version_id: int, *, blind: bool) -> list[dict[str, Any]]:
        return self.run(lambda s: workspace.coding_rows(s, version_id, viewer=self.viewer, blind=blind))

    def apply(self, version_id: int, codes: Sequence[str], start: int, end: int, *,
              as_consensus: bool) -> list[int]:
        def work(s: Session) -> list[int]:
            rows = workspace.apply_codes(s, version_id, viewer=self.viewer, codes=codes, start=start,
                                         end=end, as_consensus=as_consensus,
                                         codebook=self._books.get(version_id))
            return [r.id for r in rows]

        return self.run(work)

    def remove(self, ids: Sequence[int], *, as_consensus: bool) -> None:
        self.run(lambda s: workspace.remove_codings(s, ids, viewer=self.viewer, as_consensus=as_consensus))

    def restore(self, ids: Sequence[int], *, as_consensus: bool) -> None:
        self.run(lambda s: workspace.restore_codings(s, ids, viewer=self.viewer, as_consensus=as_consensus))

    def memo(self, coding_id: int, memo: str, *, as_consensus: bool) -> str:
        return self.run(lambda s: workspace.set_memo(s, coding_id, memo, viewer=self.viewer,
                                                     as_consensus=as_consensus))

    # -- the lead's panels --------------------------------------------------------------------------
    def round(self, study_code: str) -> workspace.CodingRound:
        return self.run(lambda s: workspace.study_round(s, study_code, viewer=self.viewer))

    def save_consensus(self, study_code: str, proposals: Sequence[CodedSegment]) -> int:
        return self.run(lambda s: workspace.save_consensus(s, study_code, proposals, viewer=self.viewer))
