"""Data-rights requests: deadlines in the team queue, opposition applied at once, portable copy."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.participants.rights import close_request, file_request, portable_copy, queue
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


def test_rights_requests(engine: Engine) -> None:
    with session_scope(engine) as s:
        st = studies.create_study(s, "RGT", "Rights", actor="sm")
        p = Participant(study_id=st.id, pseudonym="P-RIGHTS01", inclusion_date=date(2026, 1, 5))
        s.add(p)
        s.flush()
        s.add(Response(participant_id=p.id, event_code="BL", instrument_id="phq-9",
                       submission_key="k" * 20, answers={"q1": 2, "_scores": {"TOTAL": 2}}))
        earlier = utcnow() - timedelta(days=40)
        copy_req = file_request(s, p, "copy", now=earlier)
        with pytest.raises(ValidationError, match="details"):
            file_request(s, p, "erasure")
        file_request(s, p, "opposition")
        assert p.reuse_opposed  # effective immediately
        items = queue(s, "RGT")
        assert [i["kind"] for i in items] == ["copy", "opposition"] and items[0]["overdue"]
        data = json.loads(portable_copy(s, p, actor="sm"))
        assert data["questionnaires"][0]["answers"] == {"q1": 2}
        assert data["participant"]["opposed_to_reuse"] is True
        close_request(s, copy_req.id, actor="sm", answer="Copy sent through the portal")
        with pytest.raises(ConflictError):
            close_request(s, copy_req.id, actor="sm", answer="again")
        assert [i["kind"] for i in queue(s, "RGT")] == ["opposition"]
