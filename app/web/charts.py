"""Geometry of the server-rendered SVG charts (the markup is in templates/_charts.html).

Python computes plain numbers and texts; Jinja writes the SVG and escapes every text. Colours come
from the style sheet through classes (the strict CSP forbids inline styles, not SVG classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workflow import deadlines as dl
from workflow import machine as wf
from workflow.vocabulary import STATE_LABELS, STEPS, State, Status

MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
MONTHS_FR_LONG = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_fr(d: date | None) -> str:
    """26 novembre 2026 (empty for None)."""
    if d is None:
        return ""
    return f"{'1er' if d.day == 1 else d.day} {MONTHS_FR_LONG[d.month - 1]} {d.year}"


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
TOP = 28
ROW = 46
BAR = 12


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: date
    end: date


@dataclass(frozen=True)
class TimelineRow:
    number: int
    label: str
    y: float  # top of the row (its label's baseline is y + 12)
    planned: Bar
    actual: Bar | None
    current: bool
    ongoing: bool  # the actual bar runs until today


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    rows: tuple[TimelineRow, ...]
    ticks: tuple[Tick, ...]
    today_x: float
    today: date
    horizon_x: float
    horizon_on: date
    axis_y: float
    description: str


def timeline(sch: dl.Schedule) -> Timeline:
    """Planned and actual bars of the six steps on one time axis, with today and the horizon marked."""
    ends = [sch.horizon_on, sch.today, *(s.planned_end for s in sch.steps)]
    ends += [s.actual_end for s in sch.steps if s.actual_end]
    start = sch.started_on
    end = max(ends) + timedelta(days=15)
    span = max((end - start).days, 1)
    plot = WIDTH - LEFT - RIGHT

    def x(d: date) -> float:
        return round(LEFT + plot * (d - start).days / span, 1)

    def bar(a: date, b: date) -> Bar:
        return Bar(x(a), max(round(x(b) - x(a), 1), 2.0), a, b)

    rows = []
    for i, st in enumerate(sch.steps):
        y = TOP + i * ROW
        actual = None
        ongoing = False
        if st.actual_start is not None:
            until = st.actual_end
            if until is None:
                until = sch.labelled_on or sch.today
                ongoing = st.current
            actual = bar(st.actual_start, until)
        rows.append(TimelineRow(i + 1, st.label, y, bar(st.planned_start, st.planned_end), actual, st.current, ongoing))
    axis_y = TOP + len(rows) * ROW + 4
    ticks = []
    year = start.year + 1
    while date(year, 1, 1) <= end:
        ticks.append(Tick(x(date(year, 1, 1)), str(year)))
        year += 1
    current = next((s for s in sch.steps if s.current), None)
    parts = [
        f"Projet démarré le {date_fr(sch.started_on)} ; horizon de {sch.plan.horizon_months} mois le "
        f"{date_fr(sch.horizon_on)} ; aujourd'hui {date_fr(sch.today)}."
    ]
    for st in sch.steps:
        line = (
            f"Étape {STEPS.index(st.step) + 1}, {st.label} : prévue du {short_date_fr(st.planned_start)} au "
            f"{short_date_fr(st.planned_end)}"
        )
        if st.actual_start:
            line += f", réalisée depuis le {short_date_fr(st.actual_start)}"
            if st.actual_end:
                line += f" jusqu'au {short_date_fr(st.actual_end)}"
        parts.append(line + ".")
    if current is not None:
        parts.append(f"Étape en cours : {current.label}.")
    return Timeline(
        WIDTH,
        int(axis_y + 30),
        tuple(rows),
        tuple(ticks),
        x(sch.today),
        sch.today,
        x(sch.horizon_on),
        sch.horizon_on,
        axis_y,
        " ".join(parts),
    )


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
