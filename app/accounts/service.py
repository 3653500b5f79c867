"""Users, role grants and API keys: service functions (one transaction each)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import ApiKey, RoleGrant, User, WebSession
from app.authorization.rules import Role
from app.core.errors import Conflict, NotFound
from app.core.security import MIN_PASSWORD_LENGTH, hash_password, new_api_key
from app.projects.models import Project
from workflow.errors import InvalidInput

SCOPES = ("read", "write")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.", "password")
    if len(password) > 256:
        raise InvalidInput("Le mot de passe dépasse 256 caractères.", "password")


def _grant(session: Session, user: User, role: str, project_id: uuid.UUID | None, region: str | None) -> RoleGrant:
    role = Role(role).value
    if role == Role.ADMIN and (project_id or region):
        raise InvalidInput("Le rôle admin est global : ni projet ni région.", "role")
    if role == Role.PORTEUR and project_id is None:
        raise InvalidInput("Un porteur l'est d'un projet : indiquez project_id.", "project_id")
    if project_id is not None and region is not None:
        raise InvalidInput("Indiquez un projet ou une région, pas les deux.", "region")
    if project_id is not None and session.get(Project, project_id) is None:
        raise NotFound("Projet introuvable.")
    if any(g.role == role and g.project_id == project_id and g.region == region for g in user.grants):
        raise Conflict("Ce rôle est déjà attribué.")
    grant = RoleGrant(role=role, project_id=project_id, region=region)
    user.grants.append(grant)
    return grant


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    grants: list[tuple[str, uuid.UUID | None, str | None]] = (),
    now: datetime,
) -> User:
    """Create a user with their roles, all or nothing."""
    email = email.strip().lower()
    _check_password(password)
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise Conflict("Un utilisateur existe déjà avec cette adresse e-mail.")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password), created_at=now, grants=[])
    session.add(user)
    for role, project_id, region in grants:
        _grant(session, user, role, project_id, region)
    session.commit()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.scalars(select(User).where(User.id == user_id).options(selectinload(User.grants))).one_or_none()
    if user is None:
        raise NotFound("Utilisateur introuvable.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).options(selectinload(User.grants)).order_by(User.email)))


def update_user(
    session: Session, user_id: int, *, name: str | None = None, active: bool | None = None, password: str | None = None
) -> User:
    user = get_user(session, user_id)
    if name is not None:
        user.name = name.strip()
    if active is not None:
        user.active = active
        if not active:
            session.execute(WebSession.__table__.delete().where(WebSession.user_id == user.id))
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        session.execute(WebSession.__table__.delete().where(WebSession.user_id == user.id))
    session.commit()
    return user


def add_grant(
    session: Session, user_id: int, *, role: str, project_id: uuid.UUID | None, region: str | None
) -> RoleGrant:
    user = get_user(session, user_id)
    grant = _grant(session, user, role, project_id, region)
    session.commit()
    return grant


def remove_grant(session: Session, user_id: int, grant_id: int) -> None:
    user = get_user(session, user_id)
    grant = next((g for g in user.grants if g.id == grant_id), None)
    if grant is None:
        raise NotFound("Rôle introuvable.")
    user.grants.remove(grant)
    session.commit()


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    key: str  # shown once, never stored


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    regions: list[str] | None = None,
    project_ids: list[uuid.UUID] | None = None,
    expires_at: datetime | None = None,
    consultant: bool = False,
    created_by: str | None,
    now: datetime,
) -> NewKey:
    if not scopes or any(sc not in SCOPES for sc in scopes):
        raise InvalidInput("Portées possibles : read, write.", "scopes")
    if consultant and "write" not in scopes:
        raise InvalidInput("Une clé « consultant » doit avoir la portée write.", "consultant")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("La date d'expiration doit être dans le futur.", "expires_at")
    for pid in project_ids or []:
        if session.get(Project, pid) is None:
            raise NotFound(f"Projet introuvable : {pid}.")
    key, prefix, digest = new_api_key()
    row = ApiKey(
        prefix=prefix,
        secret_hash=digest,
        name=name.strip(),
        scopes=sorted(set(scopes)),
        consultant=consultant,
        regions=sorted(set(regions)) if regions else None,
        project_ids=[str(p) for p in project_ids] if project_ids else None,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    return NewKey(row, key)


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(session: Session, *, key_id: int | None = None, prefix: str | None = None, now: datetime) -> ApiKey:
    stmt = select(ApiKey)
    stmt = stmt.where(ApiKey.id == key_id) if key_id is not None else stmt.where(ApiKey.prefix == prefix)
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound("Clé d'API introuvable.")
    if row.revoked_at is None:
        row.revoked_at = now
        session.commit()
    return row
