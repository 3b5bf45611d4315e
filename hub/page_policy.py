"""What a Voila page of the workbench may load: its own server only.

Voila's page templates link Font Awesome from cdn.jsdelivr.net, so every page a participant or a
staff member opens would tell a third party their address and when they filled in a form (the
widgets bundle their own icons: nothing is lost). A Content-Security-Policy refuses that and any
other outside request, whatever a later template or widget adds. What Voila itself needs stays
allowed: its inline page configuration, ``eval`` in some widget libraries, ``blob:`` modules
(anywidget), ``data:`` fonts and images, the kernel's websocket.
"""

from __future__ import annotations

__all__ = ["CONTENT_SECURITY_POLICY", "page_headers"]

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "worker-src 'self' blob:",
    "frame-ancestors 'self'",
    "form-action 'self'",
    "base-uri 'self'",
])


def page_headers() -> dict[str, str]:
    """Headers for the Tornado settings of the dashboards and forms services."""
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
