"""JupyterHub configuration: the entry point that builds Settings once and wires the hub.

Run with ``jupyterhub -f hub/jupyterhub_config.py`` (``make up`` does it). Everything comes from
``WESHARE_*`` variables through ``load_settings``; this file only assigns traits.
"""

import os

from hub.services import REPO_ROOT, managed_services, proxy_command, venv_bin
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

# Researchers' own servers (per-project spawning comes with the secure bubble).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [venv_bin("jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if as_root else []

c.JupyterHub.services = managed_services(settings, as_root=as_root)
c.JupyterHub.log_datefmt = "%Y-%m-%d %H:%M:%S"
(state / "runtime").mkdir(exist_ok=True)
