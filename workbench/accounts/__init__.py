"""Accounts, roles, two-factor login and one-time links."""

from workbench.accounts.links import (
    complete_link,
    issue_link,
    link_url,
    peek_link,
    reset_password_for,
)
from workbench.accounts.login import LockoutPolicy, authenticate
from workbench.accounts.models import (
    SCOPED_ROLES,
    STAFF_ROLES,
    OneTimeLink,
    Role,
    RoleAssignment,
    User,
)
from workbench.accounts.service import (
    add_user,
    get_user,
    grant_role,
    list_users,
    parse_role,
    revoke_role,
    set_password,
)

__all__ = [
    "SCOPED_ROLES",
    "STAFF_ROLES",
    "LockoutPolicy",
    "OneTimeLink",
    "Role",
    "RoleAssignment",
    "User",
    "add_user",
    "authenticate",
    "complete_link",
    "get_user",
    "grant_role",
    "issue_link",
    "link_url",
    "list_users",
    "parse_role",
    "peek_link",
    "reset_password_for",
    "revoke_role",
    "set_password",
]
