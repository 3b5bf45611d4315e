"""Access requests: a researcher asks, sponsors may oppose within a window, committees decide.

Purposes come from a closed list (CNIL EDS référentiel §3.1: forbidden purposes cannot even be
chosen); every study is justified on its own (minimisation); every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts.models import Role, RoleAssignment, User
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.governance.models import AccessRequest, AccessRequestItem, Project
from workbench.mail import queue_email
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.studies.models import Study
from workbench.tariffs import Quote, access_quote, load_grids

__all__ = [
    "PERMITTED_PURPOSES",
    "REVIEW_TOKEN_FILE",
    "HubServers",
    "RequestedStudy",
    "StoppedSpace",
    "advance",
    "draft_request",
    "get_request",
    "quote_for",
    "sponsor_answer",
    "stop_closed_project_spaces",
    "study_managers",
    "submit_request",
]

PERMITTED_PURPOSES = {
    "research": "Scientific research in oncology / Recherche scientifique en oncologie",
    "quality_of_life": "Quality-of-life and supportive-care research / Recherche sur la qualité de vie",
    "care_evaluation": "Evaluation of care pathways and practices / Évaluation des parcours et pratiques",
    "public_health": "Public-health study or surveillance / Étude ou surveillance de santé publique",
    "indicators": "Production of health indicators / Production d'indicateurs de santé",
    "methodology": "Methodological work on warehouse data / Travaux méthodologiques sur l'entrepôt",
}
FUNDERS = ("public", "private")
REQUESTER_STATUSES = ("academic", "partner_private", "private")
RequestedStudy = dict[str, object]  # {"study": code, "variables": [...], "justification": str}


def get_request(session: Session, request_id: int) -> AccessRequest:
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFoundError(f"no access request {request_id}")
    return request


def study_managers(session: Session, study_code: str) -> list[User]:
    """The sponsor side of a study: its scoped study managers."""
    rows = session.execute(
        select(User).join(RoleAssignment).where(
            RoleAssignment.role == Role.STUDY_MANAGER.value, RoleAssignment.scope_type == "study",
            RoleAssignment.scope_id == study_code)
    ).scalars()
    return list(rows)


def _check_items(session: Session, items: list[RequestedStudy]) -> list[AccessRequestItem]:
    if not items:
        raise ValidationError("ask for at least one study", where="studies")
    seen: set[str] = set()
    built = []
    for i, item in enumerate(items, 1):
        where = f"study {i}"
        code = str(item.get("study", "")).strip().upper()
        if code in seen:
            raise ValidationError(f"{code} is listed twice", where=where)
        seen.add(code)
        study = session.execute(select(Study).where(Study.code == code)).scalar_one_or_none()
        if study is None:
            raise ValidationError(f"unknown study {code!r}", where=where)
        if study.status != "deposited":
            raise ValidationError(f"{code} has no data in the warehouse yet (it is {study.status})", where=where)
        variables = item.get("variables")
        if not isinstance(variables, list) or not variables or not all(
            isinstance(v, str) and v.strip() for v in variables
        ):
            raise ValidationError("list the variables wanted", where=f"{where} ({code}) variables")
        justification = str(item.get("justification", "")).strip()
        if len(justification) < 20:
            raise ValidationError("justify why these variables are needed (a sentence at least)",
                                  where=f"{where} ({code}) justification")
        built.append(AccessRequestItem(study_code=code, variables=sorted(set(variables)),
                                       justification=justification))
    return built


def quote_for(requester_status: str, items: list[RequestedStudy]) -> Quote:
    """The warehouse access tariff of a request, as it will be stored with it (shown before
    submitting): distinct variables per study, summed over the studies."""
    variables = sum(len({str(v).strip() for v in (i.get("variables") or []) if str(v).strip()})  # type: ignore[union-attr]
                    for i in items)
    return access_quote(load_grids(), requester_status=requester_status, variables=variables,
                        studies=len(items))


def draft_request(
    session: Session, requester: User, *, title: str, purpose: str, regulatory_ref: str, funder: str,
    requester_status: str, team: list[str], duration_months: int, items: list[RequestedStudy],
    summary: str = "",
) -> AccessRequest:
    """Validate and store a request with its tariff quote, shown before it is submitted."""
    if Role.RESEARCHER not in requester.role_names:
        raise PermissionDenied("only researchers can ask for access")
    if purpose not in PERMITTED_PURPOSES:
        raise ValidationError(f"{purpose!r} is not a permitted purpose", where="purpose")
    if not title.strip():
        raise ValidationError("is required", where="title")
    if not regulatory_ref.strip():
        raise ValidationError("give the CNIL formality (e.g. MR-004 declaration number)",
                              where="regulatory reference")
    if funder not in FUNDERS:
        raise ValidationError("public or private", where="funder")
    if requester_status not in REQUESTER_STATUSES:
        raise ValidationError(f"one of {', '.join(REQUESTER_STATUSES)}", where="requester status")
    if not 1 <= duration_months <= 60:
        raise ValidationError("between 1 and 60 months", where="duration")
    members = sorted(set(team) | {requester.username})
    known = set(session.execute(select(User.username).where(User.username.in_(members))).scalars())
    if missing := sorted(set(members) - known):
        raise ValidationError(f"unknown user(s): {', '.join(missing)}", where="team")
    built = _check_items(session, items)
    quote = quote_for(requester_status, [{"variables": i.variables} for i in built])
    request = AccessRequest(
        requester=requester.username, title=title.strip(), summary=summary, purpose=purpose,
        regulatory_ref=regulatory_ref.strip(), funder=funder, requester_status=requester_status,
        team=members, duration_months=duration_months, tariff=quote.as_dict(), items=built,
    )
    session.add(request)
    session.flush()
    audit.record(session, actor=requester.username, action="access.draft", object_type="access_request",
                 object_id=request.id, after={"purpose": purpose, "studies": [i.study_code for i in built],
                                              "tariff": quote.total})
    return request


def submit_request(session: Session, request_id: int, requester: User, *, window_days: int = 15,
                   now: datetime | None = None) -> AccessRequest:
    """Open the sponsors' opposition window and notify each contributing study's sponsor."""
    request = get_request(session, request_id)
    if request.requester != requester.username:
        raise PermissionDenied("only the requester can submit this request")
    if request.status != "draft":
        raise ConflictError(f"the request is already {request.status}")
    at = now or utcnow()
    request.status, request.submitted_at = "sponsor_window", at
    request.opposition_deadline = at + timedelta(days=window_days)
    for item in request.items:
        for manager in study_managers(session, item.study_code):
            if manager.email:
                queue_email(session, to=manager.email, dedupe_key=f"access:{request.id}:{item.study_code}:{manager.username}",
                            subject=f"[WeShare] Access request {request.id} uses data of {item.study_code}",
                            body=(f"A researcher asks to reuse data of {item.study_code}: {request.title}.\n"
                                  f"Variables: {', '.join(item.variables)}\n"
                                  f"You may oppose until {request.opposition_deadline:%Y-%m-%d} in the "
                                  "sponsor dashboard."))
    audit.record(session, actor=requester.username, action="access.submit", object_type="access_request",
                 object_id=request.id, after={"opposition_deadline": request.opposition_deadline.isoformat()})
    return request


def sponsor_answer(session: Session, request_id: int, study_code: str, sponsor: User, *, opposed: bool,
                   reason: str = "", now: datetime | None = None) -> AccessRequest:
    """A sponsor's opposition removes its study from the request; silence means no objection."""
    request = get_request(session, request_id)
    if request.status != "sponsor_window":
        raise ConflictError(f"the request is {request.status}: the opposition window is closed")
    if (now or utcnow()) > (request.opposition_deadline or utcnow()):
        raise ConflictError("the opposition window has closed")
    item = next((i for i in request.items if i.study_code == study_code), None)
    if item is None:
        raise NotFoundError(f"study {study_code} is not part of request {request_id}")
    if sponsor.username not in {m.username for m in study_managers(session, study_code)}:
        raise PermissionDenied(f"{sponsor.username} does not speak for the sponsor of {study_code}")
    if opposed and not reason.strip():
        raise ValidationError("give the reason for the opposition", where="reason")
    item.sponsor_decision, item.sponsor_reason = ("opposed" if opposed else "no_objection"), reason
    audit.record(session, actor=sponsor.username, action="access.sponsor", object_type="access_request",
                 object_id=request.id, reason=reason or None,
                 after={"study": study_code, "decision": item.sponsor_decision})
    return advance(session, request_id, now=now)


