"""Participant forms service: time to an interactive form, and submits surviving a crash.

Both figures drive the real forms service (the Voila command of ``hub.services.forms_service``,
started on a free loopback port over a throwaway store) with an HTTP + websocket client that
speaks what Voila's page speaks, no browser:

1. GET the participant link (``…/voila/render/home.ipynb?access=TOKEN``) and read the kernel id
   from the page;
2. open the kernel websocket (``…/api/kernels/ID/channels``), open the ``jupyter.widget.control``
   comm and ask for ``request_states``, as ipywidgets' page manager does on load;
3. in the returned states find the home page's "Remplir : … PHQ-9" button and click it (a
   ``custom`` ``click`` comm message, what the button's view sends);
4. **interactive form** = the kernel has reported ``idle`` for that click *and* the click's
   output included the ``comm_open`` of the first question's ``RadioButtonsModel`` carrying the
   PHQ-9 answers. Everything the page needs to draw the question and accept an answer has then
   arrived; time to interactive is measured from the first byte of the GET to that ``idle``.

**Kernel cost**: CPU-seconds a preheated questionnaire kernel has used once it waits for its
visitor (start, imports, first cell), against the same page reading the query string with
``voila.utils`` (which imports jupyter_server into every kernel). Refilling the pool costs this
per arrival, so it bounds how many arrivals per second the service sustains.

**Arrivals**: N participants (default 100) arrive at evenly spread times within W seconds
(default 60), each reaching an interactive form, then staying ``--stay`` seconds (reading)
before closing the page (Voila's shutdown call, as the page's unload does). p50/p95 with the
service as configured (preheated kernels, ``FORMS_POOL_SIZE``) against the same run on Voila's
defaults (no preheating: a kernel is started and the notebook run for each visit).

**Crash**: M participants (default 200) each fill PHQ-9 through the widgets (answer, Next ×9,
Send) concurrently. When half the submits are acknowledged, the whole service — Voila and every
kernel it started — is killed with SIGKILL, as a crashed machine would be, and started again.
Clients whose page died open their link again: the form resumes from its draft with the same
submission key, and they send again. Acknowledged = the client saw "Merci" (shown only after
``submit_response`` returned). Reported: acknowledged, stored, stored twice, acknowledged but
missing (must be 0), duplicates (must be 0).

    .venv/bin/python benchmarks/bench_forms.py [--participants 100 --window 60 --submits 200]
    .venv/bin/python benchmarks/bench_forms.py --quick    # small run for tests (≈1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import psutil
import requests
import websocket
from _harness import report
from sqlalchemy import func, select

from hub.kernel_fork.provisioner import ZYGOTE_MAIN
from hub.services import FORMS_BURST_NOTEBOOK, FORMS_POOL_SIZE, REPO_ROOT, forms_service
from hub.testing import free_ports
from workbench.participants.models import Participant, Response
from workbench.participants.service import issue_access_token
from workbench.settings import Settings
from workbench.storage import connect, session_scope, upgrade
from workbench.studies import service as studies

ACTOR = "bench-forms"
THANKS = "Merci ! Vos réponses ont bien été enregistrées."
KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


class FormsServer:
    """The forms service exactly as the hub starts it (or on Voila's defaults), on its own."""

    def __init__(self, settings: Settings, *, preheat: bool, pool_size: int = FORMS_POOL_SIZE,
                 fork: bool | None = None) -> None:
        """``preheat=False`` is Voila's defaults: no pool, kernels started the usual way, on TCP.
        ``fork=False`` keeps the service's pool but starts each kernel as its own interpreter."""
        fork = preheat if fork is None else fork
        service = forms_service(settings, pool_size=pool_size)
        self.command = [c for c in service["command"] if preheat or not (
            c.startswith("--preheat_kernel") or c.startswith("--pool_size")
            or c.startswith("--VoilaKernelManager.") or c.startswith("--KernelManager.transport"))]
        self.cwd, self.env = service["cwd"], {**service["environment"], "PATH": os.environ.get("PATH", "")}
        if not fork:  # the forms' kernel spec (forking provisioner) is found through JUPYTER_PATH
            self.env.pop("JUPYTER_PATH", None)
        self.base = f"http://127.0.0.1:{settings.forms_port}/services/forms/"
        self.log = settings.home / "forms-service.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the forms service exited: see {self.log}")
            try:
                requests.get(f"{self.base}api/kernels", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise TimeoutError("the forms service did not answer")

    def wait_pool(self, size: int, timeout: float = 600.0) -> None:
        """Until ``size`` kernels exist and all sit quiet: a preheated kernel that has run the
        notebook up to the participant's link waits there without using the CPU."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kernels = self.kernels()
            if len(kernels) >= size:
                for kernel in kernels:
                    with contextlib.suppress(psutil.Error):
                        kernel.cpu_percent(None)
                time.sleep(1.0)
                with contextlib.suppress(psutil.Error):
                    if all(kernel.cpu_percent(None) < 5.0 for kernel in kernels):
                        return
            else:
                time.sleep(0.5)
        raise TimeoutError(f"the kernel pool did not fill to {size}")

    def kernels(self) -> list[psutil.Process]:
        """Kernel processes: started ones (``ipykernel_launcher``) and the zygote's forked children
        (which carry the zygote's command line); never the zygote itself."""
        tree = self._tree()
        zygotes = set()
        for process in tree[1:]:
            with contextlib.suppress(psutil.Error):
                if ZYGOTE_MAIN in process.cmdline() and process.ppid() == tree[0].pid:
                    zygotes.add(process.pid)
        out = []
        for process in tree[1:]:
            with contextlib.suppress(psutil.Error):
                if process.pid not in zygotes and (process.ppid() in zygotes
                                                   or "ipykernel_launcher" in process.cmdline()):
                    out.append(process)
        return out

    def _tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def crash_and_restart(self) -> float:
        """SIGKILL the server and every kernel it started, start again; seconds until it answers."""
        start = time.perf_counter()
        tree = self._tree()
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=10)
        self.start()
        return time.perf_counter() - start

    def stop(self) -> None:
        tree = self._tree()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _gone, alive = psutil.wait_procs(tree, timeout=30)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(alive, timeout=10)

    def __enter__(self) -> FormsServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class PageGone(Exception):
    """The websocket or the page went away (the service was killed): open the link again."""


def seed(settings: Settings, n: int) -> list[str]:
    """A store with one active study, PHQ-9 due today, and ``n`` participants; their link tokens."""
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.database_url)
    upgrade(engine)
    tokens = []
    with session_scope(engine) as session:
        study = studies.create_study(session, "BENCH-F", "Forms benchmark", actor=ACTOR)
        studies.add_event(session, study, "M0", "Inclusion", 0, actor=ACTOR, window_after=30,
                          instruments=["phq-9"])
        studies.set_status(session, "BENCH-F", "active", actor=ACTOR)
        for i in range(n):
            person = Participant(study_id=study.id, pseudonym=f"P-BF{i:06d}", inclusion_date=date.today(),
                                 language="fr")
            session.add(person)
            session.flush()
            tokens.append(issue_access_token(session, person, actor=ACTOR))
    engine.dispose()
    return tokens


