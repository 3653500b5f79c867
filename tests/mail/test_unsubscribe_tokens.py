"""Unsubscribe links: a forged or malformed token, ASCII or not, is a 404 (never a 500), on the page and
on the one-click POST (review of issue 15: compare_digest on non-ASCII text raised TypeError)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.mail import service as mail

SIG = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=1, max_size=70)


def test_a_forged_signature_is_a_404_whatever_its_characters(app: Any, anon_client: TestClient) -> None:
    assert anon_client.get("/desabonnement/1.%C3%A9%C3%A9").status_code == 404
    assert anon_client.post("/desabonnement/1.%C3%A9", data={"List-Unsubscribe": "One-Click"}).status_code == 404

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(sig=SIG)
    def forged(sig: str) -> None:
        assert mail.user_of_token(app.state.settings, f"1.{sig}") in (None, 1)
        assert (
            mail.user_of_token(app.state.settings, f"1.{sig}") is None
            or sig == mail.unsubscribe_token(app.state.settings, 1).partition(".")[2]
        )

    forged()
    good = mail.unsubscribe_token(app.state.settings, 7)
    assert mail.user_of_token(app.state.settings, good) == 7
