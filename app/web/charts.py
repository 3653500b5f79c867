"""Geometry of the server-rendered SVG charts (the markup is in templates/_charts.html).

Python computes plain numbers and texts; Jinja writes the SVG and escapes every text. Colours come
from the style sheet through classes (the strict CSP forbids inline styles, not SVG classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from workflow import deadlines as dl
from workflow import machine as wf
from workflow.vocabulary import STATE_LABELS, STEPS, State, Status
from workflow.vocabulary import date_fr as date_fr  # one definition (workflow), re-exported for the pages

MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def short_date_fr(d: date | None) -> str:
    """26/11/2026 (empty for None)."""
    return "" if d is None else d.strftime("%d/%m/%Y")


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (0 if `end` is not after `start`)."""
    if end <= start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


# --- the portfolio's bar: time elapsed against the horizon -----------------------------------------
@dataclass(frozen=True)
class HorizonBar:
    percent: int  # elapsed share of the horizon, 0..100 (capped)
    width: float  # filled width in a 100-unit view box
    months_elapsed: int
    months_total: int
    overdue: bool
    css: str  # status class: dans_les_temps, a_risque, en_retard, clos

    @property
    def label(self) -> str:
        text = f"{self.months_elapsed} mois écoulés sur {self.months_total} ({self.percent} %)"
        return text + (", horizon dépassé" if self.overdue else "")


def horizon_bar(started_on: date, horizon_on: date, until: date, status: Status | str | None) -> HorizonBar:
    total_days = max((horizon_on - started_on).days, 1)
    elapsed_days = max((until - started_on).days, 0)
    share = elapsed_days / total_days
    percent = min(round(share * 100), 100)
    css = Status(status).value if status else "clos"
    return HorizonBar(
        percent,
        round(min(share, 1.0) * 100, 1),
        months_between(started_on, until),
        months_between(started_on, horizon_on),
        until > horizon_on,
        css,
    )


# --- the project's timeline: planned versus actual per step ----------------------------------------
WIDTH = 640
LEFT = 8
RIGHT = 8
ROW = 46
BAR = 10
CHAR_WIDTH = 7.0  # an upper bound of one character's advance at the chart's 12px font (tested on the SVG)
LANE = 16  # height of one lane of marker labels above the rows


def step_ends(
    sch: dl.Schedule, *, state_entered_on: date, step_due_on: date | None, projected_label_on: date | None
) -> list[date | None]:
    """One end date per step, the one every view shows: a finished step's actual end, the current
    step's due date, and for each later step the date the projection gives it (so the last one is the
    projected label, DOMAIN.md: max(due, today) + the following steps' months, months added at once
    from one anchor as workflow.deadlines does, never chained). None for a step never reached by a
    closed project."""
    current = next((i for i, st in enumerate(sch.steps) if st.current), None)
    ends: list[date | None] = []
    for i, st in enumerate(sch.steps):
        if current is None or i < current:
            ends.append(st.actual_end or (sch.labelled_on if st.actual_start and sch.labelled_on else None))
        elif i == current:
            ends.append(step_due_on)
        elif step_due_on is None or projected_label_on is None:
            ends.append(None)
        else:
            months = sum(s.months for s in sch.steps[current + 1 : i + 1])
            if step_due_on >= sch.today:
                base = dl.add_months(state_entered_on, sch.steps[current].months)
                ends.append(dl.add_months(base, months) + (step_due_on - base))
            else:
                ends.append(dl.add_months(sch.today, months))
    return ends


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: date
    end: date


@dataclass(frozen=True)
class Segment:
    """One stay in a step (a step reached twice, after a step back or an ajourner_label, has two)."""

    bar: Bar
    visit: int  # 1 for the first stay, 2 for the second…
    ongoing: bool  # runs until today
    overrun: Bar | None  # the part after the stay's due date


@dataclass(frozen=True)
class TimelineRow:
    number: int
    label: str
    y: float  # top of the row (its label's baseline is y + 10)
    planned: Bar
    actual: Bar | None  # the first stay (kept for the summary); every stay is in `segments`
    segments: tuple[Segment, ...]
    projected: Bar | None  # a step still ahead: from the previous step's end to its own
    current: bool
    ongoing: bool  # the actual bar runs until today
    revisited: bool  # reached more than once


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A dated vertical line across the rows with its label above them, in a lane of its own when
    it would otherwise overlap another marker's label."""

    ident: str
    css: str
    x: float
    on: date
    text: str
    label_x: float
    label_y: float
    anchor: str  # start | end
    width: float  # estimated width of the label (CHAR_WIDTH per character)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the label."""
        left = self.label_x if self.anchor == "start" else self.label_x - self.width
        return left, self.label_y - 11, left + self.width, self.label_y + 3


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    rows: tuple[TimelineRow, ...]
    ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...]
    today_x: float
    today: date
    horizon_x: float
    horizon_on: date
    axis_y: float
    top: float
    description: str


