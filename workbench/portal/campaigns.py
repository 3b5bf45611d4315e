"""Community campaigns: announcements and recruitment sent only to people who opted in.

The study team chooses who (respondent types, cancer sites) and what (a text in French and
English); the audience is drawn from participants of other studies by pseudonym, the messages
are queued by pseudonym with the purpose ``new_study_invitation``, and the trusted party alone
turns a pseudonym into an address at send time, only for people whose ``new_studies`` opt-in is
on. The team sees counts only: audience, sent, not contactable, opened, signed up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.mail import OutboxMessage, queue_email
from workbench.participants.models import Participant
from workbench.portal.service import RESPONDENT_TYPES
from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = ["Campaign", "CampaignInvite", "campaign_counts", "create_campaign", "open_invite", "send_campaign",
           "sign_up"]

PURPOSE = "new_study_invitation"
KINDS = ("recruitment", "announcement")
TEXT = {
    "fr": "Bonjour,\n\n{body}\n\nEn savoir plus et vous manifester : {link}\n\nVous recevez ce message parce que "
          "vous avez accepté d'être informé(e) de nouvelles études. Vous pouvez retirer cet accord à tout moment "
          "auprès de l'équipe de votre étude.",
    "en": "Hello,\n\n{body}\n\nFind out more and sign up: {link}\n\nYou receive this message because you agreed to "
          "hear about new studies. You can withdraw this agreement at any time with your study team.",
}


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[Any] = mapped_column(JSONText, nullable=False)
    body: Mapped[Any] = mapped_column(JSONText, nullable=False)
    respondent_types: Mapped[Any] = mapped_column(JSONText, nullable=False)
    cancer_sites: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)  # [] = any
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audience: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class CampaignInvite(Base):
    """One person's invitation: a link token (hashed), and whether they opened it and signed up."""

    __tablename__ = "campaign_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    pseudonym: Mapped[str] = mapped_column(String(32), nullable=False)
    domain: Mapped[str] = mapped_column(String(120), nullable=False)
    language: Mapped[str] = mapped_column(String(2), nullable=False, default="fr")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _bilingual(value: dict[str, str], where: str) -> dict[str, str]:
    if not all(isinstance(value.get(k), str) and value[k].strip() for k in ("fr", "en")):
        raise ValidationError("give the text in French and in English", where=where)
    return {"fr": value["fr"].strip(), "en": value["en"].strip()}


def create_campaign(session: Session, study_code: str, *, kind: str, title: dict[str, str], body: dict[str, str],
                    respondent_types: list[str], cancer_sites: list[str], actor: str) -> Campaign:
    study = get_study(session, study_code)
    if kind not in KINDS:
        raise ValidationError(f"one of {', '.join(KINDS)}", where="campaign kind")
    if kind == "recruitment" and study.status not in ("draft", "active"):
        raise ConflictError(f"study {study_code} is {study.status}: it no longer recruits")
    if not respondent_types or set(respondent_types) - set(RESPONDENT_TYPES):
        raise ValidationError(f"choose among {', '.join(RESPONDENT_TYPES)}", where="who is invited")
    campaign = Campaign(study_id=study.id, kind=kind, title=_bilingual(title, "title"), body=_bilingual(body, "text"),
                        respondent_types=sorted(set(respondent_types)),
                        cancer_sites=sorted({c.strip().lower() for c in cancer_sites if c.strip()}), created_by=actor)
    session.add(campaign)
    session.flush()
    audit.record(session, actor=actor, action="campaign.create", object_type="study", object_id=study_code,
                 after={"campaign": campaign.id, "kind": kind, "types": campaign.respondent_types,
                        "sites": campaign.cancer_sites})
    return campaign


def _audience(session: Session, campaign: Campaign) -> list[tuple[str, str, str]]:
    """(pseudonym, study domain, language) of matching people in other studies, once each."""
    rows = session.execute(
        select(Participant.pseudonym, Study.code, Participant.language, Participant.baseline,
               Participant.respondent_type)
        .join(Study, Study.id == Participant.study_id)
        .where(Participant.study_id != campaign.study_id, Participant.status == "active",
               Participant.data_use_stopped.is_(False),
               Participant.respondent_type.in_(campaign.respondent_types))).all()
    wanted = set(campaign.cancer_sites)
    return [(p, f"study:{code}", lang) for p, code, lang, baseline, _ in rows
            if not wanted or str((baseline or {}).get("cancer_site", "")).lower() in wanted]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_campaign(session: Session, campaign_id: int, *, actor: str, public_url: str) -> int:
    """Queue one invitation per person in the audience; the outbox worker sends them via the TTP."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    if campaign.sent_at is not None:
        raise ConflictError(f"campaign {campaign_id} was already sent")
    audience = _audience(session, campaign)
    base = public_url.rstrip("/")
    for pseudonym, domain, language in audience:
        token = secrets.token_urlsafe(24)
        lang = language if language in TEXT else "fr"
        session.add(CampaignInvite(campaign_id=campaign.id, token_hash=_hash(token), pseudonym=pseudonym,
                                   domain=domain, language=lang))
        link = f"{base}/services/forms/voila/render/campaign.ipynb?invite={token}"
        queue_email(session, subject=campaign.title[lang], body=TEXT[lang].format(body=campaign.body[lang], link=link),
                    pseudonym=pseudonym, domain=domain, purpose=PURPOSE,
                    dedupe_key=f"campaign:{campaign.id}:{domain}:{pseudonym}")
    campaign.sent_at, campaign.audience = utcnow(), len(audience)
    session.flush()
    audit.record(session, actor=actor, action="campaign.send", object_type="campaign", object_id=campaign.id,
                 after={"audience": len(audience)})
    return len(audience)


def open_invite(session: Session, token: str) -> Campaign:
    invite = session.execute(select(CampaignInvite).where(CampaignInvite.token_hash == _hash(token or ""))
                             ).scalar_one_or_none()
    if invite is None:
        raise NotFoundError("this invitation link is unknown")
    if invite.opened_at is None:
        invite.opened_at = utcnow()
    campaign = session.get(Campaign, invite.campaign_id)
    assert campaign is not None
    return campaign


def sign_up(session: Session, token: str) -> None:
    """The person says they are interested: the study team is told through the counts and its queue."""
    open_invite(session, token)
    invite = session.execute(select(CampaignInvite).where(CampaignInvite.token_hash == _hash(token))).scalar_one()
    if invite.signed_up_at is None:
        invite.signed_up_at = utcnow()
        audit.record(session, actor="invitee", action="campaign.sign_up", object_type="campaign",
                     object_id=invite.campaign_id)


def campaign_counts(session: Session, campaign_id: int) -> dict[str, int]:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    prefix = f"campaign:{campaign_id}:"
    mail = session.execute(select(func.count(OutboxMessage.sent_at), func.count(OutboxMessage.last_error))
                           .where(OutboxMessage.dedupe_key.like(prefix + "%"))).one()
    opened, signed = session.execute(select(func.count(CampaignInvite.opened_at), func.count(CampaignInvite.signed_up_at))
                                     .where(CampaignInvite.campaign_id == campaign_id)).one()
    return {"audience": campaign.audience, "invited": int(mail[0]), "not_contactable": int(mail[1]),
            "opened": int(opened), "signed_up": int(signed)}
