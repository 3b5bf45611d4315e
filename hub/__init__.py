"""JupyterHub side of the workbench: login, managed services, and the up/down operations.

Modules: ``authenticator`` (WorkbenchAuthenticator, entry point ``weshare``), ``pages`` (enrolment,
reset, forgotten password), ``services`` (dashboards and forms service specs), ``voila_hooks``
(viewer injection), ``readonly_contents``, ``ops`` (``python -m hub.ops up|down|status``),
``testing`` (a live hub on free ports for tests and benchmarks). ``jupyterhub_config.py`` and
``dashboards_server_config.py`` are config files, not modules to import.
"""

from hub.authenticator import WorkbenchAuthenticator
from hub.services import dashboards_service, forms_service, managed_services

__all__ = ["WorkbenchAuthenticator", "dashboards_service", "forms_service", "managed_services"]
