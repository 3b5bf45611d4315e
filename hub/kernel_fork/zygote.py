"""The zygote: one process that has imported a page's modules once, and forks a kernel per request.

A forms kernel started from scratch spends about a CPU-second importing ipykernel, ipywidgets,
SQLAlchemy and the workbench before its participant arrives; at 100 arrivals a minute that alone
fills two cores. Forked from this process, a kernel inherits those modules already imported and
only builds its own kernel application (sockets, threads, shell).

Protocol, on a Unix socket only the service's user can reach: the provisioner sends one JSON line
``{"argv": [...], "env": {...}, "cwd": "..."}``; the *child* answers ``{"pid": N}`` once it leads its
own session (so a signal to its process group never reaches the zygote), then runs the kernel.

Fork safety: the zygote is single-threaded (checked before each fork) and imports modules only;
the workbench does no work at import time (no engine, no thread, no key read). ``random`` reseeds
itself in a forked child; tokens come from ``secrets``/``os.urandom``. Children share the zygote's
string-hash seed, which only matters for hash-flooding resistance between two forms kernels.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_MODULE", "main", "run_kernel", "serve", "warm"]

KERNEL_MODULE = "ipykernel_launcher"  # the kernel spec's `python -m ipykernel_launcher -f FILE`
PR_SET_PDEATHSIG = 1
MAX_REQUEST_BYTES = 1 << 20


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


def run_kernel(argv: list[str], parent_pid: int) -> int:
    """What ``python -m ipykernel_launcher ARGS`` does, in this (forked) interpreter."""
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [KERNEL_MODULE, *argv]
    try:
        # parent_handle's default was read from the environment when the zygote imported ipykernel.
        app = IPKernelApp.instance(parent_handle=parent_pid)
        app.initialize(argv)
        _meet_the_kernel()
        app.start()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _child(listener: socket.socket, conn: socket.socket, request: dict[str, Any], zygote_pid: int) -> None:
    """Never returns: becomes the kernel, then leaves with ``os._exit`` (not the zygote's loop)."""
    code = 1
    try:
        listener.close()
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(zygote_pid)
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        conn.close()
        code = run_kernel(request["argv"], zygote_pid)  # the kernel stops when the zygote goes
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


def serve(socket_path: Path, preload: list[str]) -> None:
    """Import ``preload``, then fork a kernel for every request until the service goes away."""
    _die_with_parent()
    parent = os.getppid()
    here = os.getcwd()
    if sys.path and sys.path[0] in ("", here):  # as ipykernel_launcher: no cwd on sys.path
        del sys.path[0]
    for name in preload:
        warm(name)
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
        _loop(listener, parent)
    finally:
        with contextlib.suppress(OSError):
            socket_path.unlink()
            socket_path.parent.rmdir()


def _loop(listener: socket.socket, parent: int) -> None:
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while os.getppid() == parent:
        if not selector.select(timeout=1.0):
            continue
        conn, _ = listener.accept()
        try:
            conn.settimeout(10)
            request = _read_request(conn)
            if threading.active_count() != 1:
                raise RuntimeError("the zygote has threads: forking is not safe")
        except (OSError, ValueError, RuntimeError) as exc:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            conn.close()
            continue
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: refuse this kernel, keep serving
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"error": f"cannot fork: {exc.strerror}"}).encode() + b"\n")
            conn.close()
            continue
        if pid == 0:
            _child(listener, conn, request, os.getppid())
        conn.close()


def main() -> None:
    """``python -c "from hub.kernel_fork.zygote import main; main()" SOCKET MODULE…``"""
    serve(Path(sys.argv[1]), sys.argv[2:])


if __name__ == "__main__":
    main()
