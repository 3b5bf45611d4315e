"""Accounts for the staff dashboard tests: a platform manager, a manager of one study, a site
investigator, and a researcher with no study role."""

from __future__ import annotations

import pytest

from widgets._store import in_session
from widgets.study_setup import StaffDesk
from workbench.accounts import add_user
from workbench.settings import Settings

USERS = {
    "platform.manager": ["study_manager"],
    "other.manager": ["study_manager:study:ELSEWHERE"],
    "dr.site": ["researcher:project:P1"],
    "researcher.one": ["researcher:project:P1"],
    "admin.one": ["administrator"],
}


@pytest.fixture
def staff(settings: Settings) -> Settings:
    def work(s):  # type: ignore[no-untyped-def]
        for name, roles in USERS.items():
            add_user(s, name, actor="test", roles=roles)

    in_session(settings, work)
    return settings


@pytest.fixture
def desk(staff: Settings) -> StaffDesk:
    return StaffDesk(staff, "platform.manager")
