"""Sponsor and committee dashboards on the seeded world, driven without a browser."""

from __future__ import annotations

from sqlalchemy import select

from secure_bubble import access
from widgets._governed import Desk
from widgets.committee_desk import CommitteeDesk
from widgets.sponsor_desk import SponsorDesk
from workbench import accounts
from workbench.audit import AuditEntry
from workbench.governance.models import AccessRequest, Project

from ._world import ITEM_B, World


def _status(world: World, rid: int) -> str:
    return world.run(lambda s: s.get(AccessRequest, rid).status)


def _refusals(world: World, actor: str) -> list[dict]:  # type: ignore[type-arg]
    return world.run(lambda s: [e.after for e in s.execute(select(AuditEntry).where(
        AuditEntry.action == "governance.refused", AuditEntry.actor == actor)).scalars()])


def test_sponsor_sees_only_open_requests_on_their_studies_and_opposes(world: World) -> None:
    page = SponsorDesk(Desk(world.runner, "sponsor.u"))
    assert page.choice.options == ((f"{world.window} — S-A — Fatigue trajectories", (world.window, "S-A")),)
    assert "qlq-c30.FA" in page.detail.value and "phq-9" not in page.detail.value  # S-B is not theirs
    page.oppose_button.click()  # no reason given
    assert 'role="alert"' in page.status.value and "reason" in page.status.value
    page.reason.value = "Our primary paper is not published yet."
    page.oppose_button.click()
    assert "Opposition recorded" in page.status.value
    item = world.run(lambda s: [(i.sponsor_decision, i.sponsor_reason) for i in s.get(
        AccessRequest, world.window).items if i.study_code == "S-A"])
    assert item == [("opposed", "Our primary paper is not published yet.")]
    # Still open (S-B has not answered): listed with the answer given, which may still change.
    assert "Opposition / Opposed" in page.detail.value and "Opposition / Opposed" in page.queue_view.value


def test_second_sponsor_closes_the_window_and_the_request_goes_to_the_committee(world: World) -> None:
    SponsorDesk(Desk(world.runner, "sponsor.u")).no_objection_button.click()
    page = SponsorDesk(Desk(world.runner, "spb"))
    page.no_objection_button.click()
    assert "No objection recorded" in page.status.value and "Scientific &amp; ethics" in page.status.value
    assert _status(world, world.window) == "committee_review"


def test_a_researcher_is_refused_the_sponsor_view_and_it_is_audited(world: World) -> None:
    page = SponsorDesk(Desk(world.runner, "researcher.u"))
    assert 'role="alert"' in page.status.value and page.choice.options == ()
    assert _refusals(world, "researcher.u") == [{"action": "sponsor.view"}]


def test_committee_member_reads_the_dossier_votes_with_conditions_and_approves(world: World) -> None:
    page = CommitteeDesk(Desk(world.runner, "committee.u"))
    assert "Scientific &amp; ethics committee" in page.heading.value
    assert dict((v, k) for k, v in page.choice.options).keys() >= {world.to_vote, world.deciding}
    page.choice.value = world.deciding
    dossier = page.dossier.value
    for expected in ("MR-004 n°2226789", "phq-9.TOTAL", "Fatigue and global health", "sound design",
                     "access.submit", "no_objection"):
        assert expected in dossier, expected
    assert 'download="dossier-' in page.dossier_link.value
    page.decision.value = "approve"
    page.comment.value = "Feasible and proportionate."
    page.conditions.value = "No linkage with other sources."
    page.vote_button.click()
    assert "Vote recorded" in page.status.value and "Approved" in page.status.value, page.status.value
    project = world.run(lambda s: s.execute(select(Project.conditions, Project.team).where(
        Project.request_id == world.deciding)).one())
    assert tuple(project) == ("No linkage with other sources.", ["rita"])
    assert world.deciding not in [v for _, v in page.choice.options]
    assert "Feasible and proportionate." in page.decisions.value  # a decision with its reasons


def test_vote_needs_a_reasoned_comment(world: World) -> None:
    page = CommitteeDesk(Desk(world.runner, "committee.u"))
    page.choice.value = world.to_vote
    page.decision.value = "reject"
    page.vote_button.click()
    assert 'role="alert"' in page.status.value and "comment" in page.status.value
    assert world.run(lambda s: s.get(AccessRequest, world.to_vote).votes) == []


def test_private_money_goes_to_deontology_after_the_scientific_committee(world: World) -> None:
    def private_request(s):  # type: ignore[no-untyped-def]
        rita = accounts.get_user(s, "rita")
        rid = access.draft_request(s, rita, title="Industry-funded", purpose="research",
                                   regulatory_ref="MR-004 n°9", funder="private", requester_status="academic",
                                   team=[], duration_months=6, items=[ITEM_B]).id
        access.submit_request(s, rid, rita)
        access.sponsor_answer(s, rid, "S-B", accounts.get_user(s, "spb"), opposed=False)
        return rid

    rid = world.run(private_request)
    for name in ("c1", "c2", "c3"):
        page = CommitteeDesk(Desk(world.runner, name))
        page.choice.value, page.decision.value, page.comment.value = rid, "approve", "fine"
        page.vote_button.click()
    assert _status(world, rid) == "deontology_review"
    assert rid not in [v for _, v in CommitteeDesk(Desk(world.runner, "committee.u")).choice.options]
    deontology = CommitteeDesk(Desk(world.runner, "d1"))
    assert "Deontology committee" in deontology.heading.value
    assert [v for _, v in deontology.choice.options] == [rid]
    deontology.decision.value, deontology.comment.value = "reject", "Conflict of interest not declared."
    deontology.vote_button.click()
    second = CommitteeDesk(Desk(world.runner, "d2"))
    second.choice.value, second.decision.value, second.comment.value = rid, "reject", "Agree."
    second.vote_button.click()
    assert _status(world, rid) == "rejected"
    assert "Conflict of interest not declared." in second.decisions.value


def test_non_member_is_refused_the_committee_view(world: World) -> None:
    page = CommitteeDesk(Desk(world.runner, "checker.u"))
    assert 'role="alert"' in page.status.value and page.choice.options == ()
    assert _refusals(world, "checker.u") == [{"action": "committee.view"}]
