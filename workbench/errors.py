"""Errors a user can act on: each carries one line saying what is wrong and where.

The CLI and the dashboards print ``str(error)`` and nothing else; tracebacks are for bugs only.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "NotFoundError",
    "PermissionDenied",
    "SchemaOutOfDate",
    "StoreUnavailable",
    "ValidationError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base of every error meant for a person rather than a developer."""


class ConfigError(WorkbenchError):
    """A setting is missing or malformed; the message names the setting."""


class StoreUnavailable(WorkbenchError):
    """A database could not be reached; the message names the setting that points at it."""


class SchemaOutOfDate(WorkbenchError):
    """The operational store is not at the code's migration head."""


class ValidationError(WorkbenchError):
    """Input is wrong; ``where`` says which file, row or field."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class NotFoundError(WorkbenchError):
    """The named object does not exist (or is not visible to the caller)."""


class ConflictError(WorkbenchError):
    """The request clashes with the current state (already done, wrong status, duplicate)."""


class PermissionDenied(WorkbenchError):
    """The caller lacks the role or scope for this action."""


class AuthError(WorkbenchError):
    """Login failed. The message is deliberately generic so it reveals nothing."""

    GENERIC = "Invalid username, password or code."

    def __init__(self, reason: str = "invalid") -> None:
        # ``reason`` is for the audit log only; people see the generic message.
        self.reason = reason
        super().__init__(self.GENERIC)
