"""Invitation then reminders, once each, carrying a link that opens the participant's page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from workbench.consent import withdraw
from workbench.keys import load_or_create_key
from workbench.mail import OutboxMessage
from workbench.participants.models import Participant
from workbench.participants.reminders import queue_reminders
from workbench.participants.service import issue_access_token, participant_by_token
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

START = date(2026, 3, 2)


def _setup(engine: Engine) -> None:
    with session_scope(engine) as s:
        st = studies.create_study(s, "REM", "Reminders", actor="sm")
        studies.add_event(s, st, "W06", "Semaine 6", 42, actor="sm", window_before=3, window_after=10,
                          instruments=["phq-9", "gad-7"])
        studies.set_status(s, "REM", "active", actor="sm")
        s.add_all([Participant(study_id=st.id, pseudonym=f"P-REM0000{i}", inclusion_date=START,
                               language="fr" if i else "en") for i in range(3)])


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as s:
        return list(s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def test_invitation_then_reminders_each_once(engine: Engine, tmp_path: Path) -> None:
    _setup(engine)
    key = load_or_create_key(tmp_path / "secret.key")
    opens = START + timedelta(days=39)
    with session_scope(engine) as s:
        assert queue_reminders(s, key=key, public_url="http://w", today=opens - timedelta(days=1)) == 0
        assert queue_reminders(s, key=key, public_url="http://w", today=opens) == 3
        assert queue_reminders(s, key=key, public_url="http://w", today=opens) == 0  # re-run: nothing new
        assert queue_reminders(s, key=key, public_url="http://w", today=opens + timedelta(days=3)) == 3
        withdraw(s, s.get(Participant, 1), "questionnaires", reason="asked to stop", actor="sm")
        assert queue_reminders(s, key=key, public_url="http://w", today=opens + timedelta(days=6)) == 2
        assert queue_reminders(s, key=key, public_url="http://w", today=opens + timedelta(days=30)) == 0
    messages = _outbox(engine)
    assert [m.dedupe_key.split(":")[0] for m in messages] == ["invite"] * 3 + ["remind1"] * 3 + ["remind2"] * 2
    assert all(m.to_address is None and m.recipient_pseudonym for m in messages)
    french = next(m for m in messages if m.recipient_pseudonym == "P-REM00001")
    assert french.subject == "Questionnaire à remplir : Semaine 6"
    # The same link in every message, and it opens the right participant.
    links = {re.search(r"access=(\S+)", m.body).group(1) for m in messages if m.recipient_pseudonym == "P-REM00002"}
    assert len(links) == 1
    with session_scope(engine) as s:
        assert participant_by_token(s, links.pop()).pseudonym == "P-REM00002"
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_link_handed_out_keeps_working_after_reminders(engine: Engine, tmp_path: Path) -> None:
    """A random link (given on paper, say) cannot be re-derived: the reminder points to it, never replaces it."""
    _setup(engine)
    key = load_or_create_key(tmp_path / "secret.key")
    with session_scope(engine) as s:
        held = issue_access_token(s, s.get(Participant, 2), actor="sm")  # random: no key
        expired = issue_access_token(s, s.get(Participant, 3), actor="sm", days=-1)
        assert queue_reminders(s, key=key, public_url="http://w", today=START + timedelta(days=39)) == 3
    with session_scope(engine) as s:
        assert participant_by_token(s, held).pseudonym == "P-REM00001"
    bodies = {m.recipient_pseudonym: m.body for m in _outbox(engine)}
    assert "access=" not in bodies["P-REM00001"]
    assert "le lien personnel qui vous a été remis" in bodies["P-REM00001"]
    assert "http://w/services/forms/voila/render/account.ipynb" in bodies["P-REM00001"]
    # An expired link is dead anyway: the reminder carries a fresh one that opens the page.
    fresh = re.search(r"access=(\S+)", bodies["P-REM00002"]).group(1)
    assert fresh != expired
    with session_scope(engine) as s:
        assert participant_by_token(s, fresh).pseudonym == "P-REM00002"
