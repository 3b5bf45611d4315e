"""The coding service's light page: Voila finds the template, and what it writes into the page."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_core.paths import jupyter_path
from traitlets.config import PyFileConfigLoader
from voila.exporter import VoilaExporter
from voila.paths import collect_template_paths

from hub.coding_service import (
    CODING_JUPYTER_PATH,
    CODING_TEMPLATE,
    CODING_VOILA_CONFIG,
    client_version,
    coding_service,
)
from workbench.settings import Settings

STATIC = CODING_JUPYTER_PATH / "voila" / "templates" / CODING_TEMPLATE / "static"
WIDGET = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc123", "version_major": 2, "version_minor": 0},
          "text/plain": "CodingPage(children=(HTML(value='</script><script>alert(1)</script>'),))"}


def template_paths() -> list[str]:
    """As Voila collects them in the service (JUPYTER_PATH first)."""
    return collect_template_paths(["voila", "nbconvert"], CODING_TEMPLATE, prune=True,
                                  root_dirs=[str(CODING_JUPYTER_PATH), *jupyter_path()])


def render(outputs: list[dict[str, Any]], version: str = "v1") -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell("coding_page(settings, None)")]

    async def kernel_start(_nb: Any) -> str:
        return "kernel-1"

    async def cell_generator(notebook: Any, _kernel_id: str) -> AsyncIterator[Any]:
        for cell in notebook.cells:
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            yield cell

    exporter = VoilaExporter(template_paths=template_paths(), template_name=CODING_TEMPLATE,
                             base_url="/services/coding/")
    exporter.exclude_input = True
    resources = {"base_url": "/services/coding/", "theme": "light", "template": CODING_TEMPLATE,
                 "metadata": {"name": "coding"}, "weshare_coding": {"version": version}}

    async def run() -> str:
        parts = [html async for html, _ in exporter.generate_from_notebook_node(
            nb, resources=resources, page_config={},
            extra_context={"kernel_start": kernel_start, "cell_generator": cell_generator, "frontend": "voila"})]
        return "".join(parts)

    return asyncio.run(run())


def scripts(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)


def test_voila_finds_the_template_where_the_service_points_it() -> None:
    paths = template_paths()
    assert paths[0] == str(CODING_JUPYTER_PATH / "voila" / "templates" / CODING_TEMPLATE)
    assert any(p.endswith("voila/templates/lab") for p in paths)  # ?template=lab keeps its files
    service = coding_service(Settings(home=Path("/nonexistent")), port=18651)
    assert f"--template={CODING_TEMPLATE}" in service["command"]
    assert service["environment"]["JUPYTER_PATH"] == str(CODING_JUPYTER_PATH)


def test_the_page_carries_the_outputs_as_data_and_loads_only_its_own_module() -> None:
    page = render([{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": WIDGET}])
    found = scripts(page)
    for attributes, body in found:  # nothing inline runs: data blocks, or a module file of ours
        assert 'type="application/json"' in attributes or (
            'type="module"' in attributes and "coding-page.js?v=v1" in attributes and not body.strip())
    config = json.loads(next(b for a, b in found if 'id="wsl-config"' in a))
    assert config == {"baseUrl": "/services/coding/", "kernelId": "kernel-1", "version": "v1"}
    (output,) = [json.loads(b) for a, b in found if "wsl-output" in a]
    assert output["data"] == WIDGET  # the widget's model id, and a repr that cannot close the tag
    assert "<script>alert(1)" not in page
    assert 'role="status"' in page and "Loading" in page  # until the script says otherwise
    assert 'href="?template=lab"' in page  # Voila's full page, one link away


def test_every_file_the_page_names_exists() -> None:
    page = render([])
    named = set(re.findall(r"weshare-coding/static/([\w.-]+)\?v=v1", page))
    assert named == {"coding-page.css", "coding-page.js", "kernel.js", "widgets.js"}
    assert all((STATIC / name).is_file() for name in named)


def test_the_version_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("export default 1;\n")
    first = client_version(tmp_path)
    assert client_version(tmp_path) == first
    (tmp_path / "a.js").write_text("export default 2;\n")
    assert client_version(tmp_path) != first
    assert re.fullmatch(r"[0-9a-f]{16}", client_version())


def test_the_service_config_gives_the_page_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    config = PyFileConfigLoader("voila.py", path=str(CODING_VOILA_CONFIG)).load_config()
    assert config.VoilaConfiguration.resources == {"weshare_coding": {"version": client_version()}}
