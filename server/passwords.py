"""Account passwords: hashed with Argon2id (argon2-cffi), and the rule a new password must meet.

Only the Argon2 hash string is stored (``$argon2id$v=19$m=65536,t=3,p=4$…``): it
carries its own salt and parameters, so raising the parameters later needs
no migration — a hash made with older ones is remade at the next good login
(:func:`needs_rehash`).

    >>> stored = hash_password("mật khẩu đủ dài")
    >>> stored.startswith("$argon2id$"), verify_password(stored, "mật khẩu đủ dài"), verify_password(stored, "x")
    (True, True, False)
    >>> password_problem("ngắn", username="an")
    'Mật khẩu cần ít nhất 10 ký tự.'
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # Argon2 takes any length; a cap keeps a megabyte "password" from costing the server

#: argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes).
HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id hash string of ``password`` (a new random salt each time)."""
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (False for an account with no password)."""
    if not stored:
        return False
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than today's (then hash the password again)."""
    return HASHER.check_needs_rehash(stored)


def password_problem(password: str, *, username: str) -> str | None:
    """Why ``password`` may not be used, in Vietnamese, or None.

    At least :data:`MIN_LENGTH` characters, at least 4 different ones, and not the user name:
    length is what makes a password hard to guess (NIST SP 800-63B), not forced symbols.
    """
    if len(password) < MIN_LENGTH:
        return f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự."
    if len(password) > MAX_LENGTH:
        return f"Mật khẩu dài quá {MAX_LENGTH} ký tự."
    if len(set(password)) < 4:
        return "Mật khẩu cần ít nhất 4 ký tự khác nhau (không lặp một ký tự)."
    if username and username.casefold() in password.casefold():
        return "Mật khẩu không được chứa tên đăng nhập."
    return None
