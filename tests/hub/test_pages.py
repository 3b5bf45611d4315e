"""Link pages without a hub: bilingual, escaped, and the reset email only for real addresses."""

from __future__ import annotations

from sqlalchemy import select

from hub.pages import bi, queue_reset_email, render_page
from hub.testing import Fixture
from workbench.mail import OutboxMessage
from workbench.storage import connect, session_scope


def test_pages_are_bilingual_and_escape_text() -> None:
    html = render_page(("Titre <x>", "Title <x>"), "<p>body</p>")
    assert '<html lang="fr">' in html and '<span lang="en" class="en">/ Title &lt;x&gt;</span>' in html
    assert "<x>" not in html
    assert bi("a&b", "c") == 'a&amp;b <span lang="en" class="en">/ c</span>'


def test_reset_email_is_queued_only_for_known_accounts_with_an_address(store: Fixture) -> None:
    engine = connect(store.settings.database_url)
    with session_scope(engine) as session:
        assert queue_reset_email(session, "manager.one", "https://weshare.example") is True
        assert queue_reset_email(session, "nobody.here", "https://weshare.example") is False
        rows = session.execute(select(OutboxMessage.to_address, OutboxMessage.body)).all()
    engine.dispose()
    assert [to for to, _ in rows] == ["manager.one@example.org"]
    assert "https://weshare.example/hub/reset-password?token=" in rows[0][1]
    assert "Bonjour" in rows[0][1] and "Hello" in rows[0][1]
