"""The deadline boundary (DOMAIN.md, "Deadlines"): every view computes the same dates and status.

For random histories (steps forward, pauses that may start exactly on a due date, resumptions), on
every day from the start to well after the last transition, four views must agree:

- the project (API and page): `present` of the stored index, as app/projects/service.project_read;
- the list index: the stored index with `status_at` (the SQL filter's twin, tested against it);
- the schedule: `schedule` from the replayed history, as app/transitions/service.schedule_of;
- the calendar: `schedule` from the current period only, as app/calendars/service.entries_of.

And a status never changes on `reprendre` alone: the day a project resumes, its status is the one it
had while paused that same day."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from workflow import deadlines as dl
from workflow.history import RecordedTransition, Replayed, replay
from workflow.vocabulary import STEPS, State, Trigger

FORWARD = {
    State.GROUPE_PROJET: Trigger.DEFINIR_CONTOURS,
    State.CONTOURS: Trigger.LANCER_FAISABILITE,
    State.FAISABILITE: Trigger.SOUMETTRE_VALIDATION,
    State.VALIDATION: Trigger.LANCER_PREFIGURATION,
    State.PREFIGURATION: Trigger.DEMANDER_EXPERTISE,
}
NEXT = {s: STEPS[i + 1] for i, s in enumerate(STEPS[:-1])}
PLAN = dl.Plan()


@st.composite
def histories(draw: st.DrawFn) -> tuple[date, list[RecordedTransition]]:
    """A start and transitions: forward moves, and pauses (some starting exactly on the due date)."""
    start = draw(st.dates(date(2023, 1, 1), date(2025, 12, 31)))
    state, suspended, day = State.GROUPE_PROJET, False, start
    entered = start
    out: list[RecordedTransition] = []
    for _ in range(draw(st.integers(0, 8))):
        if suspended:
            day += timedelta(days=draw(st.integers(0, 120)))
            out.append(RecordedTransition(Trigger.REPRENDRE.value, state.value, state.value, day))
            suspended = False
            continue
        action = draw(st.sampled_from(["forward", "pause", "pause_on_due"] if state in FORWARD else ["pause"]))
        if action == "pause_on_due":  # exactly on the current step's (shifted) due date, if not passed
            history = replay(start, out)
            due = dl.deadline_index(
                started_on=start,
                state=state,
                state_entered_on=entered,
                suspensions=history.suspensions,
                plan=PLAN,
            ).step_due_on
            assert due is not None
            day = max(day, due)
        else:
            day += timedelta(days=draw(st.integers(0, 200)))
        if action == "forward":
            out.append(RecordedTransition(FORWARD[state].value, state.value, NEXT[state].value, day))
            state, entered = NEXT[state], day
        else:
            out.append(RecordedTransition(Trigger.SUSPENDRE.value, state.value, state.value, day))
            suspended = True
    return start, out


def views(start: date, history: Replayed, today: date) -> dict[str, tuple[object, ...]]:
    index = dl.deadline_index(
        started_on=start,
        state=history.state,
        state_entered_on=history.state_entered_on,
        suspensions=history.suspensions,
        plan=PLAN,
    )
    shown = dl.present(index, state=history.state, plan=PLAN, today=today, suspended_since=history.suspended_since)
    full = dl.schedule(
        started_on=start,
        state=history.state,
        periods=history.periods,
        suspensions=history.suspensions,
        plan=PLAN,
        today=today,
    )
    calendar = dl.schedule(
        started_on=start,
        state=history.state,
        periods=[dl.Period(history.state, history.state_entered_on, None)],
        suspensions=history.suspensions,
        plan=PLAN,
        today=today,
    )
    listed = dl.status_at(index, today=today, suspended_since=history.suspended_since)
    return {
        "project": (shown.horizon_on, shown.step_due_on, shown.projected_label_on, shown.status),
        "schedule": (full.horizon_on, full.step_due_on, full.projected_label_on, full.status),
        "calendar": (calendar.horizon_on, calendar.step_due_on, calendar.projected_label_on, calendar.status),
        "list": (shown.horizon_on, shown.step_due_on, shown.projected_label_on, listed),
    }


@settings(max_examples=150, deadline=None)
@given(histories())
def test_project_schedule_list_and_calendar_agree_every_day(history: tuple[date, list[RecordedTransition]]) -> None:
    start, transitions = history
    # Each prefix of the history is the project between one transition and the next: check every day.
    bounds = [start, *(t.effective_on for t in transitions)]
    for k in range(len(transitions) + 1):
        replayed = replay(start, transitions[:k])
        first = bounds[k]
        last = bounds[k + 1] if k + 1 < len(bounds) else first + timedelta(days=500)
        for offset in range(0, (last - first).days + 1, 1 if (last - first).days < 400 else 3):
            today = first + timedelta(days=offset)
            seen = views(start, replayed, today)
            assert len(set(seen.values())) == 1, (today, seen)


@settings(max_examples=150, deadline=None)
@given(histories())
def test_status_never_changes_on_reprendre_alone(history: tuple[date, list[RecordedTransition]]) -> None:
    start, transitions = history
    for k, t in enumerate(transitions):
        if t.trigger != Trigger.REPRENDRE.value:
            continue
        paused, resumed = replay(start, transitions[:k]), replay(start, transitions[: k + 1])
        day = t.effective_on
        assert views(start, paused, day)["project"][3] == views(start, resumed, day)["project"][3], day
        assert views(start, paused, day)["schedule"][3] == views(start, resumed, day)["schedule"][3], day


def test_a_pause_starting_on_the_due_date_pushes_it_in_every_view() -> None:
    start = date(2024, 1, 31)
    due = date(2024, 4, 30)  # groupe_projet: 3 months
    paused = [RecordedTransition(Trigger.SUSPENDRE.value, "groupe_projet", "groupe_projet", due)]
    resumed = [
        *paused,
        RecordedTransition(Trigger.REPRENDRE.value, "groupe_projet", "groupe_projet", due + timedelta(10)),
    ]
    for today in (due, due + timedelta(days=5), due + timedelta(days=10)):
        seen = views(start, replay(start, resumed if today == due + timedelta(10) else paused), today)
        assert len(set(seen.values())) == 1, seen
        assert seen["project"][3].value == "dans_les_temps"  # type: ignore[union-attr]
    after = views(start, replay(start, resumed), due + timedelta(days=10))
    assert after["schedule"][1] == due + timedelta(days=10)
