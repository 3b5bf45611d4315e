"""Jupyter server config for the shared staff dashboards service (read by jupyterhub-singleuser).

Only Voila is served: JupyterLab, the classic notebook and terminals are switched off, so a staff
member reaching this service gets dashboards, not a shell running as the service's user.
"""

import atexit
import os
import shutil
import tempfile

from hub.page_policy import page_headers
from hub.readonly_contents import ReadOnlyContentsManager
from hub.voila_hooks import inject_viewer

c = get_config()  # noqa: F821  (provided by the traitlets config loader)
c.ServerApp.jpserver_extensions = {
    "voila.server_extension": True,
    "jupyterlab": False,
    "notebook": False,
    "jupyter_lsp": False,
    "jupyter_server_terminals": False,
    "nbclassic": False,
}
c.ServerApp.terminals_enabled = False
c.ServerApp.tornado_settings = {"headers": page_headers()}  # this server only (hub/page_policy.py)
c.ServerApp.contents_manager_class = ReadOnlyContentsManager
# Like standalone Voila: the browser may talk to widgets, never ask a kernel to execute code.
c.MappingKernelManager.allowed_message_types = [
    "comm_open", "comm_close", "comm_msg", "comm_info_request", "kernel_info_request", "shutdown_request",
]
c.ServerApp.default_url = "/voila/render/studies.ipynb"
c.VoilaConfiguration.prelaunch_hook = inject_viewer
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.strip_sources = True
# Figures are plotly FigureWidgets (they bring their own plotly.js); the jupyterlab-plotly page
# extension would add 4.8 MB of JavaScript to every page for nothing (see hub/services.py).
c.VoilaConfiguration.extension_allowlist = []
c.VoilaConfiguration.extension_denylist = ["jupyterlab-plotly"]
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
# Kernels on Unix sockets (see KERNEL_IPC_FLAG in hub/services.py), in a private folder of a short
# path: under the instance's runtime folder a socket path could pass the 107-byte limit. The
# server puts its kernels' files in its runtime folder whatever the kernel manager is told, and
# reads that folder from the environment only once this file has run.
c.KernelManager.transport = "ipc"
os.environ["JUPYTER_RUNTIME_DIR"] = _sockets = tempfile.mkdtemp(prefix="weshare-kernels-")
atexit.register(shutil.rmtree, _sockets, ignore_errors=True)
