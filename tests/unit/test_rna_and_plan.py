"""RNA numbers (W + 9 digits or capital letters, DOMAIN.md's glossary) and plans that must fit in their
horizon, as classes of inputs."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.deadlines import check_plan
from workflow.errors import InvalidInput
from workflow.identifiers import rna

ALLOWED = string.digits + string.ascii_uppercase


@given(st.text(alphabet=ALLOWED, min_size=9, max_size=9))
def test_w_and_nine_digits_or_capitals_is_an_rna(tail: str) -> None:
    assert rna("W" + tail) == "W" + tail
    assert rna(f"  w{tail.lower()} ") == "W" + tail  # ASCII letters are read as capitals, spaces trimmed


@given(st.text(min_size=0, max_size=14))
def test_anything_else_is_refused_in_french(value: str) -> None:
    stripped = value.strip()
    ok = (
        stripped.isascii()
        and len(stripped) == 10
        and stripped[:1] in "Ww"
        and all(c in ALLOWED for c in stripped[1:].upper())
    )
    if ok:
        assert rna(value) == stripped.upper()
        return
    with pytest.raises(InvalidInput) as err:
        rna(value)
    assert err.value.field == "rna" and "Numéro RNA invalide" in err.value.message


@pytest.mark.parametrize("value", ["W2A1000123", "W2B0012345", "W595012345"])
def test_corsica_and_mainland_numbers(value: str) -> None:
    assert rna(value) == value


@pytest.mark.parametrize(
    "value", ["W59501234", "W5950123456", "X595012345", "W59501234é", "W５９５012345", "Wﬀ12345678"]
)
def test_lengths_other_letters_and_lookalikes_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        rna(value)


@given(st.lists(st.integers(1, 120), min_size=6, max_size=6), st.integers(1, 240))
def test_a_plan_longer_than_its_horizon_is_refused(months: list[int], horizon: int) -> None:
    steps = dict(zip(["a", "b", "c", "d", "e", "f"], months, strict=True))
    if sum(months) <= horizon:
        check_plan(steps, horizon)
        return
    with pytest.raises(InvalidInput) as err:
        check_plan(steps, horizon)
    assert err.value.field == "horizon_months"
    assert f"totalisent {sum(months)} mois, au-delà de l'horizon de {horizon} mois" in err.value.message
