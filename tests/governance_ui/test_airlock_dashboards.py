"""Airlock dashboards: a researcher asks for a release from the project space, the automatic
checks show at once; two checkers review blind to each other; released files carry checksums."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from secure_bubble.desk import project_space_dir
from widgets._governed import Desk
from widgets.airlock_request import AirlockRequest
from widgets.output_checking import OutputChecking
from workbench import accounts
from workbench.audit import AuditEntry
from workbench.governance.models import ReleaseRequest

from ._world import SAFE, World


def _space(world: World, user: str) -> object:
    root = project_space_dir(world.settings, user, world.project)
    (root / "outputs").mkdir(parents=True, exist_ok=True)
    return root


def test_researcher_sees_failed_checks_fixes_the_file_and_submits(world: World) -> None:
    root = _space(world, "researcher.u")
    (root / "outputs" / "by_arm.csv").write_text("person_id,arm\n1,control\n")  # type: ignore[operator]
    (root / "outputs" / "fig.png").write_bytes(b"\x89PNG fake")  # type: ignore[operator]
    (root / ".ipynb_checkpoints").mkdir()  # type: ignore[operator]
    (root / ".ipynb_checkpoints" / "x.csv").write_text("a\n")  # type: ignore[operator]
    (root / "outputs" / "link.csv").symlink_to(world.settings.home / "weshare.sqlite")  # type: ignore[operator]
    page = AirlockRequest(Desk(world.runner, "researcher.u"), world.settings)
    assert page.project.value == world.project
    assert page.files.options == ("outputs/by_arm.csv", "outputs/fig.png")  # no hidden file, no link
    page.files.value = ("outputs/by_arm.csv",)
    page.title.value = "Table 2"
    page.context.value = "Counts by arm; every cell is at least 11."
    page.check_button.click()
    assert "identifier column(s) person_id" in page.checks.value and page.submit_button.disabled
    assert 'role="alert"' in page.status.value
    (root / "outputs" / "by_arm.csv").write_text("arm,n\ncontrol,40\nintervention,41\n")  # type: ignore[operator]
    page.check_button.click()
    assert "pass" in page.checks.value and "fail" not in page.checks.value and not page.submit_button.disabled
    sha = hashlib.sha256(b"arm,n\ncontrol,40\nintervention,41\n").hexdigest()
    assert sha in page.checks.value
    page.submit_button.click()
    assert "output checkers" in page.status.value, page.status.value
    stored = world.run(lambda s: [(r.status, r.context, [f.name for f in r.files]) for r in s.execute(
        select(ReleaseRequest).where(ReleaseRequest.title == "Table 2")).scalars()])
    assert stored == [("submitted", "Counts by arm; every cell is at least 11.", ["by_arm.csv"])]


def test_two_checkers_review_blind_then_release_and_the_author_downloads_with_checksum(world: World) -> None:
    rid = world.submitted_release
    first = OutputChecking(Desk(world.runner, "chk1"), world.settings)
    assert rid in [v for _, v in first.choice.options]
    first.choice.value = rid
    assert "Counts by arm, all cells ≥ 11" in first.detail.value  # the context note
    first.view_button.click()
    assert "control,120" in first.preview.value
    first.decision.value = "approve"
    first.comment.value = "Cells well above threshold."
    first.review_button.click()
    assert "Review recorded" in first.status.value
    second = OutputChecking(Desk(world.runner, "chk2"), world.settings)
    second.choice.value = rid
    assert "Cells well above threshold." not in second.detail.value and "stay hidden" in second.detail.value
    first.done_choice.value = rid  # chk1 sees their own vote only
    assert "Cells well above threshold." in first.done_detail.value
    author = AirlockRequest(Desk(world.runner, "author.u"), world.settings)
    author.release_choice.value = rid
    assert "once both checkers" in author.reviews.value and "chk1" not in author.reviews.value
    second.decision.value = "approve"
    second.review_button.click()
    second.done_choice.value = rid
    assert "Cells well above threshold." in second.done_detail.value and not second.release_button.disabled
    second.release_button.click()
    assert "Released: 1 file(s)" in second.status.value
    author = AirlockRequest(Desk(world.runner, "author.u"), world.settings)
    author.release_choice.value = rid
    assert "chk1" in author.reviews.value and author.file_choice.options == ("table1.csv",)
    author.file_choice.value = "table1.csv"
    author.download_button.click()
    assert hashlib.sha256(SAFE).hexdigest() in author.link.value and 'download="table1.csv"' in author.link.value
    actions = world.run(lambda s: [e.action for e in s.execute(select(AuditEntry).where(
        AuditEntry.object_type == "release", AuditEntry.object_id == str(rid))).scalars()])
    assert {"airlock.file_view", "airlock.review", "airlock.release", "airlock.download", "airlock.view"} <= set(actions)


def test_an_author_who_is_also_a_checker_never_gets_their_own_request(world: World) -> None:
    world.run(lambda s: accounts.grant_role(s, "author.u", "output_checker", actor="admin"))
    page = OutputChecking(Desk(world.runner, "author.u"), world.settings)
    assert world.submitted_release not in [v for _, v in page.choice.options]
    assert world.submitted_release not in [v for _, v in page.done_choice.options]


def test_a_researcher_is_refused_the_checker_desk_and_it_is_audited(world: World) -> None:
    page = OutputChecking(Desk(world.runner, "researcher.u"), world.settings)
    assert 'role="alert"' in page.status.value and page.choice.options == ()
    refused = world.run(lambda s: [e.after for e in s.execute(select(AuditEntry).where(
        AuditEntry.action == "governance.refused", AuditEntry.actor == "researcher.u")).scalars()])
    assert refused == [{"action": "airlock.view"}]
