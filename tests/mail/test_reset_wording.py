"""The forgotten-password answer gives the link's real lifetime (REGIEFLOW_PASSWORD_RESET_MINUTES), in
correct French — it said « une heure » whatever the setting (review of issue 15)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts.password_reset import lifetime_fr, same_answer
from tests.mail.test_password_reset import forgot


@pytest.mark.parametrize(
    ("minutes", "said"),
    [
        (5, "au bout de 5 minutes."),
        (30, "au bout de 30 minutes."),
        (60, "au bout d'une heure."),
        (90, "au bout d'une heure et 30 minutes."),
        (120, "au bout de 2 heures."),
        (1440, "au bout de 24 heures."),
    ],
)
def test_the_lifetime_in_words(app: Any, minutes: int, said: str) -> None:
    settings = app.state.settings.model_copy(update={"password_reset_minutes": minutes})
    assert same_answer(settings).endswith(said)
    assert lifetime_fr(minutes) in said


def test_the_page_says_the_configured_lifetime(app: Any, anon_client: TestClient) -> None:
    kept = app.state.settings
    app.state.settings = kept.model_copy(update={"password_reset_minutes": 30})
    try:
        page = forgot(anon_client, "personne@exemple.fr")
    finally:
        app.state.settings = kept
    assert page.status_code == 200
    assert "expire au bout de 30 minutes" in page.text and "une heure" not in page.text
