"""Project spaces: one named JupyterHub server per project member and approved project.

The server name is the project code in lower case (JupyterHub accepts only lower-case slugs:
project ``P2026-0001`` is server ``p2026-0001``). Before anything starts, the spawner asks the operational
store whether the project is approved, unexpired and whether the user is one of its researchers;
any refusal is audited and shown to the user in French and English. A started server gets:

- a JupyterHub API token scoped to the warehouse gateway only (``server_token_scopes``), which the
  kernel's ``secure_bubble.client.Warehouse`` reads from ``JUPYTERHUB_API_TOKEN``;
- ``WESHARE_PROJECT``, ``WESHARE_GATEWAY_URL`` and ``WESHARE_ENVIRONMENT`` (which kernel
  environment from ``environments/kernels`` the project uses);
- its own home directory per project (per-project storage);
- never a database URL, a warehouse path or a key: every ``WESHARE_*`` variable of the hub is
  dropped from the server's environment.

The default (unnamed) server stays available to staff as a plain server without any data token.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jupyterhub.spawner import SimpleLocalProcessSpawner
from sqlalchemy.orm import Session
from tornado.web import HTTPError
from traitlets import Any as AnyTrait
from traitlets import Dict, Unicode

from secure_bubble.access import REVIEW_TOKEN_FILE
from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import PermissionDenied
from workbench.governance.models import Project
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "ENVIRONMENTS_DIR",
    "GATEWAY_SERVICE",
    "REVIEW_SERVICE",
    "ProjectSpawner",
    "access_review_role",
    "access_review_service",
    "check_project_space",
    "hub_gateway_url",
    "project_token_scopes",
    "server_name",
]

ENVIRONMENTS_DIR = Path(__file__).resolve().parent.parent / "environments" / "kernels"
DEFAULT_ENVIRONMENT = "bubble-qol"
GATEWAY_SERVICE = "warehouse-gateway"
# Never handed to a bubble server, whatever the hub's own environment holds.
FORBIDDEN_ENV_PREFIXES = ("WESHARE_",)
ALLOWED_WESHARE = frozenset({"WESHARE_PROJECT", "WESHARE_GATEWAY_URL", "WESHARE_ENVIRONMENT"})


def server_name(project_code: str) -> str:
    """The named server of a project (JupyterHub server names are lower-case slugs)."""
    return project_code.lower()


def check_project_space(session: Session, project_code: str, username: str, *,
                        now: datetime | None = None) -> Project:
    """The project if ``username`` may open its space now (code matched in any case); audited
    either way.

    Same rule as the gateway: an active, unexpired project and a researcher role scoped to it.
    """
    project = session.execute(
        sa.select(Project).where(sa.func.lower(Project.code) == project_code.lower())).scalar_one_or_none()
    at = now or datetime.now(UTC)
    reason = None
    if project is None:
        reason = "unknown project"
    elif project.status != "active":
        reason = f"project is {project.status}"
    elif project.expires_at <= at:
        reason = "project is expired"
    else:
        user = session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        member = user is not None and user.active and any(
            a.role == Role.RESEARCHER and a.scope_type == "project" and a.scope_id == project.code
            for a in user.roles)
        if not member:
            reason = "not a researcher of this project"
    if reason is not None:
        audit.record(session, actor=username, action="bubble.spawn_refused", object_type="project",
                     object_id=project.code if project is not None else project_code, reason=reason)
        raise PermissionDenied(f"no project space {project_code}: {reason}")
    assert project is not None
    audit.record(session, actor=username, action="bubble.spawn", object_type="project",
                 object_id=project.code)
    return project


def project_token_scopes(spawner: Any) -> list[str]:
    """Scopes of a server's ``JUPYTERHUB_API_TOKEN``: the gateway only for a project space.

    ``users:activity!user`` and access to the server itself are what the single-user server needs
    to report activity and log its owner in; nothing else reaches the hub API with this token.
    """
    own = ["users:activity!user", "access:servers!server"]
    if spawner.name:
        return [f"access:services!service={GATEWAY_SERVICE}", *own]
    return own


def _refusal(reason: str) -> str:
    return (f"Espace projet refusé / project space refused: {reason}. "
            "Demandez au gestionnaire des données / ask your data steward.")


class ProjectSpawner(SimpleLocalProcessSpawner):  # type: ignore[misc]
    """SimpleLocalProcessSpawner that opens a named server only for an approved project's member."""

    workbench_settings = AnyTrait(
        None, allow_none=True, help="workbench Settings built once by the hub config.",
    ).tag(config=True)
    gateway_url = Unicode(
        "", help="URL of the warehouse gateway as the kernel reaches it (through the proxy).",
    ).tag(config=True)
    project_environments = Dict(
        key_trait=Unicode(), value_trait=Unicode(),
        help="Kernel environment (a file stem under environments/kernels) per project code; "
             f"{DEFAULT_ENVIRONMENT} otherwise.",
    ).tag(config=True)
    project_server_config = Unicode(
        "", help="Jupyter server config file for project spaces (downloads and exports off).",
    ).tag(config=True)

    _engine: sa.Engine | None = None
    _project_code: str = ""

    @property
    def settings(self) -> Settings:
        if self.workbench_settings is None:
            raise RuntimeError("ProjectSpawner.workbench_settings is not configured")
        return self.workbench_settings  # type: ignore[no-any-return]

    def _check(self) -> Project:
        if self._engine is None:
            self._engine = open_operational(self.settings)
        with session_scope(self._engine) as session:
            try:
                project = check_project_space(session, self.name, self.user.name)
            except PermissionDenied as exc:
                failure: PermissionDenied | None = exc
            else:
                failure = None
                session.expunge(project)
        if failure is not None:  # the refusal's audit entry is committed before answering
            raise failure
        return project

    def environment_name(self) -> str:
        """The project's kernel environment; refuses a name with no spec in environments/."""
        name = self.project_environments.get(self._project_code or self.name, DEFAULT_ENVIRONMENT)
        if not (ENVIRONMENTS_DIR / f"{name}.yml").is_file():
            raise HTTPError(500, _refusal(f"environment {name!r} is not defined in environments/kernels"))
        return name

    def _project_home(self) -> str:
        base = self.home_dir_template.format(username=self.user.name)
        return str(Path(base) / "projects" / self.name) if self.name else base

    async def start(self) -> Any:
        if self.name:
            try:
                self._project_code = (await asyncio.to_thread(self._check)).code
            except PermissionDenied as exc:
                reason = str(exc).split(": ", 1)[-1]
                self.log.warning("project space %s refused for %s: %s", self.name, self.user.name, reason)
                raise HTTPError(403, _refusal(reason)) from None
            self.home_dir = self._project_home()
        return await super().start()

    def get_args(self) -> list[str]:
        args: list[str] = super().get_args()
        if self.name and self.project_server_config:
            args.append(f"--config={self.project_server_config}")
        return args

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        for key in list(env):
            if key.startswith(FORBIDDEN_ENV_PREFIXES) and key not in ALLOWED_WESHARE:
                del env[key]
        if self.name:
            env["WESHARE_PROJECT"] = self._project_code or self.name
            env["WESHARE_GATEWAY_URL"] = self.gateway_url
            env["WESHARE_ENVIRONMENT"] = self.environment_name()
        return env


def hub_gateway_url(settings: Settings) -> str:
    """The gateway as a kernel on this machine reaches it: through the proxy's service route."""
    return f"http://127.0.0.1:{settings.hub_port}/services/{GATEWAY_SERVICE}"


REVIEW_SERVICE = "access-review"


def access_review_service(settings: Settings) -> dict[str, Any]:
    """A process-less service whose token lets ``weshare access review`` stop project spaces.

    The token is made once, kept in a 0600 file in the hub state, and read by the CLI.
    """
    path = settings.home / REVIEW_TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return {"name": REVIEW_SERVICE, "display": False, "api_token": path.read_text().strip()}


def access_review_role() -> dict[str, Any]:
    """Just enough to find project servers, stop them and revoke their tokens."""
    return {"name": REVIEW_SERVICE, "services": [REVIEW_SERVICE],
            "scopes": ["list:users", "read:users", "read:servers", "servers", "tokens"]}
