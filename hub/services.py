"""The hub's managed services, built from Settings so the config file stays a list of assignments.

- ``dashboards``: staff Voila behind hub login (a shared ``jupyterhub-singleuser`` with the Voila
  server extension, OAuth through the hub). The viewer's hub username is injected server-side by a
  Voila prelaunch hook (``hub.voila_hooks``), so the dashboard can scope what it lists.
- ``warehouse-gateway``: the secure bubble's data gateway (``python -m secure_bubble.gateway``),
  started only once the trusted party is initialised (its master key exists), on
  ``gateway_port`` (``WESHARE_GATEWAY_PORT``).
- ``forms``: participant Voila, standalone, with preheated kernels. It has no hub login: a
  participant is recognised by the personal token in the link (``?access=``), checked by the domain.
- ``mail``: the outbox worker (``weshare mail worker``): queues each day's invitations and
  reminders and delivers the outbox to ``smtp_host:smtp_port``. No URL: nothing connects to it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from workbench.settings import Settings
from workbench.trusted_party import default_master_key_path

__all__ = [
    "FORMS_POOL_SIZE",
    "KERNEL_CULL_IDLE_SECONDS",
    "KERNEL_IPC_FLAG",
    "REPO_ROOT",
    "VOILA_PAGE_FLAGS",
    "VOILA_SAFE_FLAGS",
    "dashboards_service",
    "forms_pools_flag",
    "forms_service",
    "gateway_port",
    "gateway_ready",
    "gateway_service",
    "mail_service",
    "managed_services",
    "proxy_command",
    "settings_environment",
    "venv_bin",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMS_VOILA_CONFIG = REPO_ROOT / "hub" / "forms_voila"
FORMS_POOL_SIZE = 4
FORMS_BURST_NOTEBOOK = "home.ipynb"
KERNEL_CULL_IDLE_SECONDS = 600
MAIL_INTERVAL_SECONDS = 10
KERNEL_CULL_INTERVAL_SECONDS = 60
# Voila's own defaults already hide sources and tracebacks; we state them so a changed default
# upstream cannot expose code or row-level values in an error to a viewer.
VOILA_SAFE_FLAGS = ["--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False"]
# Kernels on Unix sockets, not TCP ports. jupyter_client picks a free port, then the kernel binds
# it about a second later; any process may take it meanwhile (seen under a burst of forms, and in
# a CI run with two test workers), and Voila then waits forever on that kernel's heartbeat.
# Standalone Voila keeps its kernels' sockets in a short ``/tmp/voila_*`` folder (a socket path
# is at most 107 bytes); the dashboards server is given one (``hub/dashboards_server_config.py``).
KERNEL_IPC_FLAG = "--KernelManager.transport=ipc"
# Every figure of the dashboards and forms is a plotly FigureWidget (an anywidget that brings its
# own plotly.js, only on a page that shows one); the jupyterlab-plotly extension renders only
# `fig.show()` output, which no page uses, yet every page would load and parse its 4.8 MB.
# The dashboards service (Voila as a server extension) reads it from its config file instead: given
# on that command line, the list reaches Voila as None and every page fails with a 500.
VOILA_PAGE_FLAGS = [*VOILA_SAFE_FLAGS, "--VoilaConfiguration.extension_denylist=jupyterlab-plotly"]


def venv_bin(name: str) -> str:
    """A console script next to the running interpreter (the project venv)."""
    return str(Path(sys.executable).parent / name)


def proxy_command(settings: Settings) -> list[str]:
    """The pinned npm proxy if installed (instance's, then checkout's), else the PyPI port."""
    for root in (settings.home, REPO_ROOT / "var"):
        chp = root / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
        if chp.exists():
            return [str(chp)]
    return [venv_bin("configurable-http-proxy")]


def settings_environment(settings: Settings) -> dict[str, str]:
    """``WESHARE_*`` variables that rebuild exactly these settings in a child process.

    Managed services do not inherit the hub's environment, so their kernels get it from here.
    """
    env: dict[str, str] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        value = getattr(settings, f.name)
        env["WESHARE_" + f.name.upper()] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def _common_env(settings: Settings, name: str) -> dict[str, str]:
    runtime = settings.home / "hub" / "runtime" / name
    env = settings_environment(settings)
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def dashboards_service(settings: Settings, *, as_root: bool) -> dict[str, Any]:
    notebooks = REPO_ROOT / "notebooks" / "dashboards"
    command = [
        venv_bin("jupyterhub-singleuser"),
        f"--config={REPO_ROOT / 'hub' / 'dashboards_server_config.py'}",
        f"--ServerApp.root_dir={notebooks}",
        *VOILA_SAFE_FLAGS,  # the extension denylist is in dashboards_server_config.py (see there)
    ]
    if as_root:
        command.append("--allow-root")
    return {
        "name": "dashboards",
        "url": f"http://127.0.0.1:{settings.dashboards_port}",
        "cwd": str(notebooks),
        "oauth_no_confirm": True,
        "environment": _common_env(settings, "dashboards"),
        "command": command,
    }


def forms_pools_flag(pool_size: int) -> str:
    """Preheat ``pool_size`` kernels for the questionnaire page, one for each other page.

    Voila's ``pool_size`` applies to every notebook of the folder; participants arrive in bursts
    on ``home.ipynb`` (after the invitations go out), rarely at once on the other pages.
    """
    pools = {"default": {"pool_size": 1}, FORMS_BURST_NOTEBOOK: {"pool_size": pool_size}}
    return f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}"


def forms_service(settings: Settings, *, pool_size: int = FORMS_POOL_SIZE) -> dict[str, Any]:
    notebooks = REPO_ROOT / "notebooks" / "forms"
    env = _common_env(settings, "forms")
    # The forms' own python3 kernel spec: kernels forked from a zygote (hub.kernel_fork).
    env["JUPYTER_PATH"] = str(FORMS_VOILA_CONFIG)
    return {
        "name": "forms",
        "display": False,
        "url": f"http://127.0.0.1:{settings.forms_port}",
        "cwd": str(notebooks),
        "environment": env,
        "command": [
            venv_bin("voila"), ".", "--no-browser",
            "--Voila.ip=127.0.0.1", f"--port={settings.forms_port}", "--Voila.port_retries=0",
            "--base_url=/services/forms/",
            "--preheat_kernel=True", f"--pool_size={pool_size}", forms_pools_flag(pool_size),
            KERNEL_IPC_FLAG,  # a port could be taken before the kernel bound it (see there)
            # Tornado settings (no _xsrf check on page close, the page policy): see the file.
            f"--Voila.config_file_paths={FORMS_VOILA_CONFIG}",
            f"--MappingKernelManager.cull_idle_timeout={KERNEL_CULL_IDLE_SECONDS}",
            f"--MappingKernelManager.cull_interval={KERNEL_CULL_INTERVAL_SECONDS}",
            *VOILA_PAGE_FLAGS,
        ],
    }


def gateway_port(settings: Settings) -> int:
    return settings.gateway_port


def gateway_service(settings: Settings) -> dict[str, Any]:
    env = _common_env(settings, "gateway")
    if os.environ.get("WESHARE_TTP_MASTER_KEY"):
        env["WESHARE_TTP_MASTER_KEY"] = os.environ["WESHARE_TTP_MASTER_KEY"]
    return {
        "name": "warehouse-gateway",
        "display": False,
        "url": f"http://127.0.0.1:{gateway_port(settings)}",
        "cwd": str(settings.home),
        "environment": env,
        "command": [sys.executable, "-m", "secure_bubble.gateway"],
    }


def gateway_ready(settings: Settings) -> bool:
    """The gateway cannot start without the trusted party's master key (``weshare ttp init``)."""
    key = os.environ.get("WESHARE_TTP_MASTER_KEY")
    return Path(key).exists() if key else default_master_key_path(settings).exists()


def mail_service(settings: Settings) -> dict[str, Any]:
    env = _common_env(settings, "mail")
    if os.environ.get("WESHARE_TTP_MASTER_KEY"):  # participant addresses come from the trusted party
        env["WESHARE_TTP_MASTER_KEY"] = os.environ["WESHARE_TTP_MASTER_KEY"]
    return {
        "name": "mail",
        "display": False,
        "cwd": str(settings.home),
        "environment": env,
        "command": [sys.executable, "-m", "workbench.cli", "mail", "worker",
                    f"--interval={MAIL_INTERVAL_SECONDS}"],
    }


def managed_services(settings: Settings, *, as_root: bool) -> list[dict[str, Any]]:
    services = [dashboards_service(settings, as_root=as_root), forms_service(settings), mail_service(settings)]
    if gateway_ready(settings):
        services.append(gateway_service(settings))
    return services
