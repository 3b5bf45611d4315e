"""The public transparency register: every approved reuse of warehouse data (CNIL EDS §8.4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from secure_bubble.access import PERMITTED_PURPOSES
from workbench.accounts.models import User
from workbench.governance.models import Project

__all__ = ["RegisterEntry", "register"]


@dataclass(frozen=True)
class RegisterEntry:
    project: str
    title: str
    purpose: str
    team: list[str]
    committee_date: str
    data_categories: list[str]
    studies: list[str]
    expires: str
    status: str


def register(session: Session) -> list[RegisterEntry]:
    """Public by design: holds no participant data, only what was approved and for whom."""
    names = {u: n for u, n in session.execute(select(User.username, User.display_name))}
    entries = []
    for p in session.execute(select(Project).order_by(Project.committee_date.desc())).scalars():
        categories = sorted({v.split(".")[0] for variables in p.approved.values() for v in variables})
        entries.append(RegisterEntry(
            project=p.code, title=p.title, purpose=PERMITTED_PURPOSES.get(p.purpose, p.purpose),
            team=[names.get(u, u) for u in p.team], committee_date=f"{p.committee_date:%Y-%m-%d}",
            data_categories=categories, studies=sorted(p.approved), expires=f"{p.expires_at:%Y-%m-%d}",
            status=p.status,
        ))
    return entries
