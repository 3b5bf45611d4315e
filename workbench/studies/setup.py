"""Configuring a study: sponsor, design, sites, arms, modules, deposit plan, contract and its quote.

Edits are allowed while a study is a draft (sites may still be added while it is active); each
change is audited with the values before and after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, ValidationError
from workbench.storage.base import utcnow
from workbench.studies.models import Study, StudyArm, StudySite
from workbench.studies.service import get_study
from workbench.tariffs import load_grids, study_quote

__all__ = ["DESIGNS", "MODULES", "TIMINGS", "add_arm", "add_site", "configure_study", "quote_study"]

DESIGNS = ("observational", "qualitative", "interventional")
TIMINGS = ("prospective", "retrospective")
MODULES = ("epro", "consent", "randomisation", "qualitative", "bubble")
SPONSOR_STATUSES = ("partner", "collaborator", "non_partner")
SECTORS = ("academic", "private")
CONTRACT_KEYS = {"needs": str, "deadlines": list, "publication_rules": str, "development_days": (int, float),
                 "projects_per_year": int}


def _editable(study: Study, what: str) -> None:
    if study.status != "draft":
        raise ConflictError(f"study {study.code} is {study.status}: its {what} can no longer change")


def _choice(value: str, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{value!r} is not one of {', '.join(allowed)}", where=where)
    return value


def _snapshot(study: Study) -> dict[str, Any]:
    return {
        "sponsor": study.sponsor, "sponsor_status": study.sponsor_status,
        "sponsor_sector": study.sponsor_sector, "design": study.design, "timing": study.timing,
        "modules": list(study.modules), "deposit_plan": list(study.deposit_plan),
        "contract": dict(study.contract),
    }


def _check_contract(contract: dict[str, Any]) -> dict[str, Any]:
    for key, value in contract.items():
        if key not in CONTRACT_KEYS:
            raise ValidationError(f"unknown contract field {key!r}", where="contract")
        if not isinstance(value, CONTRACT_KEYS[key]):  # type: ignore[arg-type]
            raise ValidationError("has the wrong type", where=f"contract {key}")
    for i, deadline in enumerate(contract.get("deadlines", []), 1):
        if not isinstance(deadline, dict) or not deadline.get("what"):
            raise ValidationError("each deadline needs 'what' and 'date'", where=f"contract deadline {i}")
        try:
            date.fromisoformat(str(deadline.get("date")))
        except ValueError:
            raise ValidationError("date must be YYYY-MM-DD", where=f"contract deadline {i}") from None
    return contract


def configure_study(session: Session, code: str, *, actor: str, **fields: Any) -> Study:
    """Set any of sponsor, sponsor_status, sponsor_sector, design, timing, modules, deposit_plan,
    contract; then recompute the tariff quote."""
    study = get_study(session, code)
    _editable(study, "set-up")
    before = _snapshot(study)
    checks = {
        "sponsor_status": lambda v: _choice(v, SPONSOR_STATUSES, "sponsor status"),
        "sponsor_sector": lambda v: _choice(v, SECTORS, "sponsor sector"),
        "design": lambda v: _choice(v, DESIGNS, "design"),
        "timing": lambda v: _choice(v, TIMINGS, "timing"),
        "modules": lambda v: sorted({_choice(m, MODULES, "modules") for m in v}),
        "deposit_plan": lambda v: sorted({str(x).strip() for x in v if str(x).strip()}),
        "contract": _check_contract,
        "sponsor": lambda v: str(v).strip(),
    }
    for key, value in fields.items():
        if key not in checks:
            raise ValidationError(f"unknown study field {key!r}", where="study")
        setattr(study, key, checks[key](value))
    study.tariff = quote_study(study)
    study.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="study.configure", object_type="study", object_id=code,
                 before=before, after={**_snapshot(study), "tariff": study.tariff.get("total")})
    return study


def quote_study(study: Study, grids: dict[str, Any] | None = None) -> dict[str, Any]:
    contract = study.contract or {}
    quote = study_quote(
        grids or load_grids(), sponsor_status=study.sponsor_status, sector=study.sponsor_sector,
        modules=len(study.modules), development_days=float(contract.get("development_days", 0)),
        projects_per_year=int(contract.get("projects_per_year", 1)), deposit=bool(study.deposit_plan),
    )
    return quote.as_dict()


def add_site(session: Session, code: str, site_code: str, name: str, *, actor: str,
             investigator: str = "") -> StudySite:
    study = get_study(session, code)
    if study.status not in {"draft", "active"}:
        raise ConflictError(f"study {code} is {study.status}: no new sites")
    if any(s.code == site_code for s in study.sites):
        raise ConflictError(f"site {site_code} is already part of {code}")
    if not site_code.strip() or not name.strip():
        raise ValidationError("a site needs a code and a name", where="site")
    site = StudySite(code=site_code.strip(), name=name.strip(), investigator=investigator)
    study.sites.append(site)
    session.flush()
    audit.record(session, actor=actor, action="study.site.add", object_type="study", object_id=code,
                 after={"site": site.code, "name": site.name})
    return site


def add_arm(session: Session, code: str, arm_code: str, label: str, *, actor: str, ratio: int = 1) -> StudyArm:
    study = get_study(session, code)
    _editable(study, "arms")
    if study.design != "interventional":
        raise ValidationError("only interventional studies have arms", where="arm")
    if any(a.code == arm_code for a in study.arms):
        raise ConflictError(f"arm {arm_code} already exists in {code}")
    if not 1 <= ratio <= 10:
        raise ValidationError("allocation ratio must be 1–10", where=f"arm {arm_code}")
    arm = StudyArm(code=arm_code, label=label, ratio=ratio)
    study.arms.append(arm)
    session.flush()
    audit.record(session, actor=actor, action="study.arm.add", object_type="study", object_id=code,
                 after={"arm": arm_code, "label": label, "ratio": ratio})
    return arm
