"""Authentication and user management.

Owns: password hashing (argon2 via pwdlib), token issue/resolve/revoke for API tokens and
browser sessions (only an HMAC of a token, keyed by the secret key, is stored), role checks,
the first-start admin bootstrap, and a small failed-login limiter.

Resolving a token is on the hot path of every request, so live tokens are cached in memory
for a few seconds; any revocation or user change in this process clears the cache.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from labdeck.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
)
from labdeck.store.repo_users import DuplicateUser, TokenRepository, UserRecord, UserRepository

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
TOKEN_CACHE_SECONDS = 5.0
FAILED_LOGIN_LIMIT = 10
FAILED_LOGIN_WINDOW_S = 300.0
BOOTSTRAP_ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    name: str
    role: Role
    token_id: int
    token_kind: str

    def has_role(self, needed: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: UserRecord


def _now() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(self, users: UserRepository, tokens: TokenRepository, secret_key: str) -> None:
        self._users = users
        self._tokens = tokens
        self._key = secret_key.encode("utf-8")
        self._hasher = PasswordHash((Argon2Hasher(),))
        self._dummy_hash: str | None = None
        self._cache: dict[str, tuple[Principal, float, datetime]] = {}
        self._cache_lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    # --- passwords and users -------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        return self._hasher.hash(password)

    def create_user(self, name: str, password: str, role: str) -> UserRecord:
        _check_username(name)
        _check_password(password)
        checked_role = _check_role(role)
        try:
            return self._users.create(name, self.hash_password(password), checked_role)
        except DuplicateUser as exc:
            raise Conflict(f"a user named {name!r} already exists", code="USER_EXISTS") from exc

    def list_users(self) -> list[UserRecord]:
        return self._users.list()

    def get_user(self, name: str) -> UserRecord:
        user = self._users.get_by_name(name)
        if user is None:
            raise NotFound(f"no user named {name!r}")
        return user

    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord:
        """Change a user; a new password or disabling signs the user out everywhere."""
        if password is not None:
            _check_password(password)
        checked_role = _check_role(role) if role is not None else None
        user = self._users.update(
            name,
            password_hash=self.hash_password(password) if password is not None else None,
            role=checked_role,
            disabled=disabled,
        )
        if user is None:
            raise NotFound(f"no user named {name!r}")
        if password is not None or disabled:
            self._tokens.revoke_all_for_user(user.id)
        self._clear_cache()  # the cached role or disabled flag may be stale now
        return user

    def bootstrap_admin(self, password: str | None) -> str | None:
        """Create `admin` when there are no users. Returns the password if it was generated."""
        if self._users.count() > 0:
            return None
        generated = password is None
        chosen = password if password is not None else secrets.token_urlsafe(12)
        try:
            self.create_user(BOOTSTRAP_ADMIN, chosen, "admin")
        except Conflict:
            return None  # another server sharing the database created it first
        return chosen if generated else None

    # --- logins and tokens ---------------------------------------------------------------

    def check_password(self, name: str, password: str) -> UserRecord:
        """Verify a login; raises NotAuthenticated (401) or RateLimited (429)."""
        self._check_not_throttled(name)
        user = self._users.get_by_name(name)
        valid = self._hasher.verify(password, user.password_hash if user else self._dummy())
        if user is None or not valid or user.disabled:
            self._note_failure(name)
            raise NotAuthenticated("wrong username or password", code="BAD_CREDENTIALS")
        self._failures.pop(name, None)
        return user

    def issue_token(
        self, user: UserRecord, *, kind: Literal["api", "session"], ttl: timedelta, label: str = ""
    ) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        expires_at = _now() + ttl
        self._tokens.create(
            user_id=user.id,
            kind=kind,
            token_hash=self._token_hash(token),
            label=label[:128],
            expires_at=expires_at,
        )
        return IssuedToken(token=token, expires_at=expires_at, user=user)

    def resolve(self, token: str) -> Principal | None:
        """The principal behind a token, or None when unknown, revoked, expired or disabled."""
        token_hash = self._token_hash(token)
        now_monotonic = time.monotonic()
        cached = self._cache.get(token_hash)
        if cached is not None:
            principal, cached_at, expires_at = cached
            if now_monotonic - cached_at < TOKEN_CACHE_SECONDS and expires_at > _now():
                return principal
        owner = self._tokens.owner(token_hash, _now())
        if owner is None or owner.user.disabled:
            self._cache.pop(token_hash, None)
            return None
        principal = Principal(
            name=owner.user.name,
            role=_check_role(owner.user.role),
            token_id=owner.token_id,
            token_kind=owner.kind,
        )
        with self._cache_lock:
            self._cache[token_hash] = (principal, now_monotonic, owner.expires_at)
        return principal

    def revoke(self, token: str) -> bool:
        revoked = self._tokens.revoke(self._token_hash(token))
        self._clear_cache()
        return revoked

    # --- helpers -------------------------------------------------------------------------

    def _dummy(self) -> str:
        """A real hash to verify against when the user does not exist, so that "no such
        user" and "wrong password" take the same time. Made on first need: hashing is slow
        and server start-up should not pay for it."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _token_hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def _clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def _check_not_throttled(self, name: str) -> None:
        window = self._failures.get(name)
        if window is None:
            return
        cutoff = time.monotonic() - FAILED_LOGIN_WINDOW_S
        while window and window[0] < cutoff:
            window.popleft()
        if len(window) >= FAILED_LOGIN_LIMIT:
            raise RateLimited(
                "too many failed logins for this user; try again in a few minutes",
                code="LOGIN_THROTTLED",
            )

    def _note_failure(self, name: str) -> None:
        self._failures.setdefault(name, deque()).append(time.monotonic())


def require_role(principal: Principal, needed: Role) -> None:
    if not principal.has_role(needed):
        raise Forbidden(
            f"this needs the {needed} role; {principal.name} is {principal.role}",
            code="ROLE_REQUIRED",
            detail={"needed": needed, "role": principal.role},
        )


def _check_username(name: str) -> None:
    if not USERNAME_PATTERN.match(name):
        raise InvalidInput(
            "invalid user name",
            fields=[
                {
                    "field": "name",
                    "message": "1 to 64 letters, digits or . _ @ -",
                    "type": "pattern",
                }
            ],
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password too short",
            fields=[
                {
                    "field": "password",
                    "message": f"at least {MIN_PASSWORD_LENGTH} characters",
                    "type": "too_short",
                }
            ],
        )


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidInput(
        "unknown role",
        fields=[{"field": "role", "message": "one of admin, operator, viewer", "type": "enum"}],
    )
