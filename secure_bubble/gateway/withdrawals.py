"""Withdrawals recorded in a study after its deposit reach the warehouse before the next extract.

A participant who withdraws their data (or opposes reuse) in a study after it was deposited is
flagged in the operational store only (``workbench.consent.withdrawal``); the trusted party, whose
opposition flag is what withholds a person from every project, did not hear of it, so the gateway
kept serving their deposited rows. Before each extract the gateway now reads the flags of the
requested studies' participants and records, once each, the opposition in the trusted party
(audited there, so kept translations are dropped). The check is one query on the operational
store; the trusted party is asked only about participants not already passed on by this process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.participants.models import Participant
from workbench.studies.models import Study
from workbench.trusted_party import TrustedParty

__all__ = ["GATEWAY_ACTOR", "WithdrawalSync"]

GATEWAY_ACTOR = "warehouse-gateway"


class WithdrawalSync:
    """Passes study withdrawals on to the trusted party; remembers which it already passed on."""

    def __init__(self) -> None:
        self._passed: set[tuple[str, str]] = set()  # (study, study pseudonym)
        self._lock = threading.Lock()

    def sync(self, session: Session, tp: TrustedParty, studies: Sequence[str]) -> int:
        """Oppositions newly recorded in the trusted party for ``studies``' withdrawn participants."""
        flagged = session.execute(
            sa.select(Study.code, Participant.pseudonym)
            .join(Study, Study.id == Participant.study_id)
            .where(Study.code.in_(list(studies)),
                   sa.or_(Participant.reuse_opposed.is_(True), Participant.data_use_stopped.is_(True)))
        ).all()
        with self._lock:
            todo: dict[str, list[str]] = {}
            for study, pseudonym in flagged:
                if (study, pseudonym) not in self._passed:
                    todo.setdefault(study, []).append(pseudonym)
        recorded = 0
        for study, pseudonyms in sorted(todo.items()):
            translation = tp.translate(pseudonyms, f"study:{study}", "warehouse", actor=GATEWAY_ACTOR,
                                       reason=f"withdrawals recorded in {study}")
            for code in translation.pseudonyms:
                if code is not None:  # None: never deposited, or already withheld
                    tp.set_opposition(code, "warehouse", opposed=True, actor=GATEWAY_ACTOR,
                                      reason=f"withdrawal or opposition recorded in {study}")
                    recorded += 1
            with self._lock:
                self._passed.update((study, p) for p in pseudonyms)
        return recorded
