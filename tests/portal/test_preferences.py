"""Contact preferences: shown and changed on the portal, stored only by the trusted party."""

from __future__ import annotations

from datetime import date

from widgets.participant_portal import participant_portal
from workbench.participants.models import Participant
from workbench.participants.service import issue_access_token
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.trusted_party import ContactPreferences, Identity, init_store, open_trusted_party
from workbench.trusted_party.preferences import contact_preferences


def test_participant_changes_contact_preferences_through_the_trusted_party(settings: Settings) -> None:
    engine = open_operational(settings)
    with session_scope(engine) as s:
        study = studies.create_study(s, "PREF", "Preferences", actor="sm")
        person = Participant(study_id=study.id, pseudonym="P-NOTYET", inclusion_date=date.today(), language="en")
        s.add(person)
        s.flush()
        token = issue_access_token(s, person, actor="sm")
    page = participant_portal(settings, f"access={token}")
    assert "managed with your study team" in page.children[-1].value  # no trusted party reachable yet
    init_store(settings, actor="ops")
    with open_trusted_party(settings) as tp:
        reg = tp.register_person(Identity("Alix", "Durand", date(1970, 5, 4), "F", email="alix@example.org",
                                          contact=ContactPreferences(email=True, results=False)), actor="ops")
        code = tp.pseudonym(reg.person, "study:PREF", actor="ops")
    with session_scope(engine) as s:
        s.query(Participant).filter_by(pseudonym="P-NOTYET").update({"pseudonym": code})
    engine.dispose()
    prefs = participant_portal(settings, f"access={token}").children[-1]
    email, results, new, save, status = prefs.children[1:6]
    assert (email.value, results.value, new.value) == (True, False, False)
    results.value, new.value = True, True
    save.click()
    assert "Preferences saved" in status.value
    with open_trusted_party(settings) as tp:
        stored = contact_preferences(tp, code, "study:PREF", actor="test")
    assert (stored.email, stored.results, stored.new_studies) == (True, True, True)
