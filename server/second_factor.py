"""The optional second factor: time-based one-time codes (TOTP, RFC 6238) from an authenticator app.

Enrolment shows the secret as an ``otpauth://`` QR code (segno) and as text;
the secret is stored only after the person typed a code it makes. A code is
accepted one 30-second step either side of the server's clock, and never
twice: the stored value is the secret followed by ``:`` and the last step
accepted (``JBSWY3DPEHPK3PXP:59853310``), moved forward by a conditional UPDATE
(see :func:`server.people.use_totp_code`), so two logins racing with one code
cannot both win.

    >>> secret = new_secret()
    >>> code = pyotp.TOTP(secret).at(1_800_000_000)
    >>> accepted_step(secret, code, now_s=1_800_000_029, last_step=None)
    60000000
    >>> accepted_step(secret, code, now_s=1_800_000_029, last_step=60000000) is None  # already used
    True
"""

from __future__ import annotations

import re

import pyotp
import segno
from pyotp.exceptions import OTPVerificationError

ISSUER = "Hài Lòng"
WINDOW_STEPS = 1  # ±30 s: a phone's clock a little off, or a code typed as it changes


def new_secret() -> str:
    """A new base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def split_stored(stored: str) -> tuple[str, int | None]:
    """(secret, last step accepted or None) of the stored ``totp_secret``."""
    secret, _, step = stored.partition(":")
    return secret, int(step) if step else None


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://totp/…`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline ``<svg>`` (no file, no script, no external request)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def spaced(secret: str) -> str:
    """The secret in groups of four, easier to type into an app: ``ABCD EFGH …``."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def accepted_step(secret: str, code: str, *, now_s: float, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (within ±:data:`WINDOW_STEPS` of ``now_s``), if later than ``last_step``."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    try:
        step = pyotp.TOTP(secret).verify_and_get_timecode(code, for_time=now_s, valid_window=WINDOW_STEPS)
    except OTPVerificationError:
        return None
    return step if last_step is None or step > last_step else None
