"""Users and their tokens (API tokens and browser sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from labdeck.store.orm import Token, User, utcnow


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    role: str
    disabled: bool
    password_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TokenOwner:
    """What a valid token resolves to."""

    token_id: int
    kind: str
    expires_at: datetime
    user: UserRecord


class DuplicateUser(Exception):
    pass


def _user_record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        name=user.name,
        role=user.role,
        disabled=user.disabled,
        password_hash=user.password_hash,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def create(self, name: str, password_hash: str, role: str) -> UserRecord:
        with self._sessions() as session:
            user = User(name=name, password_hash=password_hash, role=role, disabled=False)
            session.add(user)
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateUser(name) from exc
            return _user_record(user)

    def get_by_name(self, name: str) -> UserRecord | None:
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.name == name))
            return _user_record(user) if user is not None else None

    def list(self) -> list[UserRecord]:
        with self._sessions() as session:
            return [_user_record(u) for u in session.scalars(select(User).order_by(User.name))]

    def update(
        self,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                return None
            if password_hash is not None:
                user.password_hash = password_hash
            if role is not None:
                user.role = role
            if disabled is not None:
                user.disabled = disabled
            user.updated_at = utcnow()
            session.commit()
            return _user_record(user)


class TokenRepository:
    def __init__(self, engine: Engine) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def create(
        self, *, user_id: int, kind: str, token_hash: str, label: str, expires_at: datetime
    ) -> int:
        with self._sessions() as session:
            token = Token(
                user_id=user_id,
                kind=kind,
                token_hash=token_hash,
                label=label,
                expires_at=expires_at,
            )
            session.add(token)
            session.commit()
            return token.id

    def owner(self, token_hash: str, now: datetime) -> TokenOwner | None:
        """The user behind a live (not revoked, not expired) token, or None."""
        with self._sessions() as session:
            row = session.execute(
                select(Token, User)
                .join(User, Token.user_id == User.id)
                .where(
                    Token.token_hash == token_hash,
                    Token.revoked_at.is_(None),
                    Token.expires_at > now,
                )
            ).first()
            if row is None:
                return None
            token, user = row
            return TokenOwner(
                token_id=token.id,
                kind=token.kind,
                expires_at=token.expires_at,
                user=_user_record(user),
            )

    def revoke(self, token_hash: str) -> bool:
        with self._sessions() as session:
            result = session.execute(
                update(Token)
                .where(Token.token_hash == token_hash, Token.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_all_for_user(self, user_id: int) -> int:
        with self._sessions() as session:
            result = session.execute(
                update(Token)
                .where(Token.user_id == user_id, Token.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]
