"""The only ways an identity or an address leaves the trusted party, each for a stated purpose.

Purposes are a closed list per domain kind: an identity may be revealed for a study's safety
alert or a person's own request, never for research; nothing is ever revealed from a project
domain. Each call is audited with who, the purpose and counts, never the identity itself.
Addresses go to the e-mail worker in memory and are not to be stored elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from workbench import audit
from workbench.errors import NotFoundError, PermissionDenied
from workbench.storage.engine import session_scope
from workbench.trusted_party.codes import canonical
from workbench.trusted_party.domains import chunks, domain_kind, lookup_codes
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.registry import unseal
from workbench.trusted_party.schema import identities, persons, reviews

if TYPE_CHECKING:
    from workbench.trusted_party.service import TrustedParty

__all__ = [
    "CONTACT_PURPOSES",
    "REIDENTIFY_PURPOSES",
    "ContactAddress",
    "ContactBatch",
    "Purpose",
    "contact_addresses",
    "reidentify",
    "review_pair",
]


@dataclass(frozen=True)
class Purpose:
    en: str
    fr: str
    kinds: frozenset[str]       # domain kinds where the purpose may be invoked
    needs: str = ""             # contact preference that must be on ("" = a channel suffices)


REIDENTIFY_PURPOSES: dict[str, Purpose] = {
    "safety_alert": Purpose(
        "A participant's answers call for clinical follow-up (safety alert).",
        "Les réponses d'un participant appellent un suivi clinique (alerte de sécurité).",
        frozenset({"study"})),
    "data_subject_request": Purpose(
        "The person exercises a right: access, rectification, erasure or opposition.",
        "La personne exerce un droit : accès, rectification, effacement ou opposition.",
        frozenset({"study", "warehouse"})),
    "consent_management": Purpose(
        "Managing the person's consent or its withdrawal.",
        "Gestion du consentement de la personne ou de son retrait.",
        frozenset({"study"})),
    "source_data_verification": Purpose(
        "A monitor or inspector checks study data against the medical record.",
        "Un moniteur ou un inspecteur contrôle les données de l'étude au dossier source.",
        frozenset({"study"})),
}

CONTACT_PURPOSES: dict[str, Purpose] = {
    "account_access": Purpose(
        "The person's own portal account: an invitation link or a login code they asked for.",
        "Le compte de la personne sur le portail : un lien d'invitation ou un code de connexion demandé.",
        frozenset({"study"})),
    "study_reminder": Purpose(
        "Reminders and follow-up questionnaires of a study the person takes part in.",
        "Rappels et questionnaires de suivi d'une étude à laquelle la personne participe.",
        frozenset({"study"})),
    "study_results": Purpose(
        "The results of a study the person took part in.",
        "Les résultats d'une étude à laquelle la personne a participé.",
        frozenset({"study"}), needs="results"),
    "new_study_invitation": Purpose(
        "An invitation to another study.",
        "Une invitation à participer à une autre étude.",
        frozenset({"study", "warehouse"}), needs="new_studies"),
    "reuse_information": Purpose(
        "Individual information on the reuse of data in the warehouse and the right to oppose.",
        "Information individuelle sur la réutilisation des données de l'entrepôt et le droit "
        "d'opposition.",
        frozenset({"warehouse"})),
}


@dataclass(frozen=True)
class ContactAddress:
    pseudonym: str
    email: str          # "" when e-mail is not an allowed channel
    phone: str          # "" when text messages are not an allowed channel
    language: str

    def __repr__(self) -> str:  # keep addresses out of logs and tracebacks
        return f"ContactAddress({self.pseudonym}, <hidden>, language={self.language})"


@dataclass(frozen=True)
class ContactBatch:
    addresses: list[ContactAddress]
    unknown: int            # pseudonyms not registered in the domain
    not_contactable: int    # no allowed channel, or the purpose's opt-in is off


def _check(purposes: dict[str, Purpose], purpose: str, domain: str, what: str) -> Purpose:
    kind = domain_kind(domain)
    allowed = sorted(p for p, spec in purposes.items() if kind in spec.kinds)
    spec = purposes.get(purpose)
    if spec is None or kind not in spec.kinds:
        listed = ", ".join(allowed) if allowed else "none: never allowed from this domain"
        raise PermissionDenied(f"{what} for purpose {purpose!r} is not allowed in a {kind} "
                               f"domain (allowed: {listed})")
    return spec


def reidentify(tp: TrustedParty, code: str, domain: str, *, purpose: str,
               actor: str) -> Identity:
    """The identity behind one pseudonym, for an allowed purpose; refusals are audited too."""
    try:
        _check(REIDENTIFY_PURPOSES, purpose, domain, "re-identification")
    except PermissionDenied:
        with session_scope(tp.engine) as s:
            audit.record(s, actor=actor, action="ttp.reidentify.refused",
                         object_type=domain_kind(domain), object_id=domain, reason=purpose)
        raise
    with session_scope(tp.engine) as s:
        dom = tp.domain(s, domain, actor=actor)
        row = lookup_codes(s, dom.id, [code]).get(code)
        if row is None:
            s.rollback()
            audit.record(s, actor=actor, action="ttp.reidentify.unknown", object_type=domain,
                         object_id=code, reason=purpose)
            s.commit()
            raise NotFoundError(f"no person with this pseudonym in {domain}")
        blob = s.execute(select(identities.c.sealed)
                         .where(identities.c.person_id == row.id)).scalar_one_or_none()
        if blob is None:
            audit.record(s, actor=actor, action="ttp.reidentify.erased", object_type=domain,
                         object_id=code, reason=purpose)
            s.commit()
            raise NotFoundError("this person's identity was erased at their request")
        audit.record(s, actor=actor, action="ttp.reidentify", object_type=domain,
                     object_id=code, reason=purpose)
        return unseal(tp, row.uid, blob)


def contact_addresses(tp: TrustedParty, codes: Sequence[str], domain: str, *, purpose: str,
                      actor: str) -> ContactBatch:
    """Addresses for the e-mail worker, honouring each person's channels and opt-ins."""
    spec = _check(CONTACT_PURPOSES, purpose, domain, "contact lookup")
    wanted = [canonical(c) for c in codes]
    out: list[ContactAddress] = []
    unknown = skipped = 0
    with session_scope(tp.engine) as s:
        dom = tp.domain(s, domain, actor=actor)
        known = lookup_codes(s, dom.id, wanted)
        sealed: dict[int, bytes] = {}
        ids = sorted({r.id for r in known.values()})
        for part in chunks(ids):
            sealed.update(s.execute(select(identities.c.person_id, identities.c.sealed)
                                    .where(identities.c.person_id.in_(part))).all())
        for code in wanted:
            row = known.get(code)
            if row is None:
                unknown += 1
                continue
            if row.id not in sealed:  # identity erased: pseudonymous data only
                skipped += 1
                continue
            who = unseal(tp, row.uid, sealed[row.id])
            email = who.email if who.contact.email else ""
            phone = who.phone if who.contact.sms else ""
            if not (email or phone) or (spec.needs and not getattr(who.contact, spec.needs)):
                skipped += 1
                continue
            out.append(ContactAddress(code, email, phone, who.language))
        audit.record(s, actor=actor, action="ttp.contact.lookup", object_type="domain",
                     object_id=domain, reason=purpose,
                     after={"requested": len(wanted), "released": len(out), "unknown": unknown,
                            "not_contactable": skipped})
    return ContactBatch(out, unknown, skipped)


def review_pair(tp: TrustedParty, review_id: int, *, actor: str) -> tuple[Identity, Identity]:
    """Both identities of a possible-duplicate pair, for the reviewer deciding on it."""
    with session_scope(tp.engine) as s:
        row = s.execute(select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise NotFoundError(f"no duplicate review {review_id}")
        pair = []
        for pid in (row.person_id, row.candidate_id):
            uid, blob = s.execute(
                select(persons.c.uid, identities.c.sealed)
                .join(identities, identities.c.person_id == persons.c.id)
                .where(persons.c.id == pid)).one()
            pair.append(unseal(tp, uid, blob))
        audit.record(s, actor=actor, action="ttp.reidentify", object_type="review",
                     object_id=review_id, reason="record_linkage_review")
    return pair[0], pair[1]
