"""The coding widget without a browser: the messages coding.js sends, and what comes back.

Offsets in the messages are code points (what coding.js sends after converting the UTF-16
selection); the store must then hold exactly ``text[start:end]``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from widgets._store import in_session
from workbench.audit import AuditEntry
from workbench.qualitative.models import QualCoding

from .conftest import World


def _stored(world: World) -> list[QualCoding]:
    def work(s):  # type: ignore[no-untyped-def]
        rows = list(s.execute(select(QualCoding).order_by(QualCoding.id)).scalars())
        s.expunge_all()
        return rows

    return in_session(world.settings, work)


def test_selection_in_code_points_is_stored_exactly_with_emoji(world: World) -> None:
    coder = world.widget("coder.a")
    text = coder.text
    start = text.index("peur")
    end = text.index(", la récidive") + len(", la récidive")  # spans the 😟 (one code point)
    coder.handle({"type": "apply", "codes": ["fear_of_recurrence"], "start": start, "end": end})
    (row,) = _stored(world)
    assert (row.start, row.end, row.coder) == (start, end, "coder.a")
    assert row.quote == "peur que ça revienne 😟, la récidive" == text[start:end]
    # A ZWJ family emoji is several code points; offsets count each one, as Python does.
    fam = text.index("👨‍👩‍👧")
    coder.handle({"type": "apply", "codes": ["couple_family"], "start": fam - 9, "end": fam + 5})  # 5 code points
    assert _stored(world)[-1].quote == "mon mari 👨‍👩‍👧"
    assert [c["code"] for c in coder.codings] == ["fear_of_recurrence", "couple_family"]
    assert "ajouté" in coder.status.value


def test_several_codes_at_once_overlap_and_undo_as_one_step(world: World) -> None:
    coder = world.widget("coder.a")
    coder.select(coder.text.index("Difficile"), coder.text.index("tout le temps"))
    coder.armed = ["fear_of_recurrence", "emotional_distress"]
    ids = coder.apply()
    coder.select(coder.text.index("peur"), coder.text.index("tout le temps") + 13)
    coder.apply(["return_to_work"])  # overlaps both
    assert len(coder.codings) == 3 and coder.can_undo
    spans = sorted((c["start"], c["end"]) for c in coder.codings)
    assert spans[0][0] < spans[2][0] < spans[0][1] < spans[2][1]  # overlapping, not nested
    coder.undo()
    assert sorted(c["id"] for c in coder.codings) == sorted(ids)
    coder.remove(ids[0])
    assert [c["id"] for c in coder.codings] == [ids[1]]
    coder.undo()  # restores the very same row
    assert sorted(c["id"] for c in coder.codings) == sorted(ids)
    coder.undo()
    coder.handle({"type": "undo"})  # nothing left: a message, not an exception
    assert coder.codings == [] and 'role="alert"' in coder.status.value and "nothing to undo" in coder.status.value


def test_memo_inline_and_its_undo(world: World) -> None:
    coder = world.widget("coder.a")
    coder.select(0, 10)
    (cid,) = coder.apply(["return_to_work"])
    coder.handle({"type": "memo", "id": cid, "memo": "  ambivalence about going back  "})
    assert coder.codings[0]["memo"] == "ambivalence about going back"
    coder.undo()
    assert coder.codings[0]["memo"] == ""
    actions = in_session(world.settings, lambda s: [e.action for e in s.execute(select(AuditEntry)).scalars()])
    assert {"qual.coding.add", "qual.coding.memo"} <= set(actions)


def test_filters_by_code_speaker_and_coder(world: World) -> None:
    lead_view = world.widget("lead.one", blind=False)
    a, b = world.widget("coder.a"), world.widget("coder.b")
    t = a.text
    a.select(t.index("Comment"), t.index("travail") + 7)
    a.apply(["return_to_work"])
    a.select(t.index("peur"), t.index("revienne") + 8)
    a.apply(["fear_of_recurrence"])
    b.select(t.index("Épuisée"), t.index("mari") + 4)
    b.apply(["fatigue"])
    lead_view.refresh()
    assert len(lead_view.visible_codings()) == 3 and lead_view.visible_turns() == [0, 1, 2, 3]
    lead_view.filter_codes = ["fear_of_recurrence"]
    assert [c["code"] for c in lead_view.visible_codings()] == ["fear_of_recurrence"]
    lead_view.only_coded = True
    assert lead_view.visible_turns() == [1]
    lead_view.filter_codes, lead_view.filter_speakers = [], ["P-QUAL0001"]
    assert {c["code"] for c in lead_view.visible_codings()} == {"fear_of_recurrence", "fatigue"}
    assert lead_view.visible_turns() == [1, 3]
    lead_view.filter_speakers, lead_view.filter_coders, lead_view.only_coded = [], ["coder.b"], False
    assert [c["coder"] for c in lead_view.visible_codings()] == ["coder.b"]


def test_blind_mode_never_sends_other_coders_work(world: World) -> None:
    a, b = world.widget("coder.a"), world.widget("coder.b", blind=False)  # a coder cannot unblind
    a.select(0, 12)
    a.apply(["return_to_work"])
    b.select(20, 30)
    b.apply(["return_to_work"])
    a.refresh()
    b.handle({"type": "sync"})
    assert {c["coder"] for c in a.codings} == {"coder.a"}
    assert {c["coder"] for c in b.codings} == {"coder.b"}
    lead = world.widget("lead.one", blind=False)
    assert {c["coder"] for c in lead.codings} == {"coder.a", "coder.b"}
    mine = a.codings[0]["id"]
    b.handle({"type": "remove", "id": mine})  # another coder's row: refused, shown as a message
    assert 'role="alert"' in b.status.value and "own codings" in b.status.value
    assert len(_stored(world)) == 2 and all(r.deleted_at is None for r in _stored(world))


def test_two_coders_at_the_same_time_lose_nothing(world: World) -> None:
    a, b = world.widget("coder.a"), world.widget("coder.b")
    n = len(a.text)

    def work(args: tuple[object, int]) -> None:
        widget, i = args
        widget.handle({"type": "apply", "codes": ["fatigue"], "start": i % (n - 5), "end": i % (n - 5) + 5})  # type: ignore[attr-defined]

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, [(a if i % 2 else b, i) for i in range(16)]))
    a.refresh()
    b.refresh()
    assert len(a.codings) == 8 and len(b.codings) == 8
    assert len(_stored(world)) == 16
    lead = world.widget("lead.one", blind=False)
    assert len(lead.codings) == 16


def test_jump_cycles_through_a_codes_segments_in_text_order(world: World) -> None:
    coder = world.widget("coder.a")
    t = coder.text
    for word in ("travail", "fatigue", "peur"):
        coder.select(t.index(word), t.index(word) + len(word))
        coder.apply(["fatigue"])
    starts = sorted(t.index(w) for w in ("travail", "fatigue", "peur"))
    seen = []
    for _ in range(4):
        coder.handle({"type": "jump", "code": "fatigue", "step": 1})
        seen.append(coder.focus_span["start"])
    assert seen == [*starts, starts[0]] and coder.focus_span["of"] == 3
    coder.jump("fatigue", -1)
    assert coder.focus_span["start"] == starts[-1]
    coder.handle({"type": "jump", "code": "sexuality"})
    assert "no segment" in coder.status.value


def test_bad_messages_and_selections_show_a_message(world: World) -> None:
    coder = world.widget("coder.a")
    coder.handle({"type": "apply", "codes": ["fatigue"]})
    assert "select some text" in coder.status.value
    coder.handle({"type": "apply", "codes": [], "start": 0, "end": 4})
    assert "choose at least one code" in coder.status.value
    coder.handle({"type": "apply", "codes": ["work"], "start": 0, "end": 4})  # a grouping code
    assert "unknown code" in coder.status.value
    coder.handle({"type": "apply", "codes": ["fatigue"], "start": 5, "end": 5 + len(coder.text)})
    assert "select some text" in coder.status.value
    coder.handle({"type": "explode"})
    assert "unknown action" in coder.status.value and "Traceback" not in coder.status.value
    assert _stored(world) == []
