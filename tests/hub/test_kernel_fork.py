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
from hub.kernel_fork.provisioner import ZYGOTE_MAIN, zygote_environment
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


def test_the_forms_service_finds_that_kernel_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    service = forms_service(Settings(home=tmp_path / "var"))
    monkeypatch.setenv("JUPYTER_PATH", service["environment"]["JUPYTER_PATH"])
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.metadata["kernel_provisioner"]["provisioner_name"] == "weshare-forking"


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


kernel_of = kernel


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


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_dead_zygote_is_started_again_and_open_kernels_live_on(forms_kernels: Path, signum: int) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        kernel = psutil.Process(manager.provisioner.pid)
        zygote = kernel.parent()
        assert zygote is not None
        zygote.send_signal(signum)
        zygote.wait(10)
        # the participant's open page keeps its kernel: it watches the server, not the zygote
        assert (await run(manager, "print('alive')"))["out"].strip() == "alive"
        async with kernel_of(forms_kernels, "again") as again:
            new_zygote = psutil.Process(again.provisioner.pid).parent()
            assert new_zygote is not None and new_zygote.pid != zygote.pid
            assert ZYGOTE_MAIN in new_zygote.cmdline()
            assert (await run(again, "print('back')"))["out"].strip() == "back"

    with_kernel(forms_kernels, scenario)


SERVER = """
import asyncio, sys, time
from jupyter_client.manager import AsyncKernelManager

async def main():
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    print(km.provisioner.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_kernels_and_zygote_stop_when_the_server_is_killed(forms_kernels: Path) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True,
                              cwd=forms_kernels, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    try:
        assert server.stdout is not None
        kernel = psutil.Process(int(server.stdout.readline()))
        zygote = kernel.parent()
        assert zygote is not None and ZYGOTE_MAIN in zygote.cmdline()
    finally:
        server.kill()
        server.wait(10)
    _gone, alive = psutil.wait_procs([kernel, zygote], timeout=15)
    assert not alive  # a SIGKILLed forms service leaves no kernel and no zygote behind


def test_the_zygote_refuses_a_malformed_request_and_keeps_serving(forms_kernels: Path) -> None:
    async def scenario(manager: AsyncKernelManager) -> None:
        zygote = next(z for z in Zygote._running.values() if z.process is not None and z.process.poll() is None)
        for request in (b"not json\n", b"[]\n", b"[" * 100000 + b"\n", b'{"argv": "x", "env": {}, "cwd": "/"}\n',
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
    assert kernel.poll() is not None and kernel.wait(1) == kernel.poll()


def test_the_zygote_preload_starts_no_thread() -> None:
    """A thread in the zygote, even a native one, would make forking unsafe (the zygote would then
    refuse every kernel and the service fall back to starting them)."""
    preload = json.loads(SPEC.read_text(encoding="utf-8"))["metadata"]["kernel_provisioner"]["config"]["preload"]
    code = ("import sys\nfrom hub.kernel_fork.zygote import os_threads, warm\n"
            "for entry in sys.argv[1:]:\n    warm(entry)\nprint(os_threads())")
    done = subprocess.run([sys.executable, "-c", code, *preload], capture_output=True, text=True,
                          timeout=300, check=True, env=zygote_environment(dict(os.environ)))
    assert done.stdout.strip() == "1"


def test_no_visitor_data_reaches_the_zygote_or_a_preheated_kernel(forms_kernels: Path) -> None:
    """Voila hands each pool refill the URL (with ?access= token) of the visit that triggered it."""
    previous = "http://127.0.0.1/services/forms/voila/render/home.ipynb?access=SECRET-TOKEN"

    async def scenario() -> None:
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(forms_kernels), env={
            **os.environ, "VOILA_PREHEAT": "True", "VOILA_REQUEST_URL": previous, "SOME_REQUEST_VALUE": "x"})
        try:
            result = await run(km, "import os; print(os.environ.get('VOILA_REQUEST_URL', 'none'))")
            assert result["out"].strip() == "none"
            zygote = psutil.Process(km.provisioner.pid).parent()
            assert zygote is not None
            for process in (zygote, psutil.Process(km.provisioner.pid)):  # what /proc shows
                shown = process.environ()
                assert "SECRET-TOKEN" not in " ".join(shown.values()) and "SOME_REQUEST_VALUE" not in shown
        finally:
            await km.shutdown_kernel(now=True)

    # a fresh zygote for this test: one started by an earlier test had another environment
    for zygote in Zygote._running.values():
        zygote.stop()
    asyncio.run(scenario())
