"""A coding study for the coding benchmark and browser test, and a standalone Voila to serve it.

``seed`` writes a study with one long pseudonymised interview (French, with emoji) and ``n``
codings by one coder; ``notebooks`` writes the dashboard notebook as the hub would serve it (the
viewer cell prepended, exactly what ``hub.voila_hooks.inject_viewer`` does) and the naive
baseline: the whole transcript as one ``ipywidgets.HTML``, re-rendered after every change.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import subprocess
import time
from bisect import bisect_right
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w
import psutil
import requests

from hub.services import (
    FORMS_VOILA_CONFIG,
    KERNEL_IPC_FLAG,
    VOILA_PAGE_FLAGS,
    settings_environment,
    venv_bin,
)
from hub.testing import free_ports
from hub.voila_hooks import viewer_cell_source
from workbench.accounts import add_user, get_user
from workbench.qualitative import build_transcript, load_starter_codebook, store
from workbench.qualitative.models import QualCoding
from workbench.settings import Settings
from workbench.storage import connect, session_scope, upgrade
from workbench.studies import service as studies

__all__ = ["CODER", "STUDY", "NaiveView", "coder_totp_secret", "notebooks", "seed", "stored_codings", "voila"]

ROOT = Path(__file__).resolve().parents[1]
STUDY = "BENCH-QDA"
CODER = "coder.bench"
_PHRASE = ("alors je pense que le traitement a changé beaucoup de choses dans ma vie au travail et à la "
           "maison avec la fatigue les nausées la peur que ça revienne mon mari mes enfants l'oncologue "
           "m'a expliqué mais je n'ai pas tout compris on se sent seule parfois heureusement l'infirmière "
           "était là pour répondre à mes questions et le retour au travail a été difficile")
WORDS = _PHRASE.split()
EMOJI = ["😟", "🙂", "👨‍👩‍👧", "💪🏽", "🎗️"]


def transcript_turns(words: int, rng: random.Random) -> list[tuple[str, str, int, int]]:
    turns, written, ms = [], 0, 0
    while written < words:
        n = rng.randint(8, 16) if len(turns) % 2 == 0 else rng.randint(30, 70)
        chosen = [rng.choice(WORDS) for _ in range(n)]
        if len(turns) % 2 and rng.random() < 0.3:
            chosen.insert(rng.randrange(len(chosen)), rng.choice(EMOJI))
        text = " ".join(chosen).capitalize() + "."
        speaker = "Enquêtrice" if len(turns) % 2 == 0 else "P-BENCH0001"
        turns.append((speaker, text, ms, ms + 400 * n))
        written += n
        ms += 400 * n
    return turns


def seed(settings: Settings, *, words: int = 30_000, codings: int = 1_000, seed_value: int = 7,
         turns: list[tuple[str, str, int, int]] | None = None, password: str | None = None) -> int:
    """The store with the study, the coder and the interview (or ``turns``); returns the version id.

    With ``password`` the coder can sign in to a hub (password + TOTP; ``coder_totp_secret``)."""
    rng = random.Random(seed_value)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        studies.create_study(s, STUDY, "Coding benchmark", actor="bench", design="qualitative")
        add_user(s, CODER, actor="bench", roles=[f"coder:study:{STUDY}"], password=password,
                 enrol_totp=password is not None, email=f"{CODER}@example.org" if password else None)
        book = load_starter_codebook("fr")
        store.save_codebook(s, STUDY, book, actor="bench")
        transcript = build_transcript("entretien-long", turns or transcript_turns(words, rng))
        version = store.add_document(s, STUDY, transcript, actor="bench", participant="P-BENCH0001")
        codable = [c.id for c in book.codes if c.codable]
        turns = [t for t in transcript.turns if t.speaker.startswith("P-")]
        for _ in range(codings):
            turn = rng.choice(turns)
            a = rng.randrange(turn.start, turn.end - 5)
            b = min(turn.end, a + rng.randint(5, 120))
            s.add(QualCoding(version_id=version.id, code_id=rng.choice(codable), coder=CODER, start=a, end=b,
                             quote=transcript.text[a:b]))
        version.locked = True
        version_id = version.id
    engine.dispose()
    return version_id


class NaiveView(w.VBox):  # type: ignore[misc]
    """Baseline: the whole transcript as one HTML value, rebuilt and re-sent after each change."""

    def __init__(self, backend: Any, version_id: int) -> None:
        self._backend, self._version_id = backend, version_id
        _study, self._transcript, book = backend.open(version_id)
        self._colors = {c.id: c.color for c in book.codes}
        self.start = w.Text(description="start")
        self.end = w.Text(description="end")
        self.code = w.Dropdown(options=[c.id for c in book.codes if c.codable], description="code")
        self.button = w.Button(description="Appliquer / Apply")
        self.html = w.HTML()
        self.button.on_click(lambda _b: self.apply())
        super().__init__([w.HBox([self.start, self.end, self.code, self.button]), self.html])
        self.redraw()

    def apply(self) -> None:
        self._backend.apply(self._version_id, [self.code.value], int(self.start.value), int(self.end.value),
                            as_consensus=False)
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the whole page (codings bucketed per turn, so the cost is the re-render itself)."""
        rows = self._backend.codings(self._version_id, blind=True)
        text, turns = self._transcript.text, self._transcript.turns
        starts = [t.line_start for t in turns]
        per_turn: list[list[dict[str, Any]]] = [[] for _ in turns]
        for c in rows:
            first = bisect_right(starts, c["start"]) - 1
            last = bisect_right(starts, max(c["start"], c["end"] - 1)) - 1
            for i in range(first, last + 1):
                per_turn[i].append(c)
        parts = ['<div class="wsb-ready">']
        for turn, mine in zip(turns, per_turn, strict=True):
            cuts = sorted({turn.start, turn.end, *[p for c in mine for p in
                                                   (max(turn.start, c["start"]), min(turn.end, c["end"]))]})
            body = []
            for a, b in itertools.pairwise(cuts):
                on = [c for c in mine if c["start"] < b and a < c["end"]]
                piece = escape(text[a:b])
                body.append(f'<mark style="background:{self._colors[on[0]["code"]]}55">{piece}</mark>'
                            if on else piece)
            parts.append(f"<p><b>{escape(turn.speaker)}</b> {''.join(body)}</p>")
        parts.append("</div>")
        self.html.value = "".join(parts)


