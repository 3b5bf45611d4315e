"""Reports: a notebook exported to HTML and to PDF (nbconvert, then Debian's Chromium) carries the
acknowledgement naming the grant and the coordinating body, and the reminder to deposit in HAL."""

from __future__ import annotations

import html as html_lib
import re
import shutil
import unicodedata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbench.cli import main
from workbench.errors import NotFoundError, ValidationError
from workbench.reports import (
    ACKNOWLEDGEMENT_EN,
    ACKNOWLEDGEMENT_FR,
    HAL_REMINDER_EN,
    HAL_REMINDER_FR,
    PLOTLY_MIME,
    execute_notebook,
    inject_parameters,
    to_html,
    with_publication_rules,
    write_report,
)


def _notebook(*code: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell("# Fatigue after treatment"),
                             new_code_cell('n = 2\nlabel = "demo"', metadata={"tags": ["parameters"]}),
                             *[new_code_cell(c) for c in code]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _visible(page: str) -> str:
    """The words of an HTML page (tags dropped, entities decoded), as a reader sees them."""
    return _flat(html_lib.unescape(re.sub(r"<[^>]+>", "", page)))


def _flat(text: str) -> str:
    """Text as a PDF extractor returns it, with line breaks, hyphenation and ligatures (ﬁ) undone."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).replace("-\n", "-")).strip()


def test_the_sentences_name_the_grant_the_coordinator_and_hal() -> None:
    for sentence in (ACKNOWLEDGEMENT_EN, ACKNOWLEDGEMENT_FR):
        assert "ANR-21-ESRE-0017" in sentence and "France 2030" in sentence and "Unicancer" in sentence
    assert "HAL" in HAL_REMINDER_EN and "https://hal.science" in HAL_REMINDER_FR


def test_html_carries_the_rules_once_and_can_hide_code(tmp_path: Path) -> None:
    nb = with_publication_rules(with_publication_rules(_notebook("print(n * 21)")))
    assert sum("weshare-publication-rules" in c.metadata.get("tags", []) for c in nb.cells) == 1
    out = write_report(nb, tmp_path / "report.html")
    text = _visible(out.read_text(encoding="utf-8"))
    for sentence in (ACKNOWLEDGEMENT_EN, ACKNOWLEDGEMENT_FR, HAL_REMINDER_EN, HAL_REMINDER_FR):
        assert text.count(sentence) == 1, sentence
    assert "print(n * 21)" in text
    hidden = to_html(_notebook("print(n * 21)"), hide_code=True)
    assert "print(n" not in hidden and ACKNOWLEDGEMENT_EN in hidden
    assert not list(tmp_path.glob("*.part"))


def test_plotly_figures_shown_by_a_kernel_are_drawn_offline() -> None:
    import plotly.graph_objects as go

    nb = _notebook("fig.show()")
    figure = go.Figure(go.Bar(x=["BL", "W12"], y=[3, 4])).to_plotly_json()
    nb.cells[-1].outputs = [nbformat.v4.new_output("display_data", data={PLOTLY_MIME: figure})]
    page = to_html(nb)  # nbconvert warns (an error here) on a mimetype it cannot render
    assert page.count("Plotly.newPlot") == 1 and '"W12"' in page
    assert not re.findall(r'<script[^>]+src="https?:', page)  # plotly.js inlined, no CDN


def test_parameters_are_injected_after_the_tagged_cell() -> None:
    nb = inject_parameters(inject_parameters(_notebook(), {"n": 5}), {"n": 7, "label": "x"})
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and nb.cells.index(injected[0]) == 2
    assert "n = 7" in injected[0].source and "label = 'x'" in injected[0].source
    with pytest.raises(ValidationError, match="not a Python name"):
        inject_parameters(_notebook(), {"bad name": 1})
    plain = new_notebook(cells=[new_code_cell("x = 1")])
    with pytest.raises(ValidationError, match='no cell is tagged "parameters"'):
        inject_parameters(plain, {"x": 2})


def test_bad_output_paths(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"must end in \.html or \.pdf"):
        write_report(_notebook(), tmp_path / "report.docx")
    with pytest.raises(NotFoundError, match="create it first"):
        write_report(_notebook(), tmp_path / "missing" / "report.html")


@pytest.mark.slow
def test_a_failing_cell_is_named_without_a_traceback() -> None:
    nb = _notebook("total = n + 1", "total / (n - 2)")
    with pytest.raises(ValidationError, match=r"cell 4 \(`total / \(n - 2\)`\) failed: ZeroDivisionError"):
        execute_notebook(nb)


@pytest.mark.slow
def test_pdf_end_to_end_carries_the_acknowledgement(tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed: run `make chromium` (apt-get install chromium)")
    from pypdf import PdfReader

    source = tmp_path / "fatigue.ipynb"
    nbformat.write(_notebook('import plotly.graph_objects as go\nprint(f"{label}: {n * 21} participants")',
                             "go.Figure(go.Bar(x=['BL', 'W12'], y=[n, n + 1])).show()"), source)
    out = tmp_path / "fatigue.pdf"
    code = main(["report", str(source), "-o", str(out), "--execute", "-p", "n=3", "-p", "label=cohort"])
    assert code == 0
    assert out.read_bytes()[:5] == b"%PDF-" and not list(tmp_path.glob("*.part"))
    reader = PdfReader(out)
    text = _flat("\n".join(page.extract_text() for page in reader.pages))
    assert "cohort: 63 participants" in text  # the injected parameters ran
    assert _flat(ACKNOWLEDGEMENT_EN) in text
    assert "ANR-21-ESRE-0017" in text and "Unicancer" in text
    assert _flat(HAL_REMINDER_EN) in text and "https://hal.science" in text
    assert "Remerciements" in text
    assert "W12" in text  # the figure was drawn (its axis labels are text in the PDF)


def test_cli_refuses_parameters_without_execute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "nb.ipynb"
    nbformat.write(_notebook(), source)
    assert main(["report", str(source), "-o", str(tmp_path / "r.html"), "-p", "n=3"]) == 2
    assert "parameters only apply with --execute" in capsys.readouterr().err
    assert main(["report", str(source), "-o", str(tmp_path / "r.html")]) == 0
    assert ACKNOWLEDGEMENT_EN in (tmp_path / "r.html").read_text(encoding="utf-8")
