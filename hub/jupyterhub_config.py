"""JupyterHub configuration: the entry point that builds Settings once and wires the hub.

Run with ``jupyterhub -f hub/jupyterhub_config.py`` (``make up`` does it). Everything comes from
``WESHARE_*`` variables through ``load_settings``; this file only assigns traits.
"""

import os

from hub.coding_service import coding_service
from hub.services import REPO_ROOT, managed_services, proxy_command, venv_bin
from hub.spawn import (
    access_review_role,
    access_review_service,
    hub_gateway_url,
    project_token_scopes,
)
from workbench.settings import load_settings

c = get_config()
settings = load_settings()
state = settings.home / "hub"
state.mkdir(parents=True, exist_ok=True)
as_root = os.geteuid() == 0

# Network: the proxy is the only public listener; the hub API and services stay on loopback.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings.hub_port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_api_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.command = proxy_command(settings)

# Hub state lives with the instance's data, never in the checkout.
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.template_paths = [str(REPO_ROOT / "hub" / "templates")]

# Login: workbench accounts, password + TOTP, staff only, roles as groups.
c.JupyterHub.authenticator_class = "weshare"
c.WorkbenchAuthenticator.workbench_settings = settings
c.JupyterHub.default_url = "/services/dashboards/"
c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", "access:services"]}]

# Project spaces: one named server per approved project (name = project code), checked against
# the governance store before it starts; its token reaches the warehouse gateway and nothing else.
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 10
c.JupyterHub.spawner_class = "hub.spawn.ProjectSpawner"
c.ProjectSpawner.workbench_settings = settings
c.ProjectSpawner.gateway_url = hub_gateway_url(settings)
c.ProjectSpawner.project_server_config = str(REPO_ROOT / "hub" / "project_server_config.py")
c.ProjectSpawner.server_token_scopes = project_token_scopes
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [venv_bin("jupyterhub-singleuser")]
# A single-user server imports jupyter_server (~6 s of CPU on a loaded 2-core box): the default
# 30 s before giving up on it killed project spaces that were merely slow to come up.
c.Spawner.http_timeout = 90
c.Spawner.args = ["--allow-root"] if as_root else []

# `weshare access review` stops expired projects' servers and revokes their tokens with this
# service's token (read from a 0600 file in the hub state; no process runs for it).
# The coding page has its own preheated Voila behind hub login (hub/coding_service.py).
c.JupyterHub.services = [*managed_services(settings, as_root=as_root), coding_service(settings),
                         access_review_service(settings)]
c.JupyterHub.load_roles.append(access_review_role())
c.JupyterHub.log_datefmt = "%Y-%m-%d %H:%M:%S"
(state / "runtime").mkdir(exist_ok=True)
