"""The words for dates, delays and deadline statuses (app/web/wording.py): pure functions, no database.

The reason a page gives for a status must come from the same numbers as the status itself
(workflow.deadlines.status_at): property-based over every arrangement of the dates."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.web.wording import date_fr, de, due_in_words, span, status_reason
from workflow import deadlines as dl
from workflow.vocabulary import Status

DAY = date(2026, 11, 26)
days = st.integers(min_value=-2000, max_value=2000)


def test_french_dates_and_elision() -> None:
    assert date_fr(date(2026, 10, 1)) == "1er octobre 2026"
    assert date_fr(date(2026, 11, 26)) == "26 novembre 2026"
    assert date_fr(None) == ""
    assert de("Alex") == "d'Alex" and de("Émilie") == "d'Émilie" and de("Hugo") == "d'Hugo"
    assert de("Claire Martin") == "de Claire Martin" and de("  Yves ") == "d'Yves"


def test_spans_in_words() -> None:
    assert span(DAY, DAY) == "0 jour"
    assert span(DAY, DAY + timedelta(days=1)) == "1 jour"
    assert span(DAY, DAY + timedelta(days=12)) == "12 jours"
    assert span(DAY, DAY + timedelta(days=45)) == "45 jours"  # under two months: in days
    assert span(date(2026, 1, 31), date(2026, 4, 30)) == "3 mois"  # 31 January + 3 months, as deadlines add
    assert span(date(2026, 1, 1), date(2026, 4, 1)) == "3 mois"
    assert span(date(2026, 1, 1), date(2027, 1, 1)) == "1 an"
    assert span(date(2026, 1, 1), date(2028, 3, 5)) == "2 ans et 2 mois"
    assert span(date(2027, 1, 1), date(2026, 1, 1)) == "1 an"  # reversed: the same span


def test_due_in_words() -> None:
    assert due_in_words(DAY, DAY) == "aujourd'hui"
    assert due_in_words(date(2027, 2, 26), DAY) == "dans 3 mois"
    assert due_in_words(DAY - timedelta(days=12), DAY) == "dépassée de 12 jours"
    assert due_in_words(DAY - timedelta(days=12), DAY, feminine=False) == "dépassé de 12 jours"


@given(due=days, horizon=days, projected=days, paused=st.one_of(st.none(), st.integers(-400, 0)))
def test_the_reason_agrees_with_the_status(due: int, horizon: int, projected: int, paused: int | None) -> None:
    """On what the pages show (workflow.deadlines.present's dates, a suspended project's dates ahead
    already moved by the pause): the reason says what the status says, and words the step's due date
    exactly as the header and the cards do (step_due_words)."""
    index = dl.DeadlineIndex(DAY + timedelta(days=horizon), DAY + timedelta(days=due), DAY + timedelta(days=projected))
    suspended_since = DAY + timedelta(days=paused) if paused is not None else None
    shown = dl.present(index, state=dl.STEPS[0], plan=dl.Plan(), today=DAY, suspended_since=suspended_since)
    status = shown.status
    assert status == dl.status_at(index, today=DAY, suspended_since=suspended_since)
    assert status is not None and shown.step_due_on is not None
    reason = status_reason(
        status=status,
        today=DAY,
        step_due_on=shown.step_due_on,
        horizon_on=shown.horizon_on,
        projected_label_on=shown.projected_label_on,
        suspended_since=suspended_since,
    )
    assert reason.status == status and reason.text
    assert reason.severity == {Status.EN_RETARD: 0, Status.A_RISQUE: 1, Status.DANS_LES_TEMPS: 2}[status]
    ref = suspended_since or DAY
    text = reason.text
    header = due_in_words(shown.step_due_on, DAY, suspended_since=suspended_since)
    if status == Status.EN_RETARD:
        assert (f"échéance de l'étape {header}" in text) == (ref > index.step_due_on)
        assert ("horizon dépassé de" in text) == (ref > index.horizon_on)
        assert header.startswith("dépassée") == (ref > index.step_due_on)
    elif status == Status.A_RISQUE:
        assert text.endswith("après l'horizon")
    else:
        assert f"échéance de l'étape {header}" in text and "dépassé" not in text
    assert (suspended_since is not None) == text.startswith("projet suspendu depuis le")
    assert not any(c.isdigit() and text[i + 1 : i + 2] == "-" for i, c in enumerate(text))  # never an ISO date


def test_a_suspended_project_s_reason_agrees_with_its_due_date() -> None:
    """Paused on 1 November with 30 days left, seen on 1 March: « dans 30 jours » everywhere (the reason
    said « dans 4 mois », measured from the pause to the date already moved by the pause); paused 30
    days late: « dépassée de 30 jours » everywhere (the header said 4 months, counting the pause)."""
    started, paused, today = date(2026, 9, 1), date(2026, 11, 1), date(2027, 3, 1)
    step = dl.STEPS[0]  # 3 months: due 1 December 2026
    for start, expected in ((started, "dans 30 jours"), (date(2026, 7, 2), "dépassée de 30 jours")):
        index = dl.deadline_index(
            started_on=start,
            state=step,
            state_entered_on=start,
            suspensions=[dl.Suspension(paused)],
            plan=dl.Plan(),
        )
        shown = dl.present(index, state=step, plan=dl.Plan(), today=today, suspended_since=paused)
        assert shown.step_due_on is not None
        reason = status_reason(
            status=shown.status,
            today=today,
            step_due_on=shown.step_due_on,
            horizon_on=shown.horizon_on,
            projected_label_on=shown.projected_label_on,
            suspended_since=paused,
        )
        assert due_in_words(shown.step_due_on, today, suspended_since=paused) == expected
        assert reason.text.endswith(f"échéance de l'étape {expected}"), reason.text


def test_the_issue_s_examples() -> None:
    late = status_reason(
        status=Status.EN_RETARD,
        today=date(2026, 11, 26),
        step_due_on=date(2026, 8, 26),
        horizon_on=date(2028, 1, 1),
        projected_label_on=date(2028, 6, 1),
    )
    assert late.text == "échéance de l'étape dépassée de 3 mois"
    risky = status_reason(
        status=Status.A_RISQUE,
        today=date(2026, 11, 26),
        step_due_on=date(2027, 1, 1),
        horizon_on=date(2028, 1, 1),
        projected_label_on=date(2028, 3, 1),
    )
    assert risky.text == "label projeté 2 mois après l'horizon"
    closed = status_reason(status=None, today=DAY, step_due_on=None, horizon_on=DAY, projected_label_on=None)
    assert closed.text == "" and closed.severity == 3
