"""`regieflow users` and `regieflow keys`: people who log in, and partner API keys."""

from __future__ import annotations

import uuid
from enum import StrEnum

import typer

from app.authorization.rules import Role
from app.cli.root import database, fail, migrate, now
from app.core.errors import Refusal

users_cli = typer.Typer(help="People who log in.", no_args_is_help=True)
keys_cli = typer.Typer(help="Partner API keys.", no_args_is_help=True)


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


def checked_email(value: str) -> str:
    """The address as the API accepts it (app.core.schemas.Email), or a usage error."""
    from pydantic import TypeAdapter, ValidationError

    from app.core.schemas import Email

    try:
        return TypeAdapter(Email).validate_python(value)
    except ValidationError:
        raise typer.BadParameter(f"{value!r} is not an e-mail address (name@domain.tld).") from None


@users_cli.command("create")
def users_create(
    email: str = typer.Option(..., help="Login e-mail.", callback=checked_email),
    name: str = typer.Option(..., help="Display name."),
    role: Role = typer.Option(..., help="The user's role.", case_sensitive=False),
    region: list[str] = typer.Option([], help="Region covered (consultant, observateur); repeatable."),
    project: list[uuid.UUID] = typer.Option([], help="Project id (porteur, observateur); repeatable."),
    password: str = typer.Option(
        None,
        help="Prompted (hidden) when not given; REGIEFLOW_NEW_PASSWORD also works.",
        envvar="REGIEFLOW_NEW_PASSWORD",
    ),
) -> None:
    """Create a user (e.g. the first admin) with one role, on regions or projects if given."""
    from app.accounts import service as accounts

    migrate()
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    scopes: list[tuple[uuid.UUID | None, str | None]] = [(None, r) for r in region]
    scopes += [(p, None) for p in project]
    grants = [(role.value, pid, reg) for pid, reg in scopes or [(None, None)]]
    with database() as uows, uows() as uow:
        try:
            user = accounts.create_user(uow, email=email, name=name, password=password, grants=grants, now=now())
        except Refusal as exc:
            fail(exc)
        typer.echo(f"User {user.email} created (id {user.id}, role {role.value}).")


@keys_cli.command("create")
def keys_create(
    name: str = typer.Option(..., help="Who the key is for, e.g. 'Vilogia – suivi des projets'."),
    scope: list[Scope] = typer.Option([Scope.READ], help="read and/or write; repeatable."),
    region: list[str] = typer.Option([], help="Restrict to a region; repeatable."),
    project: list[uuid.UUID] = typer.Option([], help="Restrict to a project id; repeatable."),
    expires_in_days: int = typer.Option(None, min=1, max=3650, help="Expiry, in days from now."),
    consultant: bool = typer.Option(False, help="For the Mouvement's own systems: label and expertise."),
) -> None:
    """Create a partner API key; the key is printed once and never stored."""
    from datetime import timedelta

    from app.accounts import service as accounts

    migrate()
    moment = now()
    with database() as uows, uows() as uow:
        try:
            new = accounts.create_api_key(
                uow,
                name=name,
                scopes=[s.value for s in scope],
                regions=region or None,
                project_ids=list(project) or None,
                expires_at=moment + timedelta(days=expires_in_days) if expires_in_days else None,
                consultant=consultant,
                created_by="cli",
                now=moment,
            )
        except Refusal as exc:
            fail(exc)
        typer.echo(f"Key {new.row.prefix} created for {new.row.name}. Copy it now, it will not be shown again:")
        typer.echo(new.key)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, name, scopes, restrictions, expiry, revocation, last use)."""
    from app.accounts import service as accounts

    with database() as uows, uows() as uow:
        for k in accounts.list_api_keys(uow):
            state = "revoked" if k.revoked_at else ("expires " + k.expires_at.isoformat() if k.expires_at else "active")
            typer.echo(
                f"{k.prefix}  {k.name}  scopes={','.join(k.scopes)}{' consultant' if k.consultant else ''}  "
                f"regions={k.regions or '*'}  projects={k.project_ids or '*'}  {state}  "
                f"last used {k.last_used_at.isoformat() if k.last_used_at else 'never'}"
            )


@keys_cli.command("revoke")
def keys_revoke(prefix: str = typer.Argument(..., help="The key's visible prefix, e.g. rf_1a2b3c4d.")) -> None:
    """Revoke a key at once."""
    from app.accounts import service as accounts

    with database() as uows, uows() as uow:
        try:
            row = accounts.revoke_api_key(uow, prefix=prefix, now=now())
        except Refusal as exc:
            fail(exc)
        typer.echo(f"Key {row.prefix} revoked.")
