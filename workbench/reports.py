"""Research reports: run a notebook, then export it to HTML or PDF with the platform's publication rules.

Every report leaving the workbench carries the acknowledgement the funder requires and a
reminder to deposit the publication in HAL, so nobody has to remember them. HTML comes from
nbconvert; PDF is that HTML printed by Debian's Chromium (no downloaded browser), so figures
(plotly) are drawn by their own JavaScript exactly as on screen.

    from workbench.reports import execute_notebook, write_report
    nb = execute_notebook("longitudinal_qol.ipynb", parameters={"project": "P2026-0001"})
    write_report(nb, "report.pdf")
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

from workbench.errors import NotFoundError, ValidationError

__all__ = [
    "ACKNOWLEDGEMENT_EN",
    "ACKNOWLEDGEMENT_FR",
    "HAL_REMINDER_EN",
    "HAL_REMINDER_FR",
    "execute_notebook",
    "inject_parameters",
    "read_notebook",
    "to_html",
    "to_pdf",
    "with_publication_rules",
    "write_report",
]

ACKNOWLEDGEMENT_EN = ("This work used the WeShare research infrastructure, coordinated by Unicancer and funded "
                      "by the French National Research Agency (ANR) under the France 2030 programme "
                      "(ANR-21-ESRE-0017).")
ACKNOWLEDGEMENT_FR = ("Ce travail a utilisé l'infrastructure de recherche WeShare, coordonnée par Unicancer et "
                      "financée par l'Agence nationale de la recherche (ANR) au titre du programme France 2030 "
                      "(ANR-21-ESRE-0017).")
HAL_REMINDER_EN = ("Please deposit the resulting publication in the open archive HAL "
                   "(https://hal.science) and send its HAL identifier to the WeShare team.")
HAL_REMINDER_FR = ("Merci de déposer la publication qui en résulte dans l'archive ouverte HAL "
                   "(https://hal.science) et d'en communiquer l'identifiant HAL à l'équipe WeShare.")
RULES_TAG = "weshare-publication-rules"
INJECTED_TAG = "injected-parameters"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
OFFLINE_SCRIPT = "data:text/javascript,"  # an empty script instead of a CDN link


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """A notebook from disk, with a one-line error if it is missing or not a notebook."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{file}: no such notebook")
    try:
        nb = nbformat.read(file, as_version=4)
        nbformat.validate(nb)
    except (nbformat.ValidationError, ValueError, UnicodeDecodeError) as exc:  # JSON errors are ValueErrors
        raise ValidationError(f"not a valid Jupyter notebook ({str(exc).splitlines()[0]})", where=str(file)) from None
    return nb


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def inject_parameters(nb: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> nbformat.NotebookNode:
    """A copy with a cell assigning ``parameters`` right after the cell tagged "parameters"
    (papermill's convention), so a template's defaults are overridden without editing it."""
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if INJECTED_TAG not in _tags(c)]
    if not parameters:
        return out
    for name in parameters:
        if not str(name).isidentifier():
            raise ValidationError(f"{name!r} is not a Python name", where="parameters")
    lines = ["# Parameters injected for this run"] + [f"{k} = {v!r}" for k, v in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    index = next((i for i, c in enumerate(out.cells) if "parameters" in _tags(c)), None)
    if index is None:
        raise ValidationError('no cell is tagged "parameters", so parameters cannot be injected',
                              where="notebook")
    out.cells.insert(index + 1, cell)
    return out


def _cell_label(nb: nbformat.NotebookNode, index: int) -> str:
    """'cell 4 (code: `fit = fit_mixed_model(...`)' — counted from 1 as Jupyter shows them."""
    source = nb.cells[index].source.strip().splitlines()
    first = next((line for line in source if line.strip() and not line.startswith("#")), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"cell {index + 1}" + (f" (`{first}`)" if first else "")


def _failed_cell(nb: nbformat.NotebookNode) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return None


def execute_notebook(source: str | Path | nbformat.NotebookNode, *, parameters: Mapping[str, Any] | None = None,
                     cwd: str | Path | None = None, timeout: int = 600, kernel_name: str = "python3",
                     env: Mapping[str, str] | None = None) -> nbformat.NotebookNode:
    """Run every cell top to bottom and return the executed notebook.

    A failing cell raises ``ValidationError`` naming the cell (number and first line) and the
    error's last line — not the traceback, which may quote data.
    """
    nb = read_notebook(source) if not isinstance(source, nbformat.NotebookNode) else copy.deepcopy(source)
    where = str(source) if not isinstance(source, nbformat.NotebookNode) else "notebook"
    nb = inject_parameters(nb, parameters or {})
    run_dir = Path(cwd) if cwd else (Path(source).resolve().parent if isinstance(source, (str, Path)) else Path.cwd())
    try:
        NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                       resources={"metadata": {"path": str(run_dir)}}).execute(env={**os.environ, **(env or {})})
    except CellExecutionError as exc:
        index = _failed_cell(nb)
        label = _cell_label(nb, index) if index is not None else "a cell"
        detail = f"{exc.ename}: {exc.evalue}".strip().splitlines()[0] if exc.ename else "error"
        raise ValidationError(f"{label} failed: {detail}", where=where) from None
    except CellTimeoutError:
        raise ValidationError(f"a cell ran longer than {timeout} s", where=where) from None
    except DeadKernelError:
        raise ValidationError("the kernel died while running the notebook (out of memory?)", where=where) from None
    return nb


def with_publication_rules(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy ending with the acknowledgement (EN, FR) and the HAL reminder, once."""
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if RULES_TAG not in _tags(c)]
    text = "\n".join([
        "---", "## Publication rules / Règles de publication", "",
        "**Acknowledgement** (to copy into any publication):", "", f"> {ACKNOWLEDGEMENT_EN}", "",
        "**Remerciements** (à reprendre dans toute publication) :", "", f"> {ACKNOWLEDGEMENT_FR}", "",
        f"**Open access — HAL.** {HAL_REMINDER_EN}", "", f"**Accès ouvert — HAL.** {HAL_REMINDER_FR}",
    ])
    out.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": [RULES_TAG]}))
    return out


def _figures_as_html(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy where each plotly figure is also HTML, drawn by plotly.js inlined once.

    A figure shown in a kernel without a browser (nbclient) carries only plotly's JSON mimetype,
    which nbconvert cannot render: without this the report would silently lose every figure.
    """
    import plotly.io as pio

    out = copy.deepcopy(nb)
    first = True
    for cell in out.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data and "text/html" not in data:
                figure = dict(data.pop(PLOTLY_MIME))
                figure.pop("config", None)
                data["text/html"] = pio.to_html(figure, full_html=False, include_plotlyjs=first,
                                                config={"displayModeBar": False, "responsive": True})
                first = False
    return out


def to_html(nb: nbformat.NotebookNode, *, hide_code: bool = False) -> str:
    """The notebook as one self-contained HTML page, publication rules included.

    Nothing is fetched from the network (the bubble has none): plotly.js is inlined, and
    nbconvert's require.js and MathJax links are left out, so LaTeX in markdown shows as typed.
    """
    exporter = HTMLExporter(template_name="lab", exclude_input=hide_code, exclude_input_prompt=hide_code,
                            exclude_output_prompt=hide_code, require_js_url=OFFLINE_SCRIPT,
                            mathjax_url=OFFLINE_SCRIPT)
    body, _resources = exporter.from_notebook_node(with_publication_rules(_figures_as_html(nb)))
    return body


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise NotFoundError("Chromium is not installed (Debian package 'chromium'); PDF export needs it")
    return found


def to_pdf(html: str, out: str | Path, *, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``out`` with headless Chromium (JavaScript figures drawn first)."""
    target = Path(out)
    with tempfile.TemporaryDirectory(prefix="weshare-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        pdf = Path(tmp) / "report.pdf"
        command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--no-default-browser-check", f"--user-data-dir={Path(tmp) / 'profile'}",
                   "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000",
                   "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ValidationError(f"Chromium did not finish printing within {timeout:g} s", where=str(target)) from None
        if not pdf.is_file() or pdf.read_bytes()[:4] != b"%PDF":
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise ValidationError(f"Chromium could not print the report ({last})", where=str(target))
        shutil.move(str(pdf), target.with_name(target.name + ".part"))
    target.with_name(target.name + ".part").replace(target)  # never a half-written PDF under the final name
    return target


def _check_output(out: str | Path) -> tuple[Path, str]:
    target = Path(out)
    kind = target.suffix.lower().lstrip(".")
    if kind not in ("html", "pdf"):
        raise ValidationError("the output must end in .html or .pdf", where=str(target))
    if not target.parent.is_dir():
        raise NotFoundError(f"{target}: the directory {target.parent} does not exist (create it first)")
    return target, kind


def write_report(nb: nbformat.NotebookNode, out: str | Path, *, hide_code: bool = False) -> Path:
    """Write the notebook as HTML or PDF (by the file's extension); the file appears whole or not at all."""
    target, kind = _check_output(out)
    html = to_html(nb, hide_code=hide_code)
    if kind == "pdf":
        return to_pdf(html, target)
    part = target.with_name(target.name + ".part")
    part.write_text(html, encoding="utf-8")
    part.replace(target)
    return target