def notebooks(directory: Path, version_id: int) -> dict[str, Path]:
    """``coding.ipynb`` (the real dashboard, viewer injected) and ``baseline.ipynb``."""
    import nbformat

    directory.mkdir(parents=True, exist_ok=True)
    real = nbformat.read(ROOT / "notebooks" / "dashboards" / "coding.ipynb", as_version=4)
    real.cells.insert(0, nbformat.v4.new_code_cell(viewer_cell_source(CODER)))
    nbformat.write(real, directory / "coding.ipynb")
    base = nbformat.v4.new_notebook()
    base.metadata = real.metadata
    base.cells = [nbformat.v4.new_code_cell(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        "from _coding_world import NaiveView\nfrom widgets.coding import StoreBackend\n"
        "from workbench.settings import load_settings\n"
        f"NaiveView(StoreBackend(load_settings(), {CODER!r}), {version_id})")]
    nbformat.write(base, directory / "baseline.ipynb")
    return {"coding": directory / "coding.ipynb", "baseline": directory / "baseline.ipynb"}


@contextlib.contextmanager
def voila(settings: Settings, directory: Path, *, preheat: bool = False, timeout: float = 120.0
          ) -> Iterator[str]:
    """Standalone Voila over ``directory`` on a free loopback port; yields its base URL."""
    port = free_ports(1)[0]
    env = {**settings_environment(settings), "PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1",
           "JUPYTER_RUNTIME_DIR": str(settings.home / "voila-runtime")}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    command = [venv_bin("voila"), str(directory), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
               "--Voila.port_retries=0", f"--Voila.config_file_paths={FORMS_VOILA_CONFIG}",
               KERNEL_IPC_FLAG, *VOILA_PAGE_FLAGS]  # the pages' config and flags of the forms service
    if preheat:
        command += ["--preheat_kernel=True", "--pool_size=1"]
    log = (settings.home / "voila.log").open("ab")
    process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"voila exited: see {settings.home / 'voila.log'}")
            try:
                requests.get(base + "api/kernels", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise TimeoutError("voila did not answer") from None
                time.sleep(0.1)
        yield base
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM Voila (it shuts its kernels down), then kill whatever of its tree is left."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    process.terminate()
    _gone, alive = psutil.wait_procs(tree, timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


def coder_totp_secret(settings: Settings) -> str:
    engine = connect(settings.database_url)
    with session_scope(engine) as s:
        secret = str(get_user(s, CODER).totp_secret)
    engine.dispose()
    return secret


def stored_codings(settings: Settings, version_id: int) -> list[dict[str, Any]]:
    engine = connect(settings.database_url)
    with session_scope(engine) as s:
        rows = [{"start": r.start, "end": r.end, "code": r.code_id, "quote": r.quote}
                for r in s.query(QualCoding).filter(QualCoding.version_id == version_id,
                                                    QualCoding.deleted_at.is_(None)).order_by(QualCoding.id)]
    engine.dispose()
    return rows


