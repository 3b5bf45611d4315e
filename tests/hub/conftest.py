"""Hub test fixtures: a seeded store copied per test (migrating once), and one live hub per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.testing import Fixture, instance_settings, seed
from workbench.settings import Settings


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return seed(instance_settings(tmp_path_factory.mktemp("hub-template") / "var"))


@pytest.fixture
def store(seeded_template: Fixture, tmp_path: Path) -> Iterator[Fixture]:
    """A private copy of the seeded store: lockouts and used TOTP steps do not leak between tests."""
    home = tmp_path / "var"
    shutil.copytree(seeded_template.settings.home, home)
    old = seeded_template.settings
    settings = Settings(home=home, hub_port=old.hub_port, public_url=old.public_url, demo=True,
                        lockout_base_seconds=old.lockout_base_seconds)
    yield replace(seeded_template, settings=settings)
