"""The service-screen PIN: only its salted hash is kept in the config.

    >>> h = hash_pin("2468")
    >>> check_pin("2468", h), check_pin("1111", h)
    (True, False)
"""

import hashlib
import hmac
import secrets

_SCHEME = "pbkdf2_sha256"
_ROUNDS = 200_000


def hash_pin(pin: str, *, rounds: int = _ROUNDS) -> str:
    """``pbkdf2_sha256$rounds$salt$hash`` for ``pin`` (digits, at least 4)."""
    if not pin.isdigit() or len(pin) < 4:
        raise ValueError("a service PIN is at least 4 digits")
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), rounds).hex()
    return f"{_SCHEME}${rounds}${salt}${digest}"


def check_pin(pin: str, pin_hash: str) -> bool:
    """True when ``pin`` matches ``pin_hash``; False for an empty or malformed hash."""
    try:
        scheme, rounds, salt, digest = pin_hash.split("$")
        rounds = int(rounds)
    except ValueError:
        return False
    if scheme != _SCHEME:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), rounds).hex()
    return hmac.compare_digest(candidate, digest)


def is_pin_hash(value: str) -> bool:
    """True when ``value`` has the shape :func:`hash_pin` writes."""
    parts = value.split("$")
    return len(parts) == 4 and parts[0] == _SCHEME and parts[1].isdigit()
