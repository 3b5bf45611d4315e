"""Second check on a personal link: year of birth, audited failures, lock after five."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from workbench.errors import PermissionDenied, ValidationError
from workbench.participants.models import Participant
from workbench.participants.second_check import check_birth_year, needs_second_check
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


def test_year_of_birth_check_locks_after_five_failures(engine: Engine) -> None:
    with session_scope(engine) as s:
        study = studies.create_study(s, "LINK", "Link study", actor="sm")
        person = Participant(study_id=study.id, pseudonym="P-LINK0001", inclusion_date=date.today(),
                             baseline={"birth_year": 1962})
        other = Participant(study_id=study.id, pseudonym="P-LINK0002", inclusion_date=date.today())
        s.add_all([person, other])
        s.flush()
        assert needs_second_check(person) and not needs_second_check(other)
        assert check_birth_year(s, other, "")  # no year on file: nothing to check
        assert check_birth_year(s, person, " 1962 ")
        with pytest.raises(ValidationError, match="four digits"):
            check_birth_year(s, person, "62")
    for _ in range(5):
        with session_scope(engine) as s:
            assert not check_birth_year(s, s.get(Participant, person.id), "1961")
    with session_scope(engine) as s, pytest.raises(PermissionDenied, match="too many attempts"):
        check_birth_year(s, s.get(Participant, person.id), "1962")
