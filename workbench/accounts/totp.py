"""TOTP second factor (RFC 6238, 30 s steps) with replay protection."""

from __future__ import annotations

import hmac
import io
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg

__all__ = ["ISSUER", "current_code", "matching_step", "new_secret", "provisioning_uri", "qr_svg", "qr_text"]

ISSUER = "WeShare"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def current_code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def matching_step(secret: str, code: str, at: datetime, window: int = 1) -> int | None:
    """The time step the code belongs to (± ``window`` steps for clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at.timestamp()) // STEP_SECONDS
    for offset in range(-window, window + 1):
        step = now_step + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


def qr_text(uri: str) -> str:
    qr = qrcode.QRCode(border=1)
    qr.add_data(uri)
    buffer = io.StringIO()
    qr.print_ascii(out=buffer, invert=True)
    return buffer.getvalue()
