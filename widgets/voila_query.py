"""The participant's query string in a Voila kernel, without importing Voila into the kernel.

``voila.utils.get_query_string`` is the documented way, but importing ``voila.utils`` pulls in
jupyter_server and jupyterlab_server: 3–7 CPU-seconds on this machine in *every* forms kernel,
preheated or not, which is what refilling the preheated pool costs under a burst of arrivals.
This module speaks the same small protocol with ``websockets`` only (~35 ms): in a preheated
kernel (``VOILA_PREHEAT=True``) it connects to ``…voila/query/<kernel id>``, receives the request's
variables as JSON once a visitor takes the kernel, and puts them in the environment; otherwise
the variables are already there. ``tests/forms/test_voila_query.py`` pins the protocol to the
installed Voila's own names, so a Voila upgrade that changes it fails there.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading

__all__ = ["ENV", "get_query_string", "preheated", "query_url", "receive_request"]

# Names as in voila.utils.ENV_VARIABLE (checked against it by the tests).
ENV = {
    "preheat": "VOILA_PREHEAT", "kernel_id": "VOILA_KERNEL_ID", "server_url": "VOILA_SERVER_URL",
    "app_ip": "VOILA_APP_IP", "app_port": "VOILA_APP_PORT", "ws_protocol": "VOILA_WS_PROTOCOL",
    "ws_base_url": "VOILA_WS_BASE_URL", "query_string": "QUERY_STRING",
}


def query_url(environ: dict[str, str] | None = None) -> str:
    """Where a preheated kernel waits for its visitor's request (as ``voila.utils.wait_for_request``)."""
    env = os.environ if environ is None else environ
    protocol = env.get(ENV["ws_protocol"], "ws")
    ip = env.get(ENV["app_ip"], "127.0.0.1")
    port = env.get(ENV["app_port"], "8866")
    base = env.get(ENV["ws_base_url"], env.get(ENV["server_url"], "/"))
    return f"{protocol}://{ip}:{port}{base}voila/query/{env.get(ENV['kernel_id'])}"


CONNECT_TRIES = 12  # a refused try takes ~1 s, a try that gets no answer up to 11 s


async def _receive(url: str, tries: int = CONNECT_TRIES) -> str | None:
    """The visitor's variables; ``None`` only when Voila could not be reached at all.

    A preheated kernel connects long before its visitor arrives, possibly before the service
    accepts connections or while it is too busy to answer; giving up after one failed connect
    would leave the kernel rendering a "bad link" page for whoever takes it, so it retries.
    """
    import websockets

    for _ in range(tries):
        try:
            async with websockets.connect(url, open_timeout=10) as socket:
                message = await socket.recv()
        except (TimeoutError, OSError):
            await asyncio.sleep(1)
            continue
        return message if isinstance(message, str) else message.decode()
    return None


def preheated() -> bool:
    """Whether this kernel was started before its visit (its request variables come later)."""
    return os.environ.get(ENV["preheat"], "False") != "False"


def get_query_string() -> str:
    """The page's query string (e.g. ``access=TOKEN``); blocks in a preheated kernel until a visit."""
    if preheated():
        received: list[str | None] = []
        # The kernel's own event loop is running this cell: talk to Voila from a thread of our own.
        worker = threading.Thread(target=lambda: received.append(asyncio.run(_receive(query_url()))))
        worker.start()
        worker.join()
        if received and received[0] is not None:
            for key, value in json.loads(received[0]).items():
                os.environ[key] = value
    return os.environ.get(ENV["query_string"], "")


async def receive_request() -> None:
    """``get_query_string`` without blocking the kernel: awaited on the kernel's own event loop
    (a task scheduled by a cell that has already returned), it puts the visitor's request
    variables in the environment once a visitor takes this preheated kernel."""
    if not preheated():
        return  # a kernel started for its request already has them
    message = await _receive(query_url())
    if message is not None:
        for key, value in json.loads(message).items():
            os.environ[key] = value
