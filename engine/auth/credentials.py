"""Passwords (argon2id), bearer tokens (random, stored only as SHA-256 hashes) and the
installation's admin token (`admin_token`: `JIMU_ADMIN_TOKEN`, else kept in the data directory).

A token's kind shows in its prefix — ``jimu_s_`` a session, ``jimu_t_`` an API token — so a
leaked one can be recognised; the database holds only its hash, so a leaked database cannot
be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from engine.settings import Settings

SESSION_PREFIX = "jimu_s_"
API_TOKEN_PREFIX = "jimu_t_"
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal usernames:
# of a random password nobody kept, with the hasher's parameters (a test checks they match).
# Written out rather than computed at import, which cost every process 64 MB of peak memory.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$9updgd90CM++N8rY9HbLDw$s6tXdKLZeEN4qPLP15ohAR/8m+rhFYNg8e6NLBd1BuY"


TOKEN_FILE = "admin_token"


def admin_token(settings: Settings) -> str:
    """The admin token of this installation (created and saved on first use)."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = settings.data_dir / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (with its own salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; False for users without a password, never raising."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash uses weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh token with `prefix` and the hash to store."""
    token = prefix + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest a token is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def password_problem(password: str) -> tuple[str, str] | None:
    """Why a new password is not acceptable (zh, en), or None.

    Leading and trailing whitespace does not count towards the length, and a password of
    nothing but whitespace or invisible characters (spaces, ideographic spaces, zero-width
    spaces, control characters) is refused however long it is. A password that passes is
    stored exactly as typed."""
    if not any(c.isprintable() and not c.isspace() for c in password):
        return (
            "密码不能只由空格或不可见字符组成",
            "The password cannot consist only of spaces or invisible characters",
        )
    if len(password.strip()) < MIN_PASSWORD_LENGTH:
        return (
            f"密码至少 {MIN_PASSWORD_LENGTH} 位（不计首尾空格）",
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters, not counting leading and trailing spaces",
        )
    if len(password) > 256:
        return ("密码最多 256 位", "The password may have at most 256 characters")
    return None


__all__ = [
    "API_TOKEN_PREFIX",
    "SESSION_PREFIX",
    "TOKEN_FILE",
    "admin_token",
    "hash_password",
    "needs_rehash",
    "new_token",
    "password_problem",
    "token_hash",
    "verify_password",
]
