"""`regieflow webhooks`: webhook signing secrets at rest (docs/RELIABILITY.md, "Webhook secrets at rest")."""

from __future__ import annotations

import typer

from app.cli.root import UserError, database, migrate
from app.core.settings import get_settings

webhooks_cli = typer.Typer(help="Webhook subscriptions: their signing secrets at rest.", no_args_is_help=True)


@webhooks_cli.command("rotate-secrets")
def rotate_secrets() -> None:
    """Re-encrypt every webhook signing secret with the current server key (REGIEFLOW_SECRET_KEY).

    Run it after a key change, while the old key is still in REGIEFLOW_PREVIOUS_SECRET_KEYS; then the
    old key can be dropped. Exit code 1 if some secret decrypts with no key (its owner must renew it)."""
    from app.core.keys import KeyUnavailable, fernet
    from app.webhooks.service import reencrypt_secrets

    migrate()
    try:
        cipher = fernet(get_settings())
    except KeyUnavailable as exc:
        raise UserError(str(exc)) from None
    with database() as uows, uows() as uow:
        result = reencrypt_secrets(uow, cipher)
    typer.echo(f"{result.rotated} webhook secret(s) re-encrypted with the current server key.")
    if result.unreadable:
        ids = ", ".join(map(str, result.unreadable))
        typer.echo(
            f"Warning: subscription(s) {ids} hold a secret that no server key decrypts (left as it is): their "
            "deliveries fail until the old key is put back in REGIEFLOW_PREVIOUS_SECRET_KEYS, or their owners "
            "renew the secret (POST /api/v1/webhooks/{id}/rotate-secret).",
            err=True,
        )
        raise typer.Exit(1)
