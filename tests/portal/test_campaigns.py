"""Campaigns reach opted-in people only, through the trusted party's addresses; counts, not names."""

from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select

from widgets.campaign_landing import campaign_landing
from workbench.contact import trusted_party_resolver
from workbench.errors import ConflictError, ValidationError
from workbench.mail import OutboxMessage, send_pending
from workbench.participants.models import Participant
from workbench.portal.campaigns import campaign_counts, create_campaign, send_campaign
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.trusted_party import ContactPreferences, Identity, init_store, open_trusted_party

from ..foundation.test_mail import smtp  # noqa: F401  (a real local SMTP server)

TITLE = {"fr": "Nouvelle étude sur la fatigue", "en": "New study on fatigue"}
BODY = {"fr": "Nous cherchons des patientes.", "en": "We are looking for patients."}


def test_campaign_goes_to_opted_in_matching_people_only(settings: Settings, tmp_path: Path, smtp) -> None:  # noqa: F811
    inbox, port = smtp
    cfg = settings.with_overrides(smtp_port=port)
    init_store(cfg, actor="ops")
    people = [("Anne", "C50", True, "patient"), ("Berthe", "C50", False, "patient"),  # no opt-in
              ("Chloé", "C18", True, "patient"), ("Denise", "C50", True, "carer")]
    with open_trusted_party(cfg) as tp:
        codes = []
        for i, (name, _, opt_in, _) in enumerate(people):
            reg = tp.register_person(Identity(name, f"Test{i}", date(1960, 1, 1 + i), "F", email=f"{name.lower()}@example.org",
                                              contact=ContactPreferences(email=True, new_studies=opt_in)), actor="ops")
            codes.append(tp.pseudonym(reg.person, "study:OLD", actor="ops"))
    engine = open_operational(cfg)
    with session_scope(engine) as s:
        old = studies.create_study(s, "OLD", "Earlier study", actor="sm")
        studies.create_study(s, "NEW", "New study", actor="sm")
        s.add_all([Participant(study_id=old.id, pseudonym=c, inclusion_date=date(2024, 1, 1), respondent_type=kind,
                               baseline={"cancer_site": "breast" if site == "C50" else "colon"}, language="fr")
                   for c, (_, site, _, kind) in zip(codes, people, strict=True)])
        with pytest.raises(ValidationError, match="French and in English"):
            create_campaign(s, "NEW", kind="recruitment", title={"fr": "x"}, body=BODY,
                            respondent_types=["patient"], cancer_sites=["breast"], actor="sm")
        campaign = create_campaign(s, "NEW", kind="recruitment", title=TITLE, body=BODY,
                                   respondent_types=["patient"], cancer_sites=["breast"], actor="sm")
        assert send_campaign(s, campaign.id, actor="sm", public_url="https://weshare.example") == 2
        with pytest.raises(ConflictError, match="already sent"):
            send_campaign(s, campaign.id, actor="sm", public_url="https://weshare.example")
        campaign_id = campaign.id
    with open_trusted_party(cfg) as tp, session_scope(engine) as s:
        send_pending(s, cfg, resolve=trusted_party_resolver(tp, actor="mail"))
    assert [r[0] for r in inbox.messages] == [["anne@example.org"]]  # Berthe never opted in
    body = message_from_bytes(inbox.messages[0][1], policy=default).get_content()
    assert "Nous cherchons des patientes" in body and "accepté d'être informé" in body
    token = re.search(r"invite=([\w-]+)", body).group(1)
    with session_scope(engine) as s:
        assert campaign_counts(s, campaign_id) == {"audience": 2, "invited": 1, "not_contactable": 1,
                                                   "opened": 0, "signed_up": 0}
        assert all(m.to_address is None for m in s.execute(select(OutboxMessage)).scalars())
    engine.dispose()
    page = campaign_landing(cfg, f"invite={token}")
    assert "Nouvelle étude" in page.children[0].value
    page.children[1].click()
    page.children[1].click()
    assert "Merci" in page.children[2].value
    assert "inconnu" in campaign_landing(cfg, "invite=nope").value
    engine = open_operational(cfg)
    with session_scope(engine) as s:
        counts = campaign_counts(s, campaign_id)
    engine.dispose()
    assert (counts["opened"], counts["signed_up"]) == (1, 1)
