"""A kernel provisioner that forks kernels from a zygote instead of starting an interpreter each.

Registered as the ``weshare-forking`` entry point of ``jupyter_client.kernel_provisioners`` and
chosen by the forms service's own ``python3`` kernel spec (``hub/forms_voila/kernels``). The
zygote (``hub.kernel_fork.zygote``) is started on the first launch, as a child of the forms
service, with the kernel spec's ``preload`` modules; a zygote that died is started again. Any
command that is not ``python -m ipykernel_launcher …`` is launched the usual way.

Everything else (ports, connection file, interrupt, shutdown, restart) is ``LocalProvisioner``'s:
it talks to ``self.process``, here a :class:`ForkedKernel` with the same small interface as
``subprocess.Popen`` for a process that is not our child.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import List, Unicode

from hub.kernel_fork.zygote import KERNEL_MODULE

__all__ = ["ForkedKernel", "ForkingProvisioner", "Zygote"]

ZYGOTE_START_SECONDS = 120.0
ZYGOTE_MAIN = "from hub.kernel_fork.zygote import main; main()"  # -m would import it twice
# Per-kernel values a zygote must not carry: they come with each request instead.
PER_KERNEL_ENV = ("VOILA_KERNEL_ID", "JPY_PARENT_PID", "JPY_SESSION_NAME", "QUERY_STRING")


class ForkedKernel:
    """``Popen``'s interface for a forked kernel (the zygote's child, reaped by the system)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._created: float | None = psutil.Process(pid).create_time()
        except psutil.Error:
            self._created = None
            self.returncode = 1

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                process = psutil.Process(self.pid)
                if process.create_time() != self._created or process.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(self.pid)
            except psutil.Error:
                self.returncode = 0  # its status went with the system's reaping
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One zygote per (interpreter, preload list) in this server process, started on demand."""

    _running: ClassVar[dict[tuple[str, tuple[str, ...]], Zygote]] = {}

    def __init__(self, python: str, preload: tuple[str, ...]) -> None:
        self.python, self.preload = python, preload
        self.folder = Path(tempfile.mkdtemp(prefix="weshare-zygote-"))
        self.socket_path = self.folder / "zygote.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @classmethod
    def for_kernel(cls, python: str, preload: tuple[str, ...]) -> Zygote:
        key = (python, preload)
        if key not in cls._running:
            cls._running[key] = cls(python, preload)
        return cls._running[key]

    async def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A new kernel's pid; starts (or restarts) the zygote first if needed."""
        await self._ensure_running(env, cwd)
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        except OSError:  # it died since the check: once more, from a new zygote
            self.stop()
            await self._ensure_running(env, cwd)
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        try:
            writer.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
            await writer.drain()
            answer = json.loads(await asyncio.wait_for(reader.readline(), timeout=30))
        finally:
            writer.close()
        if "pid" not in answer:
            raise RuntimeError(f"the kernel zygote refused: {answer.get('error', 'no answer')}")
        return int(answer["pid"])

    def stop(self) -> None:
        """Kill this zygote (its kernels then stop by themselves)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    async def _ensure_running(self, env: dict[str, str], cwd: str) -> None:
        # One start at a time: a pool fill asks for several kernels at once. (A lock per event
        # loop: the server has one; tests and tools may run several in turn.)
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            if self.process is not None and self.process.poll() is None and self.socket_path.exists():
                return
            self.stop()  # alive without its socket: not serving
            zygote_env = {k: v for k, v in env.items() if k not in PER_KERNEL_ENV}
            zygote_env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's warning at import, once
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            self.process = subprocess.Popen(
                [self.python, "-c", ZYGOTE_MAIN, str(self.socket_path), *self.preload],
                env=zygote_env, cwd=cwd, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + ZYGOTE_START_SECONDS
            while not self.socket_path.exists():
                if self.process.poll() is not None:
                    raise RuntimeError(f"the kernel zygote exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError("the kernel zygote did not start")
                await asyncio.sleep(0.05)


class ForkingProvisioner(LocalProvisioner):  # type: ignore[misc]
    """``LocalProvisioner`` whose ``ipykernel_launcher`` kernels are forked from a zygote."""

    preload = List(Unicode(), config=True, help="Modules the zygote imports once for every kernel.")

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if len(cmd) < 3 or cmd[1:3] != ["-m", KERNEL_MODULE] or sys.platform == "win32":
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        zygote = Zygote.for_kernel(cmd[0], tuple(self.preload))
        pid = await zygote.fork(cmd[3:], env, cwd)
        self.process = ForkedKernel(pid)
        self.pid = self.pgid = pid  # the child leads its own session before it answers
        self.cwd = cwd
        return self.connection_info