def _lanes(items: list[tuple[str, str, float, date, str]], width: int) -> list[Marker]:
    """Place each marker's label right of its line (left of it near the right edge), in the first lane
    where it overlaps no label already placed."""
    placed: list[Marker] = []
    for ident, css, x, on, text in sorted(items, key=lambda m: m[2]):
        w = round(len(text) * CHAR_WIDTH, 1)
        anchor = "end" if x + 4 + w > width - 2 else "start"
        lx = x - 4 if anchor == "end" else x + 4
        lane = 0
        while True:
            y = 14 + lane * LANE
            m = Marker(ident, css, x, on, text, lx, y, anchor, w)
            a = m.box
            if all(a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1] for b in (o.box for o in placed)):
                break
            lane += 1
        placed.append(m)
    return placed


def timeline(
    sch: dl.Schedule,
    periods: Sequence[dl.Period] = (),
    *,
    suspensions: Sequence[dl.Suspension] = (),
    ends: Sequence[date | None] = (),
    step_due_on: date | None = None,
    projected_label_on: date | None = None,
) -> Timeline:
    """Planned bars, every actual stay (a step reached twice has two), the projection of the steps
    still ahead, and the markers: today, the horizon, the current step's due date and the projected
    label, each drawn wherever it falls, beyond the horizon included. The part of a stay past its due
    date is drawn as an overrun."""
    step_due_on = step_due_on if step_due_on is not None else sch.step_due_on
    projected_label_on = projected_label_on if projected_label_on is not None else sch.projected_label_on
    ends = list(ends) or [None] * len(sch.steps)
    dates = [sch.horizon_on, sch.today, *(s.planned_end for s in sch.steps)]
    dates += [s.actual_end for s in sch.steps if s.actual_end]
    dates += [d for d in (step_due_on, projected_label_on, *ends) if d is not None]
    start = min([sch.started_on, *(p.entered_on for p in periods)])
    end = max(dates) + timedelta(days=15)
    span = max((end - start).days, 1)
    plot = WIDTH - LEFT - RIGHT

    def x(d: date) -> float:
        return round(LEFT + plot * (d - start).days / span, 1)

    def bar(a: date, b: date) -> Bar:
        return Bar(x(a), max(round(x(b) - x(a), 1), 2.0), a, b)

    marker_items = [
        ("frise-aujourdhui", "tl-today", x(sch.today), sch.today, "Aujourd'hui"),
        ("frise-horizon", "tl-horizon", x(sch.horizon_on), sch.horizon_on, "Horizon"),
    ]
    if step_due_on is not None:
        marker_items.append(("frise-echeance", "tl-due", x(step_due_on), step_due_on, "Échéance de l'étape"))
    if projected_label_on is not None:
        marker_items.append(
            ("frise-label", "tl-projection", x(projected_label_on), projected_label_on, "Label projeté")
        )
    markers = _lanes(marker_items, WIDTH)
    lanes = max(int((m.label_y - 14) // LANE) for m in markers) + 1
    top = 14 + lanes * LANE

    rows = []
    previous_end: date | None = None
    for i, st in enumerate(sch.steps):
        y = top + i * ROW
        mine = sorted((p for p in periods if p.step == st.step), key=lambda p: p.entered_on)
        if not mine and st.actual_start is not None:  # no history given: the schedule's one span
            mine = [dl.Period(st.step, st.actual_start, st.actual_end)]
        segments = []
        for n, period in enumerate(mine, start=1):
            ongoing = period.left_on is None and st.current
            until = period.left_on or sch.labelled_on or sch.today
            due = (
                step_due_on
                if ongoing and step_due_on is not None
                else dl.shifted(
                    dl.add_months(period.entered_on, st.months),
                    suspensions,
                    since=period.entered_on,
                    open_until=sch.today,
                )
            )
            overrun = bar(due, until) if until > due else None
            segments.append(Segment(bar(period.entered_on, until), n, ongoing, overrun))
        projected = None
        end_i = ends[i] if i < len(ends) else None
        if not segments and end_i is not None and previous_end is not None and end_i > previous_end:
            projected = bar(previous_end, end_i)
        rows.append(
            TimelineRow(
                i + 1,
                st.label,
                y,
                bar(st.planned_start, st.planned_end),
                segments[0].bar if segments else None,
                tuple(segments),
                projected,
                st.current,
                any(s.ongoing for s in segments),
                len(segments) > 1,
            )
        )
        previous_end = end_i or (segments[-1].bar.end if segments else previous_end)
        if previous_end is not None and any(s.ongoing for s in segments):
            # a late step is still going on: what follows starts today at the earliest, not on the
            # passed due date (the projection adds the following steps to max(due date, today))
            previous_end = max(previous_end, sch.today)
    axis_y = top + len(rows) * ROW + 4
    ticks = []
    year = start.year + 1
    while date(year, 1, 1) <= end:
        ticks.append(Tick(x(date(year, 1, 1)), str(year)))
        year += 1
    return Timeline(
        WIDTH,
        int(axis_y + 30),
        tuple(rows),
        tuple(ticks),
        tuple(markers),
        x(sch.today),
        sch.today,
        x(sch.horizon_on),
        sch.horizon_on,
        axis_y,
        top,
        _describe(sch, rows, step_due_on, projected_label_on),
    )


def _describe(
    sch: dl.Schedule, rows: list[TimelineRow], step_due_on: date | None, projected_label_on: date | None
) -> str:
    parts = [
        f"Projet démarré le {date_fr(sch.started_on)} ; horizon de {sch.plan.horizon_months} mois le "
        f"{date_fr(sch.horizon_on)} ; aujourd'hui {date_fr(sch.today)}."
    ]
    for row in rows:
        line = f"Étape {row.number}, {row.label} : prévue du {date_fr(row.planned.start)} au {date_fr(row.planned.end)}"
        for seg in row.segments:
            nth = "" if len(row.segments) == 1 else f" ({seg.visit}{'re' if seg.visit == 1 else 'e'} fois)"
            line += f", réalisée{nth} du {date_fr(seg.bar.start)}"
            line += " à aujourd'hui" if seg.ongoing else f" au {date_fr(seg.bar.end)}"
            if seg.overrun is not None:
                line += f", dépassement depuis le {date_fr(seg.overrun.start)}"
        if row.projected is not None:
            line += f", projetée jusqu'au {date_fr(row.projected.end)}"
        parts.append(line + ".")
    if step_due_on is not None:
        parts.append(f"Échéance de l'étape en cours : {date_fr(step_due_on)}.")
    if projected_label_on is not None:
        after = projected_label_on > sch.horizon_on
        parts.append(f"Label projeté le {date_fr(projected_label_on)}" + (", après l'horizon." if after else "."))
    return " ".join(parts)


# --- the workflow diagram ------------------------------------------------------------------------
@dataclass(frozen=True)
class DiagramBox:
    state: State
    number: int | None
    label: str
    x: float
    y: float
    width: float
    height: float
    terminal: bool


@dataclass(frozen=True)
class DiagramArrow:
    trigger: str
    label: str
    path: str
    label_x: float
    label_y: float
    backward: bool


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: tuple[DiagramBox, ...]
    arrows: tuple[DiagramArrow, ...]
    description: str


def workflow_diagram() -> Diagram:
    """The six steps top to bottom, forward triggers between them, backward moves on the right and the
    two terminal states; read from the machine itself, like the Mermaid source."""
    box_w, box_h, gap, left = 340, 44, 40, 20
    side = left + box_w + 250  # the abandoned state, right of the backward moves and their labels
    boxes: dict[str, DiagramBox] = {}
    order = [*STEPS, State.LABELLISEE]
    for i, st in enumerate(order):
        boxes[st.value] = DiagramBox(
            st,
            i + 1 if st in STEPS else None,
            STATE_LABELS[st],
            left,
            10 + i * (box_h + gap),
            box_w,
            box_h,
            st not in STEPS,
        )
    abandon = DiagramBox(
        State.ABANDONNEE, None, STATE_LABELS[State.ABANDONNEE], side, 10 + 3 * (box_h + gap), 250, box_h, True
    )
    arrows: list[DiagramArrow] = []
    cx = left + box_w / 2
    for name, event in wf.MACHINE.events.items():
        for source, transitions in event.transitions.items():
            for tr in transitions:
                if tr.dest is None or tr.dest == State.ABANDONNEE.value:
                    continue
                a, b = boxes[source], boxes[tr.dest]
                if b.y > a.y:  # forward: straight down
                    y1, y2 = a.y + a.height, b.y
                    arrows.append(
                        DiagramArrow(name, name, f"M{cx} {y1} L{cx} {y2 - 2}", cx + 8, (y1 + y2) / 2 + 4, False)
                    )
                else:  # backward: a curve on the right side
                    x0 = left + box_w
                    y1, y2 = a.y + a.height / 2, b.y + b.height / 2
                    bend = x0 + 60
                    arrows.append(
                        DiagramArrow(
                            name,
                            name,
                            f"M{x0} {y1} C{bend} {y1} {bend} {y2} {x0 + 2} {y2}",
                            bend - 8,
                            (y1 + y2) / 2 + 4,
                            True,
                        )
                    )
    height = int(10 + len(order) * (box_h + gap))
    description = (
        "Les six étapes se suivent de haut en bas, de la constitution du groupe projet à la "
        "labellisation ; chaque flèche porte le déclencheur qui fait passer à l'étape suivante. "
        "Sur la droite, les retours en arrière (reprendre_contours, reprendre_faisabilite, "
        "ajourner_label). Depuis chaque étape, le projet peut être abandonné, suspendu puis repris."
    )
    return Diagram(side + 250 + 10, height, (*boxes.values(), abandon), tuple(arrows), description)
