"""The researcher's access request form, driven as a user would (values set, buttons clicked)."""

from __future__ import annotations

from sqlalchemy import select

from secure_bubble.access import PERMITTED_PURPOSES
from widgets._governed import Desk
from widgets.access_request import AccessRequestForm
from workbench.audit import AuditEntry
from workbench.governance.models import AccessRequest

from ._world import JUSTIFY, World


def _form(world: World, viewer: str = "researcher.u") -> AccessRequestForm:
    return AccessRequestForm(Desk(world.runner, viewer))


def _fill(form: AccessRequestForm) -> None:
    form.title.value = "Sleep and fatigue after surgery"
    form.purpose.value = "quality_of_life"
    form.regulatory_ref.value = "MR-004 n°2230001"
    form.funder.value = "public"
    form.requester_status.value = "academic"
    form.team.value = "author.u"
    form.duration.value = 18
    form.study.value = "S-A"
    form.variables.value = "qlq-c30.QL2, qlq-c30.FA\nqlq-c30.SL"
    form.justification.value = JUSTIFY
    form.add_button.click()
    form.study.value = "S-B"
    form.variables.value = "phq-9.TOTAL"
    form.justification.value = JUSTIFY
    form.add_button.click()


def test_only_permitted_purposes_can_be_chosen(world: World) -> None:
    form = _form(world)
    assert [key for _, key in form.purpose.options] == list(PERMITTED_PURPOSES)
    assert not {"promotion", "insurance"} & {key for _, key in form.purpose.options}


def test_tariff_is_shown_before_submitting_and_the_request_opens_the_window(world: World) -> None:
    form = _form(world)
    _fill(form)
    assert form.submit_button.disabled  # no tariff seen yet
    form.quote_button.click()
    # academic: no access or volume fee, 200 € per study
    assert "2 study/studies" in form.tariff.value and 'weshare-total">400.00 €' in form.tariff.value
    assert not form.submit_button.disabled
    form.submit_button.click()
    assert "submitted" in form.status.value, form.status.value
    requests = world.run(lambda s: [(r.title, r.status, r.team, r.duration_months, r.tariff["total"],
                                     {i.study_code: i.variables for i in r.items})
                                    for r in s.execute(select(AccessRequest).where(
                                        AccessRequest.title == "Sleep and fatigue after surgery")).scalars()])
    assert requests == [("Sleep and fatigue after surgery", "sponsor_window", ["author.u", "researcher.u"], 18, 400.0,
                         {"S-A": ["qlq-c30.FA", "qlq-c30.QL2", "qlq-c30.SL"], "S-B": ["phq-9.TOTAL"]})]
    assert "Sleep and fatigue after surgery" in form.mine.value and "opposition" in form.mine.value.lower()


def test_changing_the_form_after_the_tariff_requires_seeing_it_again(world: World) -> None:
    form = _form(world)
    _fill(form)
    form.quote_button.click()
    form.requester_status.value = "private"
    assert form.submit_button.disabled and form.tariff.value == ""
    form.quote_button.click()
    assert 'weshare-total">18,000.00 €' in form.tariff.value  # 12 000 + 3 000 + 2 × 1 500


def test_a_missing_justification_is_named_and_nothing_is_written(world: World) -> None:
    form = _form(world)
    _fill(form)
    form.study.value = "S-A"
    form.variables.value = "qlq-c30.QL2"
    form.justification.value = "too short"
    form.add_button.click()
    form.quote_button.click()
    before = world.run(lambda s: len(s.execute(select(AccessRequest)).scalars().all()))
    form.submit_button.click()
    assert 'role="alert"' in form.status.value and "S-A" in form.status.value and "justif" in form.status.value
    assert world.run(lambda s: len(s.execute(select(AccessRequest)).scalars().all())) == before


def test_a_sponsor_cannot_file_and_the_refusal_is_audited(world: World) -> None:
    form = _form(world, "sponsor.u")
    assert "only researchers" in form.status.value
    form.title.value = "x"
    form.quote_button.click()
    form.submit_button.disabled = False
    form.quoted = form._fields()
    form.submit_button.click()
    assert 'role="alert"' in form.status.value
    refused = world.run(lambda s: [e.after for e in s.execute(select(AuditEntry).where(
        AuditEntry.action == "governance.refused", AuditEntry.actor == "sponsor.u")).scalars()])
    assert refused == [{"action": "access.file"}]
