"""The zygote: one process that has imported a page's modules once, and forks a kernel per request.

A forms kernel started from scratch spends about two CPU-seconds importing ipykernel, ipywidgets,
SQLAlchemy and the workbench before its participant arrives; at 100 arrivals a minute that alone
fills two cores. Forked from this process, a kernel inherits those modules already imported and
only builds its own kernel application (sockets, threads, shell).

Protocol, on a Unix socket in a 0700 folder: the provisioner sends one JSON line
``{"argv": [...], "env": {...}, "cwd": "..."}``; the *child* answers ``{"pid": N}`` once it leads its
own session (so a signal to its process group never reaches the zygote), then runs the kernel.
Anything else gets ``{"error": ...}`` and the zygote keeps serving.

Lifetimes: the zygote and every kernel it forked watch the forms server itself (a pidfd opened
once, so a reused pid cannot fool them) and stop when it is gone. A kernel does not depend on the
zygote: if the zygote dies, open pages keep their kernels and the provisioner starts a new one.

Fork safety: the zygote imports modules only (the workbench does no work at import time: no
engine, no key read), runs with BLAS/OpenMP pools of one thread, and refuses to fork while it has
any thread besides its own (counted in ``/proc/self/task``, which sees native threads too).
``random`` reseeds itself in a forked child; tokens come from ``secrets``/``os.urandom``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_MODULE", "main", "os_threads", "run_kernel", "serve", "warm"]

KERNEL_MODULE = "ipykernel_launcher"  # the kernel spec's `python -m ipykernel_launcher -f FILE`
PR_SET_PDEATHSIG = 1
MAX_REQUEST_BYTES = 1 << 20


def os_threads() -> int:
    """Threads of this process as the system counts them (native ones included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the forms service dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _read_request(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            raise ValueError("kernel request too large")
    request = json.loads(data)
    if not isinstance(request, dict):
        raise ValueError("a kernel request is a JSON object")
    argv, env, cwd = request.get("argv"), request.get("env"), request.get("cwd")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv must be a list of strings")
    if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError("env must map strings to strings")
    if not isinstance(cwd, str):
        raise ValueError("cwd must be a string")
    return request


def _meet_the_kernel() -> None:
    """Run the import-time hooks that found no kernel in the zygote.

    ipywidgets registers its ``jupyter.widget.control`` comm target (the page's request for every
    widget state) only if a kernel exists when it is imported; in the zygote none did.
    """
    ipywidgets = sys.modules.get("ipywidgets")
    if ipywidgets is not None:
        ipywidgets._handle_ipython()


def _exit_with_server(server: int) -> None:
    """A daemon thread: leave as soon as the forms server is gone (its pidfd turns readable)."""

    def watch() -> None:
        select.select([server], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="weshare-server-watch", daemon=True).start()


def run_kernel(argv: list[str], server: int) -> int:
    """What ``python -m ipykernel_launcher ARGS`` does, in this (forked) interpreter."""
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [KERNEL_MODULE, *argv]
    _exit_with_server(server)
    try:
        # No parent poller (ipykernel skips it for pid 1, and prints no console banner): our parent
        # is the zygote, which may go; the server is what matters, watched above.
        app = IPKernelApp.instance(parent_handle=1)
        app.initialize(argv)
        _meet_the_kernel()
        app.start()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _child(zygote: selectors.BaseSelector, listener: socket.socket, conn: socket.socket,
           request: dict[str, Any], server: int) -> None:
    """Never returns: becomes the kernel, then leaves with ``os._exit`` (not the zygote's loop)."""
    code = 1
    try:
        zygote.close()
        listener.close()
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        conn.close()
        code = run_kernel(request["argv"], server)
    except BaseException:  # a kernel that failed to start must not fall back into the zygote
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def warm(entry: str) -> None:
    """Import ``module``, or import ``module:function`` and call it (work every kernel would
    otherwise repeat, e.g. reading the migration head; it must start no thread or connection)."""
    module, _, function = entry.partition(":")
    imported = importlib.import_module(module)
    if function:
        getattr(imported, function)()


def serve(socket_path: Path, server_pid: int, preload: list[str]) -> None:
    """Import ``preload``, then fork a kernel for every request until the server goes away."""
    _die_with_parent()
    server = os.pidfd_open(server_pid)  # fails at once if the server is already gone
    here = os.getcwd()
    if sys.path and sys.path[0] in ("", here):  # as ipykernel_launcher: no cwd on sys.path
        del sys.path[0]
    for entry in preload:
        try:
            warm(entry)
        except Exception as exc:  # a kernel then imports it itself: slower, not broken
            print(f"kernel zygote: cannot preload {entry}: {type(exc).__name__}: {exc}", file=sys.stderr)
    # Children are reaped by the system: no zombies, and no reaper thread to make forking unsafe.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # SIGTERM (the service stopping) leaves through the finally below, which removes the socket.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    binding = socket_path.with_name(socket_path.name + ".binding")
    with contextlib.suppress(FileNotFoundError):
        binding.unlink()
    old_mask = os.umask(0o077)
    try:
        listener.bind(str(binding))
    finally:
        os.umask(old_mask)
    listener.listen(64)
    os.replace(binding, socket_path)  # the path appears only once connections are accepted
    try:
        _loop(listener, server)
    finally:
        with contextlib.suppress(OSError):
            socket_path.unlink()


def _answer(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")
    conn.close()


def _loop(listener: socket.socket, server: int) -> None:
    zygote = selectors.DefaultSelector()
    zygote.register(listener, selectors.EVENT_READ)
    zygote.register(server, selectors.EVENT_READ)
    while True:
        ready = {key.fileobj for key, _ in zygote.select(timeout=5.0)}
        if server in ready:
            return  # the forms server is gone
        if listener not in ready:
            continue
        try:
            conn, _ = listener.accept()
        except OSError as exc:  # e.g. out of file descriptors: the next accept may work
            print(f"kernel zygote: accept failed: {exc}", file=sys.stderr)
            continue
        try:
            conn.settimeout(10)
            request = _read_request(conn)
            if os_threads() != 1:
                raise RuntimeError("the zygote has threads: forking is not safe")
            pid = os.fork()
        except Exception as exc:  # malformed request, no fork possible: refuse it, keep serving
            _answer(conn, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        if pid == 0:
            _child(zygote, listener, conn, request, server)
        conn.close()


def main() -> None:
    """``python -c "from hub.kernel_fork.zygote import main; main()" SOCKET SERVER_PID MODULE…``"""
    serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])


if __name__ == "__main__":
    main()
