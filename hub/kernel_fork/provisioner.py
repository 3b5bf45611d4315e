"""A kernel provisioner that forks kernels from a zygote instead of starting an interpreter each.

Registered as the ``weshare-forking`` entry point of ``jupyter_client.kernel_provisioners`` and
chosen by the forms service's own ``python3`` kernel spec (``hub/forms_voila/kernels``). The
zygote (``hub.kernel_fork.zygote``) is started on the first launch, as a child of the forms
server, with the kernel spec's ``preload`` modules and an allow-listed environment (never a
visitor's URL or token); a zygote that died is started again. If the zygote cannot be had, or the
command is not ``python -m ipykernel_launcher …``, the kernel is launched the usual way.

Everything else (ports, connection file, interrupt, shutdown, restart) is ``LocalProvisioner``'s:
it talks to ``self.process``, here a :class:`ForkedKernel` with the same small interface as
``subprocess.Popen`` for a process that is not our child.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import List, Unicode

from hub.kernel_fork.zygote import KERNEL_MODULE

__all__ = ["ForkedKernel", "ForkingProvisioner", "Zygote", "zygote_environment"]

ZYGOTE_START_SECONDS = 120.0
ZYGOTE_MAIN = "from hub.kernel_fork.zygote import main; main()"  # -m would import it twice
# What the zygote may keep of the server's environment: settings and paths, never request data.
ZYGOTE_ENV = re.compile(r"^(WESHARE_|JUPYTER_|PYTHON|LC_|HOME$|PATH$|LANG$|TZ$|TMPDIR$|VIRTUAL_ENV$)")
# One-thread numeric pools: a thread pool alive in the zygote would make forking unsafe.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# Voila gives each pool refill the URL of the visit that triggered it (with that visitor's
# ?access= token); a preheated kernel learns its own visitor later, so it gets none.
STALE_IN_PREHEATED = ("VOILA_REQUEST_URL",)


def zygote_environment(env: dict[str, str]) -> dict[str, str]:
    """The allow-listed part of a launch environment, as the zygote gets it."""
    return {**{k: v for k, v in env.items() if ZYGOTE_ENV.match(k)}, **SINGLE_THREADED}


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
            self.returncode = -signal.SIGKILL

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                process = psutil.Process(self.pid)
                if process.create_time() != self._created or process.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(self.pid)
            except psutil.Error:
                self.returncode = -signal.SIGKILL  # reaped by the system: its real status is gone
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
    """The zygote of one (interpreter, preload list) in this server process, started on demand.

    Kept in a class-level registry: jupyter_client makes one provisioner per kernel, and they
    must share the one zygote of their server process (as ``LocalPortCache`` shares ports).
    """

    _running: ClassVar[dict[tuple[str, tuple[str, ...]], Zygote]] = {}

    def __init__(self, python: str, preload: tuple[str, ...]) -> None:
        self.python, self.preload = python, preload
        self.socket_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_kernel(cls, python: str, preload: tuple[str, ...]) -> Zygote:
        key = (python, preload)
        if key not in cls._running:
            cls._running[key] = cls(python, preload)
        return cls._running[key]

    def serving(self) -> bool:
        return (self.process is not None and self.process.poll() is None
                and self.socket_path is not None and self.socket_path.exists())

    async def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A new kernel's pid; starts the zygote first if it is not serving."""
        for attempt in (1, 2):
            socket_path = await self._ensure_running(env, cwd)
            try:
                reader, writer = await asyncio.open_unix_connection(str(socket_path))
            except (ConnectionRefusedError, FileNotFoundError):
                if attempt == 2 or self.serving():
                    raise
                continue  # it died since the check: start a new one
            try:
                writer.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), timeout=30)
            finally:
                writer.close()
            answer = json.loads(line) if line.strip() else {"error": "the new kernel died before answering"}
            if "pid" not in answer:
                raise RuntimeError(f"the kernel zygote refused: {answer.get('error')}")
            return int(answer["pid"])
        raise RuntimeError("unreachable")

    def stop(self) -> None:
        """Stop this zygote (its kernels live on: they watch the server, not the zygote)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
            if self.process.poll() is None:
                self.process.kill()

    def _lock_here(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # tools may run loops in turn
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _ensure_running(self, env: dict[str, str], cwd: str) -> Path:
        # One start at a time: a pool fill asks for several kernels at once.
        async with self._lock_here():
            if self.serving():
                assert self.socket_path is not None
                return self.socket_path
            self.stop()
            if self.socket_path is not None:  # the folder a dead zygote left
                with contextlib.suppress(OSError):
                    self.socket_path.unlink()
                    self.socket_path.parent.rmdir()
            self.socket_path = Path(tempfile.mkdtemp(prefix="weshare-zygote-")) / "zygote.sock"
            self.process = subprocess.Popen(
                [self.python, "-c", ZYGOTE_MAIN, str(self.socket_path), str(os.getpid()), *self.preload],
                env=zygote_environment(env), cwd=cwd, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + ZYGOTE_START_SECONDS
            while not self.socket_path.exists():
                if self.process.poll() is not None:
                    raise RuntimeError(f"the kernel zygote exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError("the kernel zygote did not start")
                await asyncio.sleep(0.05)
            return self.socket_path


class ForkingProvisioner(LocalProvisioner):  # type: ignore[misc]
    """``LocalProvisioner`` whose ``ipykernel_launcher`` kernels are forked from a zygote."""

    preload = List(Unicode(), config=True, help="Modules the zygote imports once for every kernel.")

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = dict(kwargs.get("env") or os.environ)
        if env.get("VOILA_PREHEAT") == "True":
            for name in STALE_IN_PREHEATED:
                env.pop(name, None)
        kwargs["env"] = env
        forkable = len(cmd) >= 3 and cmd[1:3] == ["-m", KERNEL_MODULE] and hasattr(os, "pidfd_open")
        if forkable:
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                pid = await Zygote.for_kernel(cmd[0], tuple(self.preload)).fork(cmd[3:], env, cwd)
            except Exception as exc:  # slower, never broken: start this kernel the usual way
                self.log.warning("kernel zygote unavailable (%s): starting the kernel as a process", exc)
            else:
                self.process = ForkedKernel(pid)
                self.pid = self.pgid = pid  # the child leads its own session before it answers
                self.cwd = cwd
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    async def send_signal(self, signum: int) -> None:
        """Never signal a process group whose kernel is gone: forked kernels are reaped at once,
        so their pid (and group id) may already belong to another participant's kernel."""
        if isinstance(self.process, ForkedKernel) and self.process.poll() is not None:
            return
        await super().send_signal(signum)
