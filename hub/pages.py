"""Hub pages around login: enrolment (password + authenticator app), password reset, forgotten password.

Pages are bilingual (French first, English alongside, each marked with its ``lang``), plain HTML
with labelled fields so screen readers and keyboard users can use them. Database work runs in a
thread; each request is one transaction, so a refused step leaves nothing half-done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

from jupyterhub.handlers import BaseHandler
from sqlalchemy.orm import Session

from workbench.accounts import complete_link, link_url, peek_link, reset_password_for
from workbench.accounts.models import User
from workbench.accounts.totp import qr_svg
from workbench.errors import NotFoundError, ValidationError
from workbench.mail import queue_email
from workbench.storage.engine import session_scope

__all__ = ["FORGOT_ANSWER", "page_handlers", "render_page"]

T = TypeVar("T")

FORGOT_ANSWER = (
    "Si ce compte existe, un courriel avec un lien de réinitialisation vient d'être envoyé.",
    "If this account exists, an email with a reset link has just been sent.",
)
BAD_LINK = (
    "Ce lien est inconnu, expiré ou déjà utilisé. Demandez-en un nouveau.",
    "This link is unknown, expired or already used. Please ask for a new one.",
)
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}label{display:block;margin-top:1rem;font-weight:600}"
    "input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}"
    "button{margin-top:1.2rem;font-size:1rem;padding:.5rem 1.2rem}"
    ".error{color:#a40000;font-weight:600}.en{color:#444}svg{max-width:16rem;height:auto}"
)


def bi(fr: str, en: str) -> str:
    """One bilingual text: French, then English marked for screen readers."""
    return f'{escape(fr)} <span lang="en" class="en">/ {escape(en)}</span>'


def render_page(title: tuple[str, str], body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title[0])} / {escape(title[1])} — WeShare</title><style>{STYLE}</style></head>"
        f'<body><main><h1>{bi(*title)}</h1>{body}'
        '<p><a href="login">Connexion <span lang="en">/ Sign in</span></a></p></main></body></html>'
    )


def _field(name: str, label: tuple[str, str], kind: str = "password", autocomplete: str = "") -> str:
    auto = f' autocomplete="{autocomplete}"' if autocomplete else ""
    extra = ' inputmode="numeric" pattern="[0-9 ]*"' if name == "otp" else ""
    return (f'<label for="{name}">{bi(*label)}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" required{auto}{extra}>')


def _error(message: str) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>' if message else ""


class _WorkbenchPage(BaseHandler):  # type: ignore[misc]
    """Shared plumbing: the authenticator's settings and engine, blocking work in a thread."""

    async def in_session(self, work: Callable[[Session], T]) -> T:
        engine = self.authenticator.engine

        def run() -> T:
            with session_scope(engine) as session:
                return work(session)

        return await asyncio.to_thread(run)

    def send_page(self, title: tuple[str, str], body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")  # the token is in the URL
        self.finish(render_page(title, body))

    def bad_link(self, title: tuple[str, str]) -> None:
        self.send_page(title, f'<p role="alert">{bi(*BAD_LINK)}</p>', status=404)


class _LinkPage(_WorkbenchPage):
    purpose = ""
    title: tuple[str, str] = ("", "")

    def form(self, token: str, user: User, uri: str | None, message: str = "") -> str:
        raise NotImplementedError

    async def get(self) -> None:
        token = self.get_argument("token", "")
        await self._show(token, "")

    async def _show(self, token: str, message: str, status: int = 200) -> None:
        try:
            user, uri = await self.in_session(lambda s: _peek(s, token, self.purpose))
        except NotFoundError:
            self.bad_link(self.title)
            return
        self.send_page(self.title, self.form(token, user, uri, message), status)

    async def post(self) -> None:
        token = self.get_argument("token", "")
        password = self.get_argument("password", "")
        if password != self.get_argument("password2", ""):
            await self._show(token, "Les mots de passe diffèrent / The passwords differ.", 400)
            return
        otp = self.get_argument("otp", "").replace(" ", "")
        try:
            await self.in_session(lambda s: complete_link(s, token, self.purpose, password, otp))
        except NotFoundError:
            self.bad_link(self.title)
            return
        except ValidationError as exc:
            await self._show(token, str(exc), 400)
            return
        self.send_page(self.title, "<p>" + bi(
            "C'est fait. Vous pouvez vous connecter avec votre mot de passe et un code.",
            "Done. You can now sign in with your password and a code.") + "</p>")


def _peek(session: Session, token: str, purpose: str) -> tuple[User, str | None]:
    user, uri = peek_link(session, token, purpose)
    session.expunge(user)
    return user, uri


def _password_fields() -> str:
    return (_field("password", ("Nouveau mot de passe", "New password"), autocomplete="new-password")
            + _field("password2", ("Confirmez le mot de passe", "Confirm the password"),
                     autocomplete="new-password"))


class EnrolHandler(_LinkPage):
    purpose = "enrol"
    title = ("Activer votre compte", "Activate your account")

    def form(self, token: str, user: User, uri: str | None, message: str = "") -> str:
        qr = qr_svg(uri) if uri else ""
        return (
            _error(message)
            + f"<p>{bi('Compte', 'Account')} : <strong>{escape(user.username)}</strong></p>"
            + "<p>" + bi("1. Scannez ce code QR avec votre application d'authentification.",
                         "1. Scan this QR code with your authenticator app.") + "</p>"
            + f'<figure role="img" aria-label="QR code">{qr}</figure>'
            + f'<form method="post">{self.xsrf_form_html()}'
            + f'<input type="hidden" name="token" value="{escape(token)}">'
            + "<p>" + bi("2. Choisissez un mot de passe (12 caractères au moins) puis saisissez le code "
                         "affiché par l'application.",
                         "2. Choose a password (at least 12 characters), then type the code the app shows.")
            + "</p>" + _password_fields()
            + _field("otp", ("Code à 6 chiffres", "6-digit code"), "text", "one-time-code")
            + f'<button type="submit">{bi("Activer", "Activate")}</button></form>'
        )


class ResetHandler(_LinkPage):
    purpose = "reset"
    title = ("Nouveau mot de passe", "New password")

    def form(self, token: str, user: User, uri: str | None, message: str = "") -> str:
        return (
            _error(message)
            + f"<p>{bi('Compte', 'Account')} : <strong>{escape(user.username)}</strong></p>"
            + f'<form method="post">{self.xsrf_form_html()}'
            + f'<input type="hidden" name="token" value="{escape(token)}">' + _password_fields()
            + f'<button type="submit">{bi("Enregistrer", "Save")}</button></form>'
        )


class ForgotHandler(_WorkbenchPage):
    """Always the same answer, known account or not, so the page reveals no usernames."""

    title = ("Mot de passe oublié", "Forgotten password")

    def get(self) -> None:
        self.send_page(self.title, (
            f'<form method="post">{self.xsrf_form_html()}'
            + _field("username", ("Nom d'utilisateur", "Username"), "text", "username")
            + f'<button type="submit">{bi("Recevoir un lien", "Send me a link")}</button></form>'
        ))

    async def post(self) -> None:
        username = self.get_argument("username", "").strip().lower()
        public_url = self.authenticator.settings.public_url
        if username:
            await self.in_session(lambda s: queue_reset_email(s, username, public_url))
        self.send_page(self.title, f'<p role="status">{bi(*FORGOT_ANSWER)}</p>')


def queue_reset_email(session: Session, username: str, public_url: str) -> bool:
    """Queue the reset email when the account exists and has an address; the caller says nothing."""
    token = reset_password_for(session, username, actor="forgot-password")
    if not token:
        return False
    user = session.query(User).filter(User.username == username).one()
    if not user.email:
        return False
    url = link_url(public_url, "reset", token)
    queue_email(
        session, to=user.email,
        subject="WeShare : réinitialisation du mot de passe / password reset",
        body=(f"Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable peu de temps) :\n"
              f"{url}\n\nHello,\n\nTo choose a new password, open this link (valid for a short time):\n"
              f"{url}\n\nSi vous n'avez rien demandé, ignorez ce message. / "
              "If you did not ask for this, ignore this message.\n"),
    )
    return True


def page_handlers() -> list[tuple[str, Any]]:
    from hub.transparency_page import transparency_handlers  # it builds on this module

    return [("/enrol", EnrolHandler), ("/reset-password", ResetHandler), ("/forgot-password", ForgotHandler),
            *transparency_handlers()]
