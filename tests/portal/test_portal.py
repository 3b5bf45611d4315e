"""Portal: results in the participant's language, news only with an opt-in and a match, appointments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from workbench import accounts
from workbench.errors import ConflictError, ValidationError
from workbench.mail import OutboxMessage
from workbench.participants.models import Participant
from workbench.portal import (
    book_appointment,
    news_for,
    publish_recruitment,
    publish_result,
    queue_appointment_reminders,
    results_for,
    set_interests,
)
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

T = {"fr": "Titre", "en": "Title"}
B = {"fr": "Texte", "en": "Text"}


@pytest.fixture
def setup(engine: Engine) -> int:
    with session_scope(engine) as s:
        a = studies.create_study(s, "PA", "A", actor="sm")
        studies.create_study(s, "PB", "B", actor="sm")
        accounts.add_user(s, "pat", actor="admin", roles=["participant:study:PA"])
        accounts.add_user(s, "iv", actor="admin", roles=["coder:study:PA"], email="iv@centre.fr")
        p = Participant(study_id=a.id, pseudonym="P-PORTAL01", inclusion_date=date.today(), language="en")
        s.add(p)
        s.flush()
        return p.id


def test_results_and_news(engine: Engine, setup: int) -> None:
    with session_scope(engine) as s:
        publish_result(s, "PA", title={"fr": "Résultats", "en": "Results"}, body=B, actor="sm")
        publish_result(s, "PB", title=T, body=B, actor="sm")
        with pytest.raises(ValidationError, match="French and an English"):
            publish_result(s, "PA", title={"fr": "seul"}, body=B, actor="sm")
        assert [r["title"] for r in results_for(s, [setup], "en")] == ["Results"]
        publish_recruitment(s, "PB", title={"fr": "Aidants", "en": "Carers wanted"}, body=B,
                            respondent_types=["carer"], cancer_types=[], actor="sm")
        publish_recruitment(s, "PA", title=T, body=B, respondent_types=["patient"],
                            cancer_types=["lung"], actor="sm")
        user = accounts.get_user(s, "pat")
        assert news_for(s, user) == []  # no opt-in, no news
        set_interests(s, user, respondent_types=["carer", "patient"], cancer_types=["breast"],
                      news_opt_in=True, language="fr")
        assert [n.title for n in news_for(s, user)] == ["Aidants"]  # lung study does not match breast


def test_appointments_and_reminders(engine: Engine, setup: int) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(hours=5)
    with session_scope(engine) as s:
        p = s.get(Participant, setup)
        appt = book_appointment(s, p, interviewer="iv", starts_at=start, minutes=60,
                                video_base_url="https://visio.example.org/", actor="iv")
        assert appt.video_url.startswith("https://visio.example.org/weshare-")
        with pytest.raises(ConflictError, match="already has an interview"):
            book_appointment(s, p, interviewer="iv", starts_at=start + timedelta(minutes=30), minutes=60,
                             video_base_url="https://v", actor="iv")
        with pytest.raises(ValidationError, match="future"):
            book_appointment(s, p, interviewer="iv", starts_at=utcnow() - timedelta(hours=1), minutes=60,
                             video_base_url="https://v", actor="iv")
        assert queue_appointment_reminders(s) == 2
        assert queue_appointment_reminders(s) == 0
        to = sorted((m.to_address or m.recipient_pseudonym) for m in s.execute(select(OutboxMessage)).scalars())
        assert to == ["P-PORTAL01", "iv@centre.fr"]
