"""The coding page as its own hub service: standalone Voila with a preheated kernel, behind hub login.

A coder opens the same transcript many times a day. The dashboards service (Voila as a server
extension) starts a fresh kernel per visit, and Voila preheats only when standalone; so the
coding page is served by a standalone Voila (``coding``), single-notebook, whose kernel has
already imported everything and opened the store when the coder arrives. It keeps the safety of
the dashboards:

- **Hub login.** Voila's identity provider is JupyterHub's own (OAuth with the hub, the service's
  access scope checked), so the page, the kernel websocket and Voila's APIs refuse anyone not
  signed in to the hub; ``oauth_no_confirm`` as for the dashboards.
- **The viewer reaches the kernel after the request, server-side.** Once the hub has
  authenticated a request, ``CodingIdentityProvider`` replaces the ``X-WeShare-Viewer-Ticket``
  header with a ticket it mints (``workbench.viewer_ticket``, signed, 120 s), whatever the browser
  sent; Voila passes that header to the kernel it hands out (``http_header_envs``, through its
  request-info socket for a preheated kernel), and the notebook accepts the viewer only from a
  valid ticket. The coder's scope checks then run in the domain as before.
- Voila's safe flags (no sources, no tracebacks), the page policy (``hub.page_policy``), no
  execute requests from the browser (standalone Voila's default), idle kernels culled, the
  plotly page extension denied as on every page (and the syntax-highlighting one: no code here).
- The widget extensions' content-hashed files are cached by the browser for good
  (``static_immutable_cache``): a coder's repeat visits do not ask for them again.
- **A light page.** Voila's lab frontend (~3 MB of JavaScript, run before the kernel connects)
  took most of an open. The service renders with its own template (``weshare-coding``, under
  ``coding_voila/share``): the cell's outputs as JSON and a small ES module (no build step) that
  opens the kernel's websocket, asks for the widgets' states and draws the few ipywidgets of the
  dashboard and the anywidget CodingWidget itself. Everything server-side is unchanged (OAuth,
  ticket, preheated kernel, page policy); ``?template=lab`` still gives Voila's full page.
"""

from __future__ import annotations

import hashlib
import socket
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.singleuser.extension import (
    JupyterHubIdentityProvider,
    JupyterHubOAuthCallbackHandler,
)
from jupyterhub.utils import url_path_join
from traitlets import Unicode

from hub.services import (
    KERNEL_CULL_IDLE_SECONDS,
    KERNEL_CULL_INTERVAL_SECONDS,
    KERNEL_IPC_FLAG,
    REPO_ROOT,
    VOILA_SAFE_FLAGS,
    _common_env,
    venv_bin,
)
from workbench.settings import Settings
from workbench.viewer_ticket import mint_ticket, ticket_key

__all__ = ["CODING_BASE_URL", "CODING_EXTENSION_DENYLIST", "CODING_JUPYTER_PATH", "CODING_NOTEBOOK",
           "CODING_POOL_SIZE", "CODING_TEMPLATE", "CODING_VOILA_CONFIG", "VIEWER_HEADER",
           "CodingIdentityProvider", "client_version", "coding_service"]

CODING_NOTEBOOK = REPO_ROOT / "notebooks" / "dashboards" / "coding.ipynb"
CODING_VOILA_CONFIG = REPO_ROOT / "hub" / "coding_voila"
CODING_POOL_SIZE = 1  # one kernel (~150 MB) waits; a second visit within its refill gets a fresh one
VIEWER_HEADER = "X-WeShare-Viewer-Ticket"
CODING_BASE_URL = "/services/coding/"
CODING_EXTENSION_DENYLIST = ("jupyterlab-plotly", "jupyterlab_pygments")
# Voila finds templates under <jupyter path>/voila/templates/<name>: this folder is put first.
CODING_JUPYTER_PATH = CODING_VOILA_CONFIG / "share"
CODING_TEMPLATE = "weshare-coding"


class CodingIdentityProvider(JupyterHubIdentityProvider):  # type: ignore[misc]
    """JupyterHub OAuth for standalone Voila, plus the viewer ticket for the kernel."""

    secret_key_file = Unicode("", config=True, help="The instance key file tickets are derived from.")

    def __init__(self, **kwargs: Any) -> None:
        # Voila passes the token options of its own login page; the hub's OAuth replaces them.
        for name in ("token", "login_handler_class"):
            kwargs.pop(name, None)
        super().__init__(**kwargs)
        self._key: bytes | None = None

    async def get_user(self, handler: Any) -> Any:
        headers = handler.request.headers
        if VIEWER_HEADER in headers:
            del headers[VIEWER_HEADER]  # only a ticket minted below ever reaches a kernel
        user = await super().get_user(handler)
        if user is not None:
            if self._key is None:
                self._key = ticket_key(Path(self.secret_key_file))
            headers[VIEWER_HEADER] = mint_ticket(self._key, user.username)
        return user

    def get_handlers(self) -> list[tuple[Any, ...]]:
        """The hub's OAuth callback and logout, under this service's prefix (standalone Voila
        registers them as given, where the proxy would never route them)."""
        callback = urlsplit(self.hub_auth.oauth_redirect_uri).path  # <service prefix>oauth_callback
        return [
            (url_path_join(callback.rsplit("/", 1)[0], "logout"), self.logout_handler_class),
            (callback, JupyterHubOAuthCallbackHandler, {"hub_auth": self.hub_auth}),
        ]


def client_version(folder: Path | None = None) -> str:
    """A hash of the light page's static files: their URLs carry it (``?v=``), so browsers keep
    them for good (Tornado's static handler) and fetch them again only once they have changed."""
    folder = folder or CODING_JUPYTER_PATH / "voila" / "templates" / CODING_TEMPLATE / "static"
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def coding_service(settings: Settings, *, port: int | None = None, pool_size: int = CODING_POOL_SIZE
                   ) -> dict[str, Any]:
    """The managed service; on a loopback port the OS picks at hub start unless ``port`` is given
    (only the hub's proxy talks to it)."""
    port = port or _free_port()
    environment = _common_env(settings, "coding")
    environment["JUPYTER_PATH"] = str(CODING_JUPYTER_PATH)  # the light page's template
    return {
        "name": "coding",
        "display": False,
        "url": f"http://127.0.0.1:{port}",
        "cwd": str(CODING_NOTEBOOK.parent),
        "oauth_no_confirm": True,
        "environment": environment,
        "command": [
            venv_bin("voila"), str(CODING_NOTEBOOK), "--no-browser",
            "--Voila.ip=127.0.0.1", f"--port={port}", "--Voila.port_retries=0",
            f"--base_url={CODING_BASE_URL}",
            "--preheat_kernel=True", f"--pool_size={pool_size}", f"--template={CODING_TEMPLATE}",
            KERNEL_IPC_FLAG,  # a port picked for a kernel could be taken before it binds it
            # Identity provider, viewer header, Tornado settings (page policy): see the file.
            f"--Voila.config_file_paths={CODING_VOILA_CONFIG}",
            f"--MappingKernelManager.cull_idle_timeout={KERNEL_CULL_IDLE_SECONDS}",
            f"--MappingKernelManager.cull_interval={KERNEL_CULL_INTERVAL_SECONDS}",
            *VOILA_SAFE_FLAGS,  # the extension denylist is in the config file (coding_voila/voila.py)
        ],
    }
