"""Page templates compiled once per server: same pages, and an edited template is compiled again."""

from __future__ import annotations

import nbformat
from jinja2 import DictLoader, Environment
from nbconvert.exporters import HTMLExporter

from hub.voila_templates import MemoryBytecodeCache, share_compiled_templates


def test_environments_share_compiled_templates_and_render_the_same_page() -> None:
    class Exporter(HTMLExporter):  # a subclass: the patch stays off nbconvert's own class here
        pass

    cache = share_compiled_templates(Exporter)
    assert share_compiled_templates(Exporter) is cache  # idempotent
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Bonjour")])
    first, _ = Exporter().from_notebook_node(notebook)
    assert len(cache) > 0
    compiled: list[str] = []
    original = Environment.compile

    def counting(self: Environment, *args: object, **kwargs: object) -> object:
        compiled.append(str(args[1] if len(args) > 1 else kwargs.get("name")))
        return original(self, *args, **kwargs)

    Environment.compile = counting  # type: ignore[method-assign]
    try:
        second, _ = Exporter().from_notebook_node(notebook)
    finally:
        Environment.compile = original  # type: ignore[method-assign]
    assert second == first
    assert compiled == []  # a new exporter's environment loaded every template from the cache
    assert "_weshare_shared_bytecode" not in vars(HTMLExporter)


def test_an_edited_template_is_compiled_afresh() -> None:
    cache = MemoryBytecodeCache()
    templates = {"page.html": "Bonjour {{ name }}"}
    env = Environment(loader=DictLoader(templates), bytecode_cache=cache, autoescape=True)
    assert env.get_template("page.html").render(name="P-1") == "Bonjour P-1"
    templates["page.html"] = "Hello {{ name }}"
    fresh = Environment(loader=DictLoader(templates), bytecode_cache=cache, autoescape=True)
    assert fresh.get_template("page.html").render(name="P-1") == "Hello P-1"


def test_async_and_sync_environments_do_not_share_code() -> None:
    cache = MemoryBytecodeCache()
    templates = {"page.html": "{% for x in items %}{{ x }}{% endfor %}"}
    sync = Environment(loader=DictLoader(templates), bytecode_cache=cache, autoescape=True)
    assert sync.get_template("page.html").render(items=[1, 2]) == "12"
    asynchronous = Environment(loader=DictLoader(templates), bytecode_cache=cache, autoescape=True,
                               enable_async=True)
    assert asynchronous.get_template("page.html").render(items=[1, 2]) == "12"
    assert len(cache) == 2
