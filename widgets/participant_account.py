"""Participant sign-in (forms service): accept an invitation, then a password or a code sent by e-mail.

``?invite=TOKEN`` shows the invitation: choose a username and, if wanted, a password (else sign in
with e-mailed codes), or attach the study to an account already held. Without it: the sign-in
screen. Refusals always say the same thing (nothing tells whether an account exists); failed
attempts are committed before the message is shown, so the lockout holds. Once signed in the
account portal replaces the screen, for as long as the page stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets._store import in_session
from widgets.account_portal import AccountPortal
from widgets.guarded import guarded, show_message
from workbench.accounts import LockoutPolicy
from workbench.accounts.models import User
from workbench.errors import AuthError, ConflictError, NotFoundError, ValidationError
from workbench.keys import load_or_create_key
from workbench.portal.accounts import (
    accept_invitation,
    attach_invitation,
    login_with_code,
    login_with_password,
    open_invitation,
    request_login_code,
)
from workbench.settings import Settings

__all__ = ["TEXTS", "SignIn", "participant_account"]

TEXTS = {
    "fr": {"title": "Mon espace participant", "username": "Nom d'utilisateur", "password": "Mot de passe",
           "with_password": "Me connecter avec mon mot de passe", "send_code": "Recevoir un code par e-mail",
           "code": "Code reçu par e-mail (6 chiffres)", "with_code": "Me connecter avec le code",
           "code_sent": "Si ce compte existe, un code vient d'être envoyé à son adresse e-mail. "
                        "Il est valable 10 minutes.",
           "refused": "Nom d'utilisateur, mot de passe ou code incorrect. Après plusieurs essais, "
                      "le compte est bloqué quelques minutes.",
           "welcome": "L'équipe de l'étude « {title} » ({code}) vous invite à ouvrir votre espace.",
           "choose": "Choisissez un nom d'utilisateur (lettres minuscules, chiffres, . _ -)",
           "new_password": "Mot de passe (facultatif, 12 caractères au moins ; sans mot de passe, "
                           "vous recevrez un code par e-mail à chaque connexion)",
           "confirm": "Confirmez le mot de passe", "create": "Ouvrir mon espace",
           "mismatch": "Les deux mots de passe diffèrent.",
           "bad_username": "Nom d'utilisateur : 2 à 64 caractères, lettres minuscules, chiffres, . _ -, "
                           "en commençant par une lettre.",
           "taken": "Ce nom d'utilisateur est déjà pris : choisissez-en un autre.",
           "bad_password": "Mot de passe : au moins 12 caractères variés, sans votre nom d'utilisateur.",
           "have_account": "J'ai déjà un espace : m'y connecter pour y ajouter cette étude",
           "bad_invite": "Cette invitation est inconnue, expirée ou déjà utilisée. Demandez-en une nouvelle "
                         "à l'équipe de l'étude.", "switch": "English"},
    "en": {"title": "My participant space", "username": "Username", "password": "Password",
           "with_password": "Sign in with my password", "send_code": "Send me a code by e-mail",
           "code": "Code received by e-mail (6 digits)", "with_code": "Sign in with the code",
           "code_sent": "If this account exists, a code has just been sent to its e-mail address. "
                        "It is valid for 10 minutes.",
           "refused": "Wrong username, password or code. After several tries the account is locked "
                      "for a few minutes.",
           "welcome": "The team of the study “{title}” ({code}) invites you to open your space.",
           "choose": "Choose a username (lower-case letters, digits, . _ -)",
           "new_password": "Password (optional, at least 12 characters; without one you will receive a "
                           "code by e-mail each time you sign in)",
           "confirm": "Confirm the password", "create": "Open my space",
           "mismatch": "The two passwords differ.",
           "bad_username": "Username: 2 to 64 characters, lower-case letters, digits, . _ -, starting with "
                           "a letter.",
           "taken": "This username is taken: choose another one.",
           "bad_password": "Password: at least 12 varied characters, without your username.",
           "have_account": "I already have a space: sign in to add this study to it",
           "bad_invite": "This invitation is unknown, expired or already used. Ask the study team for a "
                         "new one.", "switch": "Français"},
}
BUTTON = {"layout": w.Layout(min_height="44px", width="100%")}
FULL = w.Layout(width="100%")


def _text(label: str, password: bool = False) -> w.Widget:
    kind = w.Password if password else w.Text
    return kind(placeholder=label, layout=FULL)


class SignIn(w.VBox):  # type: ignore[misc]
    """Sign-in screen; with an invitation token, the account opening screen above it."""

    def __init__(self, settings: Settings, invite_token: str = "", language: str = "fr") -> None:
        self.settings, self.invite_token = settings, invite_token
        self.key = load_or_create_key(settings.secret_key_file)
        self.policy = LockoutPolicy(settings.lockout_threshold, settings.lockout_base_seconds,
                                    settings.lockout_max_seconds)
        self.language = language
        self.portal: AccountPortal | None = None
        self.invitation: tuple[str, str, str] | None = None
        if invite_token:
            try:  # the invitation speaks the participant's language
                self.invitation = in_session(settings, lambda s: open_invitation(s, invite_token))
                self.language = self.invitation[2] if self.invitation[2] in TEXTS else language
            except NotFoundError:
                self.invite_token = ""
        super().__init__(layout=w.Layout(max_width="40rem", width="100%"))
        self.build(bad_invite=bool(invite_token) and self.invitation is None)

    # ------------------------------------------------------------------ screens
    def build(self, bad_invite: bool = False) -> None:
        t = TEXTS[self.language]
        self.status = w.HTML()
        self.switch = w.Button(description=t["switch"], layout=w.Layout(width="auto"))
        self.switch.on_click(lambda _b: self._switch())
        self.username = _text(t["username"])
        self.password = _text(t["password"], password=True)
        self.password_button = w.Button(description=t["with_password"], button_style="primary", **BUTTON)
        self.code_button = w.Button(description=t["send_code"], **BUTTON)
        self.code = w.Text(placeholder=t["code"], layout=FULL)
        self.code_login = w.Button(description=t["with_code"], button_style="primary", **BUTTON)
        self.password_button.on_click(guarded(self.status)(self._with_password))
        self.code_button.on_click(guarded(self.status)(self._send_code))
        self.code_login.on_click(guarded(self.status)(self._with_code))
        self.code_box = w.VBox([self.code, self.code_login], layout=w.Layout(display="none"))
        sign_in = [w.HTML(f"<h2>{escape(t['title'])}</h2>"), self.username, self.password,
                   self.password_button, self.code_button, self.code_box]
        bad = [w.HTML(f'<p role="alert">{escape(t["bad_invite"])}</p>')] if bad_invite else []
        self.children = [self.switch, *bad, *self._invitation(t), *sign_in, self.status]

    def _invitation(self, t: dict[str, str]) -> list[w.Widget]:
        if not self.invite_token or self.invitation is None:
            return []
        code, title, _language = self.invitation
        self.new_username = _text(t["choose"])
        self.new_password = _text(t["new_password"], password=True)
        self.confirm = _text(t["confirm"], password=True)
        self.create = w.Button(description=t["create"], button_style="success", **BUTTON)
        self.create.on_click(guarded(self.status)(self._create))
        return [w.HTML(f"<h2>{escape(t['title'])}</h2><p>{escape(t['welcome'].format(title=title, code=code))}</p>"),
                self.new_username, self.new_password, self.confirm, self.create,
                w.HTML(f"<p><strong>{escape(t['have_account'])}</strong></p>")]

    def _switch(self) -> None:
        self.language = "en" if self.language == "fr" else "fr"
        self.build()

    # ------------------------------------------------------------------ actions
    def _attempt(self, login: Callable[[Session], User]) -> None:
        """Run a login in a transaction that is committed even when refused (lockout counters)."""
        def work(session: Session) -> str | AuthError:
            try:
                user = login(session)
            except AuthError as exc:
                return exc
            if self.invite_token:
                attach_invitation(session, self.invite_token, user)
            return user.username

        outcome = in_session(self.settings, work)
        if isinstance(outcome, AuthError):
            show_message(self.status, TEXTS[self.language]["refused"], kind="error")
            return
        self._open(outcome)

    def _with_password(self, _: object) -> None:
        name, secret = self.username.value.strip(), self.password.value
        self.password.value = ""
        self._attempt(lambda s: login_with_password(s, name, secret, policy=self.policy))

    def _send_code(self, _: object) -> None:
        name = self.username.value.strip()
        in_session(self.settings, lambda s: request_login_code(s, name, key=self.key))
        self.code_box.layout.display = "flex"
        show_message(self.status, TEXTS[self.language]["code_sent"])

    def _with_code(self, _: object) -> None:
        name, typed = self.username.value.strip(), self.code.value
        self.code.value = ""
        self._attempt(lambda s: login_with_code(s, name, typed, key=self.key, policy=self.policy))

    def _create(self, _: object) -> None:
        if self.new_password.value != self.confirm.value:
            raise ValidationError(TEXTS[self.language]["mismatch"])
        name, secret = self.new_username.value.strip(), self.new_password.value
        t = TEXTS[self.language]
        try:
            user = in_session(self.settings, lambda s: accept_invitation(
                s, self.invite_token, username=name, password=secret or None).username)
        except ValidationError as exc:  # the participant reads their own language, not the domain's
            raise ValidationError(t["bad_password"] if exc.where == "password" else t["bad_username"]) from None
        except ConflictError:
            raise ValidationError(t["taken"]) from None
        except NotFoundError:
            raise ValidationError(t["bad_invite"]) from None
        self._open(user)

    def _open(self, username: str) -> None:
        self.invite_token, self.invitation = "", None
        self.portal = AccountPortal(self.settings, username, on_sign_out=self._signed_out)
        self.children = [self.portal]

    def _signed_out(self) -> None:
        self.portal = None
        self.build()


def participant_account(settings: Settings, query_string: str) -> w.Widget:
    """Entry of ``account.ipynb``: the query string may carry ``invite=``."""
    token = (parse_qs(query_string or "").get("invite") or [""])[0].strip()
    return SignIn(settings, token)
