"""The `regieflow` command line, one module per command group; this module registers them in the
order `regieflow --help` lists them."""

from __future__ import annotations

from app.core.startup import loading

with loading():  # the commands import most of the application: no collector passes over it (app/core/startup.py)
    import app.cli.webhooks as webhook_commands
    from app.cli import accounts, checkpoints, database, deadlines, demo, exchange, server, verify
    from app.cli import forecast as forecast_commands
    from app.cli import mail as mail_commands
    from app.cli.root import cli

cli.command()(server.serve)
cli.command()(demo.demo)
cli.command()(verify.verify)
cli.command()(checkpoints.checkpoint)
cli.command()(checkpoints.rechain)
cli.command("export")(exchange.export_db)
cli.command("import")(exchange.import_db)
cli.command("import-projects")(exchange.import_projects_cmd)
cli.command()(server.worker)
cli.add_typer(database.db_cli, name="db")
cli.add_typer(accounts.users_cli, name="users")
cli.add_typer(accounts.keys_cli, name="keys")
cli.add_typer(deadlines.deadlines_cli, name="deadlines")
cli.add_typer(webhook_commands.webhooks_cli, name="webhooks")
cli.add_typer(mail_commands.mail_cli, name="mail")
cli.add_typer(forecast_commands.forecast_cli, name="forecast")


def main() -> None:
    cli(prog_name="regieflow")


__all__ = ["cli", "main"]
