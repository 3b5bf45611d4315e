"""Forms kernels forked from a zygote: they behave as kernels started the usual way.

Each test drives a real ``AsyncKernelManager`` with the forms' kernel spec (found through
``JUPYTER_PATH`` as the forms service finds it) and talks to the kernel over its channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import AsyncKernelManager

from hub.kernel_fork import ForkedKernel, Zygote
from hub.kernel_fork.provisioner import ZYGOTE_MAIN
from hub.kernel_fork.zygote import warm
from hub.services import FORMS_VOILA_CONFIG, forms_service
from workbench.settings import Settings

SPEC = FORMS_VOILA_CONFIG / "kernels" / "python3" / "kernel.json"


def test_the_forms_kernel_spec_names_a_registered_provisioner_and_importable_modules() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    stanza = spec["metadata"]["kernel_provisioner"]
    names = {ep.name for ep in entry_points(group="jupyter_client.kernel_provisioners")}
    assert stanza["provisioner_name"] in names
    assert spec["argv"][:3] == ["python", "-m", "ipykernel_launcher"]
    assert "--HistoryManager.enabled=False" in spec["argv"]  # no code history written per visitor
    for entry in stanza["config"]["preload"]:
        warm(entry)  # as the zygote does: a typo would make every kernel launch fail


def test_the_forms_service_finds_that_kernel_spec(forms_kernels: Path) -> None:
    service = forms_service(Settings(home=forms_kernels / "var"))
    assert service["environment"]["JUPYTER_PATH"] == str(FORMS_VOILA_CONFIG)


@pytest.fixture
def forms_kernels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Kernels of the forms' spec, as the forms service gets them."""
    monkeypatch.setenv("JUPYTER_PATH", str(FORMS_VOILA_CONFIG))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    return tmp_path


@contextlib.asynccontextmanager
async def kernel(cwd: Path, mark: str = "first") -> AsyncIterator[AsyncKernelManager]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(cwd=str(cwd), env={**os.environ, "WESHARE_KERNEL_MARK": mark})
    try:
        yield km
    finally:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)


def with_kernel(cwd: Path, scenario: Callable[[AsyncKernelManager], Awaitable[None]]) -> None:
    async def main() -> None:
        async with kernel(cwd) as km:
            await scenario(km)

    asyncio.run(main())


