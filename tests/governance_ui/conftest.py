"""Fixtures of the governance dashboard tests: a private copy of the seeded world per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.settings import Settings
from workbench.storage.engine import make_engine
from workbench.storage.migrate import upgrade

from ._world import World, seed


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    home = tmp_path_factory.mktemp("gov-template") / "var"
    home.mkdir()
    url = f"sqlite:///{home / 'weshare.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return home, seed(Settings(home=home, database_url=url))


@pytest.fixture
def world(world_template: tuple[Path, World], tmp_path: Path) -> World:
    """A private copy of the seeded world for one test."""
    template_home, template = world_template
    home = tmp_path / "var"
    shutil.copytree(template_home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'weshare.sqlite'}")
    return World(settings, template.project, template.window, template.to_vote, template.deciding,
                 template.submitted_release, template.released)
