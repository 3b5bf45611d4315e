"""Jupyter server config for a project space (a named server; read by jupyterhub-singleuser).

JupyterLab stays (researchers write notebooks), but the routes that hand files to the browser as
downloads or exports are refused (``hub.no_downloads``), terminals are off, hidden files are not
served, and idle kernels are culled. What this cannot prevent is stated in docs/security.md.
"""

c = get_config()  # noqa: F821  (provided by the traitlets config loader)
c.ServerApp.extra_services = ["hub.no_downloads"]
c.ServerApp.terminals_enabled = False
c.ServerApp.jpserver_extensions = {"jupyter_server_terminals": False}
c.ContentsManager.allow_hidden = False
c.FileContentsManager.delete_to_trash = False
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 300
