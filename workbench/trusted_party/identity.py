"""Identities and contact details as the trusted party holds them, with their validation.

These are the only place in WeShare where names, birth dates, addresses and phone numbers exist.
Validation errors name the field (``identity.email``) but never echo the value into logs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import date

from workbench.errors import ValidationError

__all__ = ["LANGUAGES", "SEXES", "ContactPreferences", "Identity"]

SEXES = ("F", "M", "X", "U")  # female, male, other, unknown (as recorded by the centre)
LANGUAGES = ("fr", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_POSTCODE = re.compile(r"^[0-9A-Z][0-9A-Z -]{1,9}$")


@dataclass(frozen=True)
class ContactPreferences:
    """What the person agreed to be contacted for, and how (opt-ins default to off)."""

    email: bool = True          # study messages (reminders, follow-up) by e-mail
    sms: bool = False           # study messages by text message
    results: bool = False       # the study's results once published
    new_studies: bool = False   # invitations to other studies


@dataclass(frozen=True)
class Identity:
    first_name: str
    last_name: str
    birth_date: date
    sex: str = "U"
    birth_name: str = ""        # nom de naissance, when it differs from the name in use
    postcode: str = ""
    email: str = ""
    phone: str = ""
    language: str = "fr"
    contact: ContactPreferences = field(default_factory=ContactPreferences)

    def __repr__(self) -> str:  # an identity must never reach a log line or a traceback
        return "Identity(<hidden>)"

    def validated(self, today: date | None = None) -> Identity:
        """A cleaned copy (trimmed, canonical case of codes) or a ValidationError naming the field."""
        today = today or date.today()
        clean = replace(
            self,
            first_name=" ".join(self.first_name.split()),
            last_name=" ".join(self.last_name.split()),
            birth_name=" ".join(self.birth_name.split()),
            sex=self.sex.strip().upper(),
            postcode=self.postcode.strip().upper(),
            email=self.email.strip(),
            phone=re.sub(r"[\s.()-]", "", self.phone),
            language=self.language.strip().lower(),
        )
        for name in ("first_name", "last_name"):
            value = getattr(clean, name)
            if not any(ch.isalpha() for ch in value):
                raise ValidationError("a name with at least one letter is required",
                                      where=f"identity.{name}")
            if len(value) > 100:
                raise ValidationError("longer than 100 characters", where=f"identity.{name}")
        if not isinstance(clean.birth_date, date):
            raise ValidationError("a date (YYYY-MM-DD) is required", where="identity.birth_date")
        if not date(1900, 1, 1) <= clean.birth_date <= today:
            raise ValidationError("must be between 1900-01-01 and today",
                                  where="identity.birth_date")
        if clean.sex not in SEXES:
            raise ValidationError(f"must be one of {', '.join(SEXES)}", where="identity.sex")
        if clean.language not in LANGUAGES:
            raise ValidationError(f"must be one of {', '.join(LANGUAGES)}",
                                  where="identity.language")
        if clean.email and not _EMAIL.match(clean.email):
            raise ValidationError("not an e-mail address", where="identity.email")
        if clean.phone and not _PHONE.match(clean.phone):
            raise ValidationError("not a phone number (digits, optional leading +)",
                                  where="identity.phone")
        if clean.postcode and not _POSTCODE.match(clean.postcode):
            raise ValidationError("not a postcode", where="identity.postcode")
        if clean.contact.email and not clean.email and clean.contact.sms and not clean.phone:
            raise ValidationError("contact by e-mail or text message needs an address or number",
                                  where="identity.contact")
        return clean

    def to_json(self) -> bytes:
        # By hand: dataclasses.asdict deep-copies every field and dominated bulk registration.
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["birth_date"] = self.birth_date.isoformat()
        body["contact"] = {f.name: getattr(self.contact, f.name) for f in fields(self.contact)}
        return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Identity:
        body = json.loads(raw.decode("utf-8"))
        body["birth_date"] = date.fromisoformat(body["birth_date"])
        body["contact"] = ContactPreferences(**body["contact"])
        return cls(**body)
