"""Run the gateway as a JupyterHub managed service (reads the JUPYTERHUB_* service variables)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from tornado.ioloop import IOLoop

from secure_bubble.gateway.app import GatewayContext, make_app
from secure_bubble.gateway.hub_tokens import HubTokenValidator
from secure_bubble.gateway.memory import keep_freed_memory
from workbench.runtime import open_operational
from workbench.settings import Settings, load_settings
from workbench.trusted_party import open_trusted_party
from workbench.warehouse import connect


def build_context(settings: Settings) -> GatewayContext:
    """The stores and the hub's token check, as the settings and the hub's service variables say."""
    return GatewayContext(
        operational=open_operational(settings), warehouse=connect(settings.warehouse_url),
        trusted_party=open_trusted_party(settings),
        tokens=HubTokenValidator(os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
                                 service=os.environ.get("JUPYTERHUB_SERVICE_NAME", "warehouse-gateway")),
        max_extracts=settings.gateway_max_extracts, stream_seconds=float(settings.gateway_stream_seconds),
    )


def main() -> None:
    settings = load_settings()
    if settings.gateway_keep_memory:
        keep_freed_memory()  # before the first thread (DuckDB's, the gateway's own) allocates
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8890"))
    app = make_app(build_context(settings), os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/warehouse-gateway/"))
    app.listen(url.port or 8890, address=url.hostname or "127.0.0.1")
    IOLoop.current().start()


if __name__ == "__main__":
    main()