def advance(session: Session, request_id: int, *, now: datetime | None = None) -> AccessRequest:
    """Close the window when it has passed or every sponsor has answered."""
    request = get_request(session, request_id)
    at = now or utcnow()
    if request.status != "sponsor_window":
        return request
    answered = all(i.sponsor_decision for i in request.items)
    if not answered and at < (request.opposition_deadline or at):
        return request
    remaining = [i for i in request.items if i.sponsor_decision != "opposed"]
    if not remaining:
        request.status, request.decided_at = "rejected", at
        request.decision_reason = "every contributing study's sponsor opposed the reuse"
    else:
        request.status = "committee_review"
    audit.record(session, actor="system", action="access.window_closed", object_type="access_request",
                 object_id=request.id, after={"status": request.status,
                                              "studies": [i.study_code for i in remaining]})
    return request


# Project spaces (named hub servers) of closed projects ----------------------------------------------

REVIEW_TOKEN_FILE = Path("hub") / "access-review.token"  # under Settings.home, written by the hub config


@dataclass(frozen=True)
class HubServers:
    """The hub's REST API as the access review uses it: find, stop and revoke project servers.

    Plain HTTP with the ``access-review`` service token, so governance imports nothing of Jupyter.
    """

    api_url: str
    token: str
    timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HubServers | None:
        """None when the hub has never run here (no token file): then no server can be running."""
        path = settings.home / REVIEW_TOKEN_FILE
        if not path.exists():
            return None
        return cls(f"http://127.0.0.1:{settings.hub_api_port}/hub/api", path.read_text().strip())

    def _call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        reply = requests.request(method, f"{self.api_url}{path}", timeout=self.timeout,
                                 headers={"Authorization": f"token {self.token}"}, **kwargs)  # type: ignore[arg-type]
        if reply.status_code >= 400 and reply.status_code != 404:
            raise ConflictError(f"the hub refused {method} {path}: {reply.status_code} {reply.text[:200]}")
        return reply

    def servers(self) -> dict[str, list[str]]:
        """Named servers per user (project codes), running or not."""
        users = self._call("GET", "/users").json()
        return {u["name"]: [name for name in (u.get("servers") or {}) if name] for u in users}

    def stop(self, username: str, server: str) -> None:
        """Stop and remove the named server; the hub deletes the server's own token with it."""
        self._call("DELETE", f"/users/{quote(username)}/servers/{quote(server)}", json={"remove": True})

    def revoke_tokens(self, username: str, server: str) -> int:
        """Delete the user's tokens made for this named server (their note names its URL)."""
        reply = self._call("GET", f"/users/{quote(username)}/tokens")
        if reply.status_code == 404:
            return 0
        marker = f"/{server}/"
        revoked = 0
        for token in reply.json().get("api_tokens", []):
            if marker in (token.get("note") or ""):
                self._call("DELETE", f"/users/{quote(username)}/tokens/{token['id']}")
                revoked += 1
        return revoked


@dataclass(frozen=True)
class StoppedSpace:
    project: str
    user: str
    tokens_revoked: int


def stop_closed_project_spaces(session: Session, hub: HubServers, *, actor: str) -> list[StoppedSpace]:
    """Stop every named server whose project is no longer active (expired, suspended, closed or
    unknown), revoke its tokens, and audit each stop. Run after the expiry step of the review."""
    # Server names are lower-case project codes (JupyterHub's rule for server names).
    projects = session.execute(select(Project.code, Project.status)).all()
    active = {code.lower() for code, status in projects if status == "active"}
    codes = {code.lower(): code for code, _ in projects}
    stopped = []
    for username, names in sorted(hub.servers().items()):
        for name in names:
            if name.lower() in active:
                continue
            hub.stop(username, name)
            revoked = hub.revoke_tokens(username, name)
            code = codes.get(name.lower(), name)
            audit.record(session, actor=actor, action="bubble.server_stopped", object_type="project",
                         object_id=code, reason="project is not active",
                         after={"user": username, "server": name, "tokens_revoked": revoked})
            stopped.append(StoppedSpace(code, username, revoked))
    return stopped
