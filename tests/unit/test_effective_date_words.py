"""A refused effective date names the previous transition's date in French words, never ISO."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.errors import EffectiveDateInvalid
from workflow.machine import check_effective_on


def test_the_previous_transition_is_named_in_french() -> None:
    with pytest.raises(EffectiveDateInvalid) as refused:
        check_effective_on(date(2026, 9, 30), today=date(2026, 11, 26), not_before=date(2026, 10, 1))
    assert refused.value.message.endswith("(du 1er octobre 2026).")


@given(st.dates(min_value=date(2000, 1, 2), max_value=date(2099, 12, 31)))
def test_no_iso_date_in_the_refusal(previous: date) -> None:
    with pytest.raises(EffectiveDateInvalid) as refused:
        check_effective_on(previous - timedelta(days=1), today=previous, not_before=previous)
    assert previous.isoformat() not in refused.value.message
    assert str(previous.year) in refused.value.message
