"""The participant account screens without a browser: invitation, code by e-mail, portal sections."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

from sqlalchemy import select

from widgets.account_portal import AccountPortal
from widgets.participant_account import SignIn, participant_account
from workbench.accounts import get_user
from workbench.consent.service import publish_document
from workbench.participants.models import Participant
from workbench.participants.rights import queue
from workbench.participants.service import participant_by_token
from workbench.portal import book_appointment, publish_recruitment, publish_result
from workbench.portal.accounts import invite
from workbench.storage.base import utcnow
from workbench.studies import service as studies

BI = {"fr": "Nouvelle étude aidants", "en": "New carers study"}


def _invite(world) -> str:  # type: ignore[no-untyped-def]
    with world.session() as s:
        study = studies.get_study(s, "ACC-1")
        studies.add_event(s, study, "M0", "Inclusion", 0, actor="sm", instruments=["EORTC-QLQ-C30"])
        person = s.execute(select(Participant).where(Participant.pseudonym == world.pseudonym)).scalar_one()
        invite(s, person, actor="sm", public_url=world.settings.public_url)
        publish_result(s, "ACC-1", title={"fr": "Nos résultats", "en": "Our results"},
                       body={"fr": "Merci à toutes et tous.", "en": "Thank you all."}, actor="sm")
        studies.create_study(s, "NEW-1", "Carers", actor="sm")
        publish_recruitment(s, "NEW-1", title=BI, body=BI, respondent_types=["carer"], cancer_types=["lung"],
                            actor="sm")
    world.deliver()
    return world.inbox.last_match(r"invite=([A-Za-z0-9_\-]+)")


def test_open_account_then_sign_in_with_an_emailed_code(world) -> None:  # type: ignore[no-untyped-def]
    token = _invite(world)
    screen = participant_account(world.settings, f"invite={token}")
    assert isinstance(screen, SignIn) and screen.language == "fr"
    assert "Fatigue et sommeil" in screen.children[1].value
    screen.new_username.value = "marie.d"
    screen.new_password.value, screen.confirm.value = "un mot de passe", "autre chose"
    screen.create.click()
    assert "diffèrent" in screen.status.value and screen.portal is None
    screen.new_password.value = screen.confirm.value = "court"
    screen.create.click()
    assert "au moins 12 caractères" in screen.status.value and screen.portal is None
    screen.new_username.value = "Marie D"
    screen.new_password.value = screen.confirm.value = ""
    screen.create.click()
    assert "lettres minuscules" in screen.status.value and screen.portal is None
    screen.new_username.value = "marie.d"
    screen.create.click()
    portal = screen.portal
    assert isinstance(portal, AccountPortal) and screen.children == (portal,)
    html = portal.page.value
    assert "Mes études" in html and "EORTC-QLQ-C30" in html and "Nos résultats" in html
    link = re.search(r'href="([^"]+home\.ipynb\?access=[^"]+)"', html)
    assert link and link.group(1).startswith("https://weshare.example.org/services/forms/")
    assert "Aucune étude ne correspond" in html  # news only after an opt-in

    portal.sign_out.click()
    assert screen.portal is None
    screen.username.value = "marie.d"
    screen.code_button.click()
    assert screen.code_box.layout.display == "flex" and "Si ce compte existe" in screen.status.value
    assert world.deliver() == 1 and world.inbox.messages[-1][0] == [world.email]
    code = world.inbox.last_match(r"(\d{6})")
    screen.code.value = "000000" if code != "000000" else "111111"
    screen.code_login.click()
    assert "incorrect" in screen.status.value and screen.portal is None
    with world.session() as s:
        assert get_user(s, "marie.d").failed_logins == 1  # the refusal was committed
    screen.code.value = code
    screen.code_login.click()
    assert screen.portal is not None


def test_portal_sections_write_through_the_domain(world) -> None:  # type: ignore[no-untyped-def]
    token = _invite(world)
    screen = SignIn(world.settings, token)
    screen.new_username.value = "marie.d"
    screen.create.click()
    portal = screen.portal
    assert portal is not None
    # interests: carer + lung, opted in → the matching recruitment shows
    portal.profile.value, portal.cancers.value, portal.news_opt.value = ("carer",), ("lung",), True
    portal.save_interests.click()
    assert "Nouvelle étude aidants" in portal.page.value
    # a portable copy request reaches the team's queue with its deadline
    portal.kind.value = "portability"
    portal.send.click()
    assert "avant le" in portal.status.value
    with world.session() as s:
        rows = queue(s, "ACC-1")
    assert [(r["kind"], r["participant"], r["days_left"]) for r in rows] == [("portability", world.pseudonym, 30)]
    assert "Copie portable" in portal.page.value
    portal.download.click()
    data = re.search(r"base64,([^\"]+)", portal.copy.value)
    assert data and json.loads(base64.b64decode(data.group(1)))["participant"]["pseudonym"] == world.pseudonym
    # an interview booked by the team shows with its video link
    with world.session() as s:
        person = s.execute(select(Participant).where(Participant.pseudonym == world.pseudonym)).scalar_one()
        book_appointment(s, person, interviewer="iv", starts_at=utcnow() + timedelta(days=2), minutes=45,
                         video_base_url="https://visio.example.org", actor="sm")
    portal.refresh()
    assert "Mes entretiens" in portal.page.value and "https://visio.example.org/weshare-" in portal.page.value
    # a consent document to sign: the portal links to the consent form with the personal link
    assert "signer mon consentement" not in portal.page.value
    with world.session() as s:
        publish_document(s, "ACC-1", language="fr", version="1.0", title="Consentement", body="Texte",
                         actor="sm")
    portal.refresh()
    sign = re.search(r'href="([^"]+consent\.ipynb\?access=([^"]+))"', portal.page.value)
    assert sign and "Lire et signer mon consentement" in portal.page.value
    with world.session() as s:
        assert participant_by_token(s, sign.group(2)).pseudonym == world.pseudonym
    # contact preferences come from the trusted party
    prefs = portal.preferences
    assert prefs.children[1].value is True  # e-mail channel on, as registered


def test_bad_invitation_and_english(world) -> None:  # type: ignore[no-untyped-def]
    screen = participant_account(world.settings, "invite=nope")
    assert "inconnue" in screen.children[1].value
    screen.switch.click()
    assert "Sign in with my password" in [getattr(c, "description", "") for c in screen.children]
    screen.username.value, screen.password.value = "ghost", "whatever it is"
    screen.password_button.click()
    assert "Wrong username, password or code" in screen.status.value
