"""Voila config of the coding service (``--Voila.config_file_paths`` points here); see hub/coding_service.py.

Tornado settings, the identity provider and its key file live here rather than on the command line,
which can give them only as strings.
"""

from hub.coding_service import (
    CODING_BASE_URL,
    CODING_EXTENSION_DENYLIST,
    VIEWER_HEADER,
    CodingIdentityProvider,
    client_version,
)
from hub.page_policy import page_headers
from workbench.settings import load_settings

c = get_config()  # noqa: F821  (provided by the traitlets config loader)
c.Voila.tornado_settings = {
    # Without this, each page close is refused (no _xsrf cookie) and leaks a kernel.
    "disable_check_xsrf": True,
    "headers": page_headers(),
    # Widget extensions' files are named by their content hash: a coder's browser keeps them
    # instead of asking again on every visit (Voila revalidates each, ~0.3 s per visit here).
    "static_immutable_cache": [f"{CODING_BASE_URL}voila/labextensions/"],
}
# As every page (hub/services.py), plus the syntax-highlighting styles: this page shows no code.
c.VoilaConfiguration.extension_denylist = list(CODING_EXTENSION_DENYLIST)
# Hub login (OAuth); the viewer ticket it mints is the only header Voila passes to the kernel.
c.Voila.identity_provider_class = CodingIdentityProvider
c.CodingIdentityProvider.secret_key_file = str(load_settings().secret_key_file)
c.VoilaConfiguration.http_header_envs = [VIEWER_HEADER]
# The light page (template weshare-coding) names its static files with this version.
c.VoilaConfiguration.resources = {"weshare_coding": {"version": client_version()}}
