"""Voila config of the participant forms service (``--Voila.config_file_paths`` points here).

Tornado settings live here rather than on the command line, which can give them only as strings.
"""

from hub.page_policy import page_headers
from hub.voila_templates import share_compiled_templates

c = get_config()  # noqa: F821  (provided by the traitlets config loader)
c.Voila.tornado_settings = {
    # Without this, each page close is refused (no _xsrf cookie) and leaks a kernel.
    "disable_check_xsrf": True,
    "headers": page_headers(),
}

# Compile the page templates once for the whole server, not for every kernel (hub/voila_templates.py).
share_compiled_templates()
