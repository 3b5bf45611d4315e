"""The consent form: inputs reach ``sign``, refusals shown in the participant's language, PDF offered."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from widgets.consent_form import ConsentForm, consent_form, load_view
from workbench.consent import publish_document
from workbench.consent.models import ConsentRecord
from workbench.participants.models import Participant
from workbench.participants.service import issue_access_token
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

STROKES = [[[0.1 + i * 0.05, 0.5 + (-1) ** i * 0.2] for i in range(12)]]
QUESTIONS = [{"id": "q1", "question": "Pouvez-vous arrêter à tout moment ?", "choices": ["Oui", "Non"], "answer": 0}]
OPTIONAL = [{"code": "warehouse_reuse", "label": "Réutilisation de mes données dans l'entrepôt"}]


@pytest.fixture
def token(settings: Settings) -> str:
    engine = open_operational(settings)
    with session_scope(engine) as s:
        st = studies.create_study(s, "ECONS", "E-consent", actor="sm")
        publish_document(s, "ECONS", language="fr", version="1.0", title="Information et consentement",
                         body="Vous êtes invité(e) à participer.\n\nVous pouvez arrêter à tout moment.",
                         actor="sm", comprehension=QUESTIONS, optional_consents=OPTIONAL,
                         materials=[{"kind": "video", "title": "Présentation", "url": "https://example.org/v"}])
        p = Participant(study_id=st.id, pseudonym="P-ECONS01", inclusion_date=date.today(), language="fr")
        s.add(p)
        s.flush()
        value = issue_access_token(s, p, actor="sm")
    engine.dispose()
    return value


def _records(settings: Settings) -> int:
    engine = open_operational(settings)
    with session_scope(engine) as s:
        n = s.execute(select(func.count(ConsentRecord.id))).scalar_one()
    engine.dispose()
    return n


def test_participant_signs_and_gets_the_pdf(settings: Settings, token: str) -> None:
    form = consent_form(settings, f"access={token}")
    assert isinstance(form, ConsentForm)
    html = form.children[0].value
    assert "Vous pouvez arrêter" in html and "https://example.org/v" in html
    form.button.click()  # nothing answered
    assert "Répondez oui ou non" in form.status.value and _records(settings) == 0
    form.choices["warehouse_reuse"].value = False
    form.questions[0].value = 1  # wrong answer
    form.name.value = "Camille Martin"
    form.pad.strokes = STROKES
    form.certify.value = True
    form.button.click()
    assert "read the information again" in form.status.value and _records(settings) == 0
    form.questions[0].value = 0
    form.certify.value = False
    form.button.click()
    assert "certification" in form.status.value and _records(settings) == 0
    form.certify.value = True
    form.button.click()
    assert "Merci" in form.status.value and "data:application/pdf;base64," in form.result.value
    assert _records(settings) == 1 and form.button.disabled
    again = consent_form(settings, f"access={token}")
    assert "déjà signé" in again.children[1].value and "application/pdf" in again.children[2].value
    engine = open_operational(settings)
    with session_scope(engine) as s:
        person = s.execute(select(Participant)).scalar_one()
        assert person.reuse_opposed and load_view(s, person).signed_pdf
    engine.dispose()


def test_unknown_link_gets_a_plain_page(settings: Settings, token: str) -> None:
    page = consent_form(settings, "access=nope")
    assert "inconnu ou a expiré" in page.value and "unknown or has expired" in page.value


def test_portal_lists_consents_results_and_files_rights_requests(settings: Settings, token: str) -> None:
    from widgets.participant_portal import participant_portal
    from workbench.participants.rights import RightsRequest
    from workbench.portal.service import publish_result

    form = consent_form(settings, f"access={token}")
    form.choices["warehouse_reuse"].value = True
    form.questions[0].value = 0
    form.name.value, form.pad.strokes, form.certify.value = "Camille Martin", STROKES, True
    form.button.click()
    engine = open_operational(settings)
    with session_scope(engine) as s:
        publish_result(s, "ECONS", title={"fr": "Ce que l'étude a montré", "en": "What the study showed"},
                       body={"fr": "La fatigue diminue.", "en": "Fatigue decreases."}, actor="sm")
    engine.dispose()
    portal = participant_portal(settings, f"access={token}")
    html = portal.children[0].value
    assert "Information et consentement" in html and "application/pdf" in html and "La fatigue diminue" in html
    kind, _details, send, status = portal.children[2:6]
    kind.value = "erasure"
    send.click()
    assert "say what should change" in status.value
    kind.value = "opposition"
    send.click()
    assert "Demande enregistrée" in status.value and "Opposition" in portal.children[0].value
    engine = open_operational(settings)
    with session_scope(engine) as s:
        assert [r.kind for r in s.execute(select(RightsRequest)).scalars()] == ["opposition"]
        assert s.execute(select(Participant)).scalar_one().reuse_opposed
    engine.dispose()
    assert "inconnu" in participant_portal(settings, "access=wrong").value
