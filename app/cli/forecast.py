"""`regieflow forecast`: the history-based forecasts (issue 16): refresh the distributions, backtest."""

from __future__ import annotations

import typer

from app.cli.root import database

forecast_cli = typer.Typer(
    help="History-based forecasts: refresh the step distributions, backtest them.", no_args_is_help=True
)


@forecast_cli.command("refresh")
def refresh_cmd(
    force: bool = typer.Option(False, "--force", help="Recompute even if nothing changed since the last refresh."),
) -> None:
    """Recompute the per-step duration distributions and every open project's forecast (when a transition
    was recorded since the last refresh, or on a new day; always with --force)."""
    from app.core.clock import Clock
    from app.core.settings import get_settings
    from app.forecasts.service import refresh, refresh_if_stale

    clock = Clock(get_settings().tz)
    with database() as uows:
        if force:
            refresh(uows, clock)
            done = True
        else:
            done = refresh_if_stale(uows, clock)
        with uows(write=False) as uow:
            from app.forecasts.repository import ForecastRepository

            row = ForecastRepository(uow.session).refresh_row()
            said = (
                None
                if row is None
                else f"{row.samples} completed steps from {row.projects} projects "
                f"(watermark: event {row.watermark}, computed {row.computed_at.isoformat(timespec='seconds')})."
            )
    if said is not None:
        typer.echo(f"Distributions {'recomputed' if done else 'already fresh'}: {said}")


@forecast_cli.command("backtest")
def backtest_cmd() -> None:
    """Forecast from each step entry of each labelled project with what was known that day (every project's
    completed and open stays; then only the projects labelled before it); print the median absolute error
    and the P80 coverage beside the plan-based projection's."""
    from app.core.clock import Clock
    from app.core.settings import get_settings
    from app.forecasts import backtest
    from app.forecasts.repository import ForecastRepository

    settings = get_settings()
    today = Clock(settings.tz).today()
    with database() as uows, uows(write=False) as uow:
        histories = list(ForecastRepository(uow.session).histories())
    titles = {
        "as_of": "Training: what every project had lived before each step entry, its completed steps and the step "
        "it was in or had abandoned (open stays, censored): the live forecast then.",
        "labelled": "Training: the projects labelled before each step entry (the issue's definition; nothing open).",
    }
    for i, training in enumerate(("as_of", "labelled")):
        _, cases = backtest.run(histories, plan=settings.default_plan, today=today, training=training)
        if not cases:
            typer.echo("No labelled project in this database: nothing to backtest.")
            return
        typer.echo(("\n" if i else "") + f"{titles[training]}\n\n{backtest.table(cases)}")
