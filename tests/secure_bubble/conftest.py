"""Shared set-up of the secure-bubble tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from workbench import accounts
from workbench.governance.models import AccessRequest, Project
from workbench.storage.base import utcnow
from workbench.trusted_party import TrustedParty


def approve_projects(session: Session, tp: TrustedParty, researcher: str,
                     approved: dict[str, dict[str, list[str]]]) -> None:
    """Projects (code -> study -> approved variables) as a committee leaves them: ``researcher``'s
    access request, the active projects for 30 days and their pseudonym domains opened. The gateway
    tests start after the decision, so the committee's workflow is skipped."""
    accounts.add_user(session, researcher, actor="admin", roles=[f"researcher:project:{c}" for c in approved])
    request = AccessRequest(requester=researcher, title="t", purpose="research", regulatory_ref="MR-004",
                            funder="public", requester_status="academic", team=[researcher], duration_months=6)
    session.add(request)
    session.flush()
    now = utcnow()
    session.add_all([Project(code=code, request_id=request.id, title="t", purpose="research", team=[researcher],
                             approved=studies, committee_date=now, expires_at=now + timedelta(days=30))
                     for code, studies in approved.items()])
    for code in approved:
        tp.open_domain(f"project:{code}", actor="committee")
