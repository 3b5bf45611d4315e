"""JupyterHub login against the workbench accounts: password + TOTP, staff only, roles as groups.

The domain does the checking, the audit entries and the lockout; this class only adapts it to
JupyterHub. Database work runs in a thread so a slow store never blocks the hub's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub.auth import Authenticator
from sqlalchemy import Engine, select
from traitlets import Any as AnyTrait
from traitlets import Bool, default

from workbench import audit
from workbench.accounts import LockoutPolicy, Role, User, authenticate
from workbench.errors import AuthError
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = ["WorkbenchAuthenticator", "hub_identity"]


def hub_identity(user: Any) -> dict[str, Any]:
    """The JupyterHub view of a workbench user: name, admin flag and one group per role."""
    roles = user.role_names
    return {
        "name": user.username,
        "admin": Role.ADMINISTRATOR in roles,
        "groups": sorted(str(r) for r in roles),
    }


class WorkbenchAuthenticator(Authenticator):
    """Staff login for the hub; participants use their personal links, never the hub."""

    workbench_settings = AnyTrait(
        None, allow_none=True,
        help="workbench.settings.Settings built once by the hub config (not from the environment here).",
    ).tag(config=True)

    enable_extra_pages = Bool(
        True, help="Serve /hub/enrol, /hub/reset-password and /hub/forgot-password."
    ).tag(config=True)

    @default("request_otp")
    def _default_request_otp(self) -> bool:
        return True

    @default("otp_prompt")
    def _default_otp_prompt(self) -> str:
        return "Code (application d'authentification / authenticator app):"

    @default("manage_groups")
    def _default_manage_groups(self) -> bool:
        return True

    @default("allow_all")
    def _default_allow_all(self) -> bool:
        # Who may log in is decided by the workbench (active staff account), not by a hub list.
        return True

    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self.workbench_settings is None:
            raise RuntimeError("WorkbenchAuthenticator.workbench_settings is not configured")
        return self.workbench_settings  # type: ignore[no-any-return]

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_operational(self.settings)
        return self._engine

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        username = (data.get("username") or "").strip().lower()
        password = data.get("password") or ""
        otp = (data.get("otp") or "").replace(" ", "")
        source = getattr(getattr(handler, "request", None), "remote_ip", None) or "unknown"
        if not username or not password:
            return None
        return await asyncio.to_thread(self.check_credentials, username, password, otp, source)

    def check_credentials(self, username: str, password: str, otp: str, source: str) -> dict[str, Any] | None:
        """Blocking check; commits the audit entry and lockout counters whether or not it succeeds."""
        cfg = self.settings
        policy = LockoutPolicy(cfg.lockout_threshold, cfg.lockout_base_seconds, cfg.lockout_max_seconds)
        with session_scope(self.engine) as session:
            try:
                user = authenticate(session, username, password, otp, source=source, policy=policy)
            except AuthError:
                return None  # session_scope commits: the failure and the lockout are kept
            if not user.is_staff:
                audit.record(session, actor=username, action="login.refused", object_type="user",
                             object_id=username, reason="the hub is for staff accounts only",
                             after={"source": source})
                return None
            identity = hub_identity(user)
        self.log.info("workbench login for %s (groups: %s)", identity["name"], ",".join(identity["groups"]))
        return identity

    async def refresh_user(self, user: Any, handler: Any = None) -> dict[str, Any] | bool:
        """Re-read roles every ``auth_refresh_age``: a disabled or demoted account is signed out."""
        identity = await asyncio.to_thread(self.current_identity, user.name)
        return identity if identity is not None else False

    def current_identity(self, username: str) -> dict[str, Any] | None:
        with session_scope(self.engine) as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None or not user.active or not user.is_staff:
                return None
            return hub_identity(user)

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        handlers = super().get_handlers(app)
        if self.enable_extra_pages:
            from hub.pages import page_handlers

            handlers.extend(page_handlers())
        return handlers
