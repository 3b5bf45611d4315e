"""Jupyter server handlers that refuse the download and export routes of a project space.

Loaded through ``ServerApp.extra_services``, whose handlers are matched before the defaults: the
raw file route (``/files/``, used by "Download" in JupyterLab), notebook export (``/nbconvert/``)
and the file viewer (``/view/``) answer 403 in French and English. The contents API itself stays:
JupyterLab needs it to open and save notebooks (see docs/security.md for what that leaves open).
"""

from __future__ import annotations

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

__all__ = ["REFUSAL", "default_handlers"]

REFUSAL = ("Téléchargement et export désactivés dans l'espace projet ; passez par le sas de sortie. / "
           "Downloads and exports are switched off in a project space; use the airlock.")


class NoDownloadHandler(JupyterHandler):  # type: ignore[misc]
    def _refuse(self, *args: str) -> None:
        raise web.HTTPError(403, REFUSAL)

    get = head = post = _refuse


default_handlers = [
    (r"/files/.*", NoDownloadHandler),
    (r"/nbconvert/.*", NoDownloadHandler),
    (r"/view/.*", NoDownloadHandler),
]
