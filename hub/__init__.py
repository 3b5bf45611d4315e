"""JupyterHub side of the workbench: login, managed services, and the up/down operations.

Modules: ``authenticator`` (WorkbenchAuthenticator, entry point ``weshare``), ``pages`` (enrolment,
reset, forgotten password), ``services`` (dashboards and forms service specs), ``voila_hooks``
(viewer injection), ``readonly_contents``, ``kernel_fork`` (forms kernels forked from a zygote),
``ops`` (``python -m hub.ops up|down|status``), ``testing`` (a live hub on free ports for tests and
benchmarks). ``jupyterhub_config.py`` and ``dashboards_server_config.py`` are config files, not
modules to import.

The names below are imported on first use: a forms kernel's zygote imports ``hub.kernel_fork``
and must not pay for JupyterHub.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["WorkbenchAuthenticator", "dashboards_service", "forms_service", "managed_services"]

_HOMES = {"WorkbenchAuthenticator": "hub.authenticator", "dashboards_service": "hub.services",
          "forms_service": "hub.services", "managed_services": "hub.services"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'hub' has no attribute {name!r}")