class Page:
    """One participant's page: the HTML, then the kernel websocket with the widget protocol."""

    def __init__(self, base: str, token: str, timeout: float = 120.0) -> None:
        self.base, self.timeout = base, timeout
        self.session = uuid.uuid4().hex
        self.states: dict[str, dict[str, Any]] = {}  # model id -> state
        self.models: dict[str, str] = {}  # model id -> model name
        try:
            response = requests.get(f"{base}voila/render/home.ipynb?access={token}", timeout=timeout)
        except requests.RequestException as exc:
            raise PageGone(str(exc)) from None
        found = KERNEL_ID.search(response.text)
        if response.status_code != 200 or found is None:
            raise PageGone(f"page status {response.status_code}, kernel id {'found' if found else 'missing'}")
        self.kernel_id = found.group(1)
        ws_base = base.replace("http://", "ws://")
        try:
            self.ws = websocket.create_connection(
                f"{ws_base}api/kernels/{self.kernel_id}/channels?session_id={self.session}", timeout=timeout)
        except (OSError, websocket.WebSocketException) as exc:
            raise PageGone(str(exc)) from None

    # -- the Jupyter messaging protocol over the websocket -------------------------------------
    def send(self, msg_type: str, content: dict[str, Any], channel: str = "shell",
             metadata: dict[str, Any] | None = None) -> str:
        msg_id = uuid.uuid4().hex
        message = {"header": {"msg_id": msg_id, "msg_type": msg_type, "username": "bench",
                              "session": self.session, "date": "", "version": "5.3"},
                   "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": channel,
                   "buffers": []}
        try:
            self.ws.send(json.dumps(message))
        except (OSError, websocket.WebSocketException) as exc:
            raise PageGone(str(exc)) from None
        return msg_id

    def until_idle(self, msg_id: str, seen: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Read messages (keeping widget states current) until the kernel is idle after ``msg_id``."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                raw = self.ws.recv()
            except (OSError, websocket.WebSocketException) as exc:
                raise PageGone(str(exc)) from None
            if not raw:
                raise PageGone("websocket closed")
            if isinstance(raw, bytes):
                continue  # binary frames carry buffers only; PHQ-9 widgets have none
            message = json.loads(raw)
            self._track(message)
            if seen is not None:
                seen(message)
            parent = message.get("parent_header", {}).get("msg_id")
            if (parent == msg_id and message["header"]["msg_type"] == "status"
                    and message["content"].get("execution_state") == "idle"):
                return
        raise TimeoutError("no idle from the kernel in time")

    def _track(self, message: dict[str, Any]) -> None:
        kind, content = message["header"]["msg_type"], message.get("content", {})
        data = content.get("data", {})
        if kind == "comm_open" and content.get("target_name") == "jupyter.widget":
            state = data.get("state", {})
            self.states[content["comm_id"]] = dict(state)
            self.models[content["comm_id"]] = state.get("_model_name", "")
        elif kind == "comm_msg" and data.get("method") == "update_states":
            for model_id, entry in data.get("states", {}).items():
                self.states[model_id] = dict(entry.get("state", {}))
                self.models[model_id] = entry.get("model_name", "")
        elif kind == "comm_msg" and data.get("method") in ("update", "echo_update"):
            self.states.setdefault(content["comm_id"], {}).update(data.get("state", {}))

    def load_widgets(self) -> None:
        comm_id = uuid.uuid4().hex
        self.until_idle(self.send("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control",
                                                "data": {}}, metadata={"version": "1.0.0"}))
        self.until_idle(self.send("comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}}))

    def button(self, text: str) -> str:
        for model_id, state in self.states.items():
            if self.models.get(model_id) == "ButtonModel" and text in state.get("description", "") \
                    and state.get("layout") and not state.get("disabled"):
                return model_id
        raise LookupError(text)

    def alerts(self) -> str:
        """The page's messages (generic texts, never row-level data), for a failure report."""
        return " ".join(str(state.get("value", "")) for model_id, state in self.states.items()
                        if self.models.get(model_id) == "HTMLModel" and 'role="alert"' in str(state.get("value")))

    def click(self, model_id: str, seen: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.until_idle(self.send("comm_msg", {"comm_id": model_id, "data": {
            "method": "custom", "content": {"event": "click"}}}), seen)

    def choose(self, model_id: str, index: int) -> None:
        self.until_idle(self.send("comm_msg", {"comm_id": model_id, "data": {
            "method": "update", "state": {"index": index}, "buffer_paths": []}}))

    def close(self) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self.ws.close()
        with contextlib.suppress(requests.RequestException):  # what the page does on unload
            requests.post(f"{self.base}voila/api/shutdown/{self.kernel_id}", timeout=10)


def open_form(base: str, token: str) -> tuple[Page, str]:
    """Steps 1–4 of the docstring; returns the page and the first question's radio model id."""
    page = Page(base, token)
    page.load_widgets()
    radios: list[str] = []

    def seen(message: dict[str, Any]) -> None:
        content = message.get("content", {})
        state = content.get("data", {}).get("state", {})
        if message["header"]["msg_type"] == "comm_open" and state.get("_model_name") == "RadioButtonsModel" \
                and "Jamais" in state.get("_options_labels", []):
            radios.append(content["comm_id"])

    try:
        opener = page.button("PHQ-9")
    except LookupError:
        page.close()
        raise LookupError(f"no questionnaire button; the page says: {page.alerts()[:200]!r}") from None
    page.click(opener, seen)
    if not radios:
        raise LookupError("the form's first question did not arrive")
    return page, radios[-1]


def time_to_form(base: str, token: str, stay: float) -> float:
    start = time.perf_counter()
    page, _ = open_form(base, token)
    elapsed = time.perf_counter() - start
    time.sleep(stay)
    page.close()
    return elapsed


def warm_up(base: str, tokens: list[str], tries: int = 3) -> None:
    """The unmeasured first visit; retried, as one stalled page (seen once under a busy test run,
    not understood yet) must not void the measured ones, which count their own failures."""
    for attempt in range(tries):
        try:
            time_to_form(base, tokens.pop(), 0)
            return
        except PageGone as exc:
            print(f"  warm-up visit {attempt + 1} failed: {exc}", file=sys.stderr)
    raise PageGone(f"no form after {tries} warm-up visits")


def arrivals(server: FormsServer, tokens: list[str], window: float, stay: float) -> list[float]:
    """Each participant starts at its slot in the window; returns every time to interactive."""
    gap = window / max(1, len(tokens))
    start = time.monotonic()

    def one(i: int) -> float:
        time.sleep(max(0.0, start + i * gap - time.monotonic()))
        try:
            return time_to_form(server.base, tokens[i], stay)
        except (PageGone, TimeoutError, LookupError) as exc:  # no form within the page timeout
            print(f"  participant {i}: no form ({type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)
            return float("inf")

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, range(len(tokens))))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def bench_arrivals(participants: int, window: float, stay: float, pool_size: int) -> None:
    results = {}
    for preheat in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(home=Path(tmp) / "var", forms_port=free_ports(1)[0])
            tokens = seed(settings, participants + 2)
            spare, tokens = tokens[participants - 1:], tokens[:participants - 1]  # warm-up, measured
            with FormsServer(settings, preheat=preheat, pool_size=pool_size) as server:
                # One visit first: the server's own caches are warm and, preheated, the pool is
                # full, as on a service that has been up for a while.
                warm_up(server.base, spare)
                if preheat:
                    server.wait_pool(pool_size)
                results[preheat] = arrivals(server, tokens, window, stay)
    for q, name in ((0.5, "p50"), (0.95, "p95")):
        report(f"forms: time to interactive form {name}, {participants - 1} arrivals in {window:g} s",
               percentile(results[True], q), "s", baseline=percentile(results[False], q),
               baseline_name=f"Voila defaults (no preheating) {name}",
               target="p95 <= 2 s" if name == "p95" else "", pool_size=pool_size,
               failed=sum(t == float("inf") for t in results[True]),
               baseline_failed=sum(t == float("inf") for t in results[False]))


def bench_kernel_cpu(pool_size: int) -> None:
    """CPU-seconds a preheated questionnaire kernel costs before its visitor arrives (start or fork,
    imports, first cell, waiting for the query string): what refilling the pool costs per arrival.
    The service's kernels are forked from a zygote that imported the page's modules once; the
    baseline is the same service starting each kernel as its own interpreter (Voila's way). CPU
    time, unlike wall time, barely depends on what else the machine is running. The zygote's own
    one-off import is reported beside."""
    cost, zygote_cost = {}, 0.0
    for fork in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(home=Path(tmp) / "var", forms_port=free_ports(1)[0])
            seed(settings, 1)
            folder = Path(tmp) / "forms"  # the questionnaire page alone: no other page's pool
            folder.mkdir()
            shutil.copy(REPO_ROOT / "notebooks" / "forms" / FORMS_BURST_NOTEBOOK, folder)
            server = FormsServer(settings, preheat=True, pool_size=pool_size, fork=fork)
            server.cwd = str(folder)
            with server:
                server.wait_pool(pool_size)
                seconds = []
                for kernel in server.kernels():
                    with contextlib.suppress(psutil.Error):
                        times = kernel.cpu_times()
                        seconds.append(times.user + times.system)
                for process in server._tree()[1:]:
                    with contextlib.suppress(psutil.Error):
                        if fork and ZYGOTE_MAIN in process.cmdline() and process.pid not in {
                                k.pid for k in server.kernels()}:
                            times = process.cpu_times()
                            zygote_cost = times.user + times.system
            cost[fork] = sorted(seconds)[len(seconds) // 2]
    report("forms: CPU-seconds per preheated questionnaire kernel (median)", cost[True], "CPU-s",
           baseline=cost[False], baseline_name="same service, each kernel started as its own interpreter",
           kernels=pool_size, zygote_once_cpu_s=round(zygote_cost, 2))


class SubmitClient:
    """One participant filling PHQ-9 to the end, opening the link again whenever the page dies."""

    def __init__(self, base: Callable[[], str], token: str, index: int, pages: threading.Semaphore) -> None:
        self.base, self.token, self.index, self.pages = base, token, index, pages
        self.acknowledged = False
        self.gone_before_ack = 0  # pages lost to the crash
        self.nothing_due = False  # reopened: already stored before the crash, never acknowledged

    def run(self, deadline: float) -> None:
        while not self.acknowledged and not self.nothing_due and time.monotonic() < deadline:
            try:
                with self.pages:
                    self._attempt()
            except (PageGone, TimeoutError, LookupError):
                self.gone_before_ack += 1
                time.sleep(0.5)

    def _attempt(self) -> None:
        page = Page(self.base(), self.token)
        try:
            page.load_widgets()
            try:
                opener = page.button("PHQ-9")
            except LookupError:
                said = " ".join(str(st.get("value", "")) for st in page.states.values())
                if "Rien à remplir" not in said:
                    raise PageGone(f"no form and not done: {page.alerts()[:200]!r}") from None
                self.nothing_due = True
                return
            page.click(opener)
            for _ in range(12):  # at most 10 questions, resumed forms start further on
                try:
                    send = page.button("Envoyer mes réponses")
                    if page.states[send]["layout"] and self._visible(page, send):
                        break
                except LookupError:
                    pass
                radio = self._current_radio(page)
                page.choose(radio, (self.index % 4) if radio else 0)
                page.click(page.button("Suivant"))
            thanks: list[bool] = []

            def seen(message: dict[str, Any]) -> None:
                value = message.get("content", {}).get("data", {}).get("state", {}).get("value", "")
                if isinstance(value, str) and THANKS in value.replace("&#x27;", "'"):
                    thanks.append(True)

            page.click(page.button("Envoyer mes réponses"), seen)
            self.acknowledged = bool(thanks)
            if not self.acknowledged:
                raise PageGone("no thank-you after the submit")
        finally:
            page.close()

    @staticmethod
    def _visible(page: Page, model_id: str) -> bool:
        layout = page.states.get(page.states[model_id]["layout"].removeprefix("IPY_MODEL_"), {})
        return layout.get("display") != "none"

    @staticmethod
    def _current_radio(page: Page) -> str:
        radios = [m for m, name in page.models.items() if name == "RadioButtonsModel"]
        if not radios:
            raise LookupError("no question on the page")
        return radios[-1]  # the newest: each page of the form makes a new one


def bench_crash(clients: int, concurrency: int, timeout: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "var", forms_port=free_ports(1)[0])
        tokens = seed(settings, clients)
        server = FormsServer(settings, preheat=True)
        server.start()
        try:
            pages = threading.Semaphore(concurrency)
            people = [SubmitClient(lambda: server.base, token, i, pages) for i, token in enumerate(tokens)]
            deadline = time.monotonic() + timeout
            threads = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in people]
            for thread in threads:
                thread.start()
            while sum(c.acknowledged for c in people) < clients // 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            acked_at_kill = sum(c.acknowledged for c in people)
            restart = server.crash_and_restart()
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        finally:
            server.stop()
        engine = connect(settings.database_url)
        with session_scope(engine) as session:
            per_participant = dict(session.execute(
                select(Participant.pseudonym, func.count(Response.id))
                .join(Response, Response.participant_id == Participant.id)
                .group_by(Participant.pseudonym)).all())
        engine.dispose()
    acknowledged = sum(c.acknowledged for c in people)
    stored = sum(per_participant.values())
    twice = sum(1 for n in per_participant.values() if n > 1)
    pseudonyms = [f"P-BF{i:06d}" for i in range(clients)]
    missing = sum(1 for c, p in zip(people, pseudonyms, strict=True) if c.acknowledged and p not in per_participant)
    report(f"forms: {clients} concurrent submits, service SIGKILLed and restarted midway — acknowledged",
           acknowledged, "submits", baseline=float(clients), baseline_name="participants",
           stored=stored, duplicates=twice, acknowledged_but_missing=missing,
           acknowledged_before_kill=acked_at_kill, pages_lost_to_crash=sum(c.gone_before_ack for c in people),
           stored_unacknowledged=sum(1 for c in people if c.nothing_due), restart_s=round(restart, 2),
           pages_open_at_once=concurrency,
           target="acknowledged_but_missing 0, duplicates 0")
    if missing or twice:
        raise SystemExit(f"FAILED: {missing} acknowledged submits missing, {twice} stored twice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--stay", type=float, default=20.0)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=40,
                        help="participants with a page open at once in the crash run (each page is a "
                             "kernel of ~60-90 MB: 200 at once needs a machine of its own)")
    parser.add_argument("--pool-size", type=int, default=FORMS_POOL_SIZE,
                        help="preheated kernels kept ready (the service's setting by default)")
    parser.add_argument("--skip-arrivals", action="store_true")
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument("--quick", action="store_true", help="8 arrivals in 8 s, 12 submits")
    args = parser.parse_args()
    if args.quick:
        args.participants, args.window, args.stay, args.submits = 8, 8.0, 1.0, 12
    if not args.quick:
        bench_kernel_cpu(args.pool_size)
    if not args.skip_arrivals:
        bench_arrivals(args.participants + 1, args.window, args.stay, args.pool_size)
    if not args.skip_crash:
        bench_crash(args.submits, args.concurrency, timeout=900.0)


if __name__ == "__main__":
    main()