async def run(km: AsyncKernelManager, code: str, timeout: float = 60.0) -> dict[str, Any]:
    """Execute ``code``; the reply plus what it printed."""
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        printed: list[str] = []

        def output(message: dict[str, Any]) -> None:
            if message["header"]["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        reply = await client.execute_interactive(code, timeout=timeout, output_hook=output)
        return {"status": reply["content"]["status"], "ename": reply["content"].get("ename"),
                "out": "".join(printed)}
    finally:
        client.stop_channels()


def test_a_forked_kernel_runs_code_in_its_own_environment(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        pid = manager.provisioner.pid
        zygote = psutil.Process(pid).parent()
        assert zygote is not None and ZYGOTE_MAIN in zygote.cmdline()
        assert isinstance(manager.provisioner.process, ForkedKernel)
        result = await run(manager, "import os; print(os.getpid(), os.environ['WESHARE_KERNEL_MARK'], "
                                    "os.getpgid(0) == os.getpid(), os.getcwd())")
        assert result["status"] == "ok"
        printed_pid, mark, leader, cwd = result["out"].split()
        assert (int(printed_pid), mark, leader) == (pid, "first", "True")
        assert Path(cwd) == Path(manager.provisioner.cwd)

    with_kernel(forms_kernels, scenario)


def test_widgets_imported_by_the_zygote_still_answer_the_page(forms_kernels: Path) -> None:
    """The page asks the ``jupyter.widget.control`` comm for every widget state on load."""

    async def scenario(manager: AsyncKernelManager) -> None:
        result = await run(manager, "import ipywidgets\n"
                                    "print('jupyter.widget.control' in get_ipython().kernel.comm_manager.targets)")
        assert result["out"].strip() == "True"

    with_kernel(forms_kernels, scenario)


def test_two_kernels_do_not_share_random_state(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        other = AsyncKernelManager(kernel_name="python3")
        await other.start_kernel(cwd=str(forms_kernels), env={**os.environ, "WESHARE_KERNEL_MARK": "second"})
        try:
            code = "import random, secrets; print(random.random(), secrets.token_hex(8))"
            first, second = (await run(manager, code))["out"], (await run(other, code))["out"]
            assert first.split()[0] != second.split()[0] and first.split()[1] != second.split()[1]
        finally:
            await other.shutdown_kernel(now=True)

    with_kernel(forms_kernels, scenario)


def test_interrupt_restart_and_shutdown_reach_the_forked_kernel(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            msg_id = client.execute("import time; time.sleep(60)")
            await asyncio.sleep(0.5)
            await manager.interrupt_kernel()
            while True:
                reply = await client.get_shell_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            client.stop_channels()
        first = manager.provisioner.pid
        await manager.restart_kernel(now=True)
        assert manager.provisioner.pid != first and not psutil.pid_exists(first)
        assert (await run(manager, "print(1 + 1)"))["out"].strip() == "2"
        second = manager.provisioner.pid
        await manager.shutdown_kernel(now=True)
        assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE

    with_kernel(forms_kernels, scenario)


def test_a_dead_zygote_is_started_again_and_its_kernels_stop(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        kernel = psutil.Process(manager.provisioner.pid)
        zygote = kernel.parent()
        assert zygote is not None
        zygote.send_signal(signal.SIGKILL)
        zygote.wait(10)
        kernel.wait(15)  # an orphaned kernel notices its zygote is gone and stops (no leaked kernel)
        assert await manager.provisioner.poll() is not None
        again = AsyncKernelManager(kernel_name="python3")
        await again.start_kernel(cwd=str(forms_kernels), env=dict(os.environ))
        try:
            new_zygote = psutil.Process(again.provisioner.pid).parent()
            assert new_zygote is not None and new_zygote.pid != zygote.pid
            assert (await run(again, "print('back')"))["out"].strip() == "back"
        finally:
            await again.shutdown_kernel(now=True)

    with_kernel(forms_kernels, scenario)


def test_the_zygote_refuses_a_malformed_request_and_keeps_serving(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        zygote = next(z for z in Zygote._running.values() if z.process is not None and z.process.poll() is None)
        for request in (b"not json\n", b'{"argv": "x", "env": {}, "cwd": "/"}\n',
                        b'{"argv": [], "env": {"A": 1}, "cwd": "/"}\n'):
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(str(zygote.socket_path))
                conn.sendall(request)
                answer = json.loads(conn.makefile().readline())
            assert "error" in answer and "pid" not in answer
        assert (await run(manager, "print('still')"))["out"].strip() == "still"
        assert zygote.socket_path.stat().st_mode & 0o077 == 0  # only the service's user

    with_kernel(forms_kernels, scenario)


def test_a_forked_kernel_that_is_gone_reports_an_exit_code() -> None:
    process = psutil.Popen(["sleep", "30"])
    kernel = ForkedKernel(process.pid)
    assert kernel.poll() is None
    kernel.kill()
    process.wait(10)
    assert kernel.poll() is not None and kernel.wait(1) == 0


def test_the_zygote_preload_starts_no_thread() -> None:
    """A thread in the zygote would make forking unsafe (the zygote then refuses every kernel)."""
    preload = json.loads(SPEC.read_text(encoding="utf-8"))["metadata"]["kernel_provisioner"]["config"]["preload"]
    code = ("import sys, threading\nfrom hub.kernel_fork.zygote import warm\n"
            "for entry in sys.argv[1:]:\n    warm(entry)\nprint(threading.active_count())")
    done = subprocess.run([sys.executable, "-c", code, *preload], capture_output=True, text=True,
                          timeout=300, check=True, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    assert done.stdout.strip() == "1"
