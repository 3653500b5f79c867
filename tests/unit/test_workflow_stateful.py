"""Property-based test of the workflow: Hypothesis drives workflow.machine.fire / explain / available
with random triggers, dates, reasons and evidence changes, and compares every answer with a tiny
reference model written from DOMAIN.md alone (it shares no code with workflow/ but the vocabulary
strings and the plain Evidence record the guards read).

Bounded for CI: REGIEFLOW_STATEFUL_EXAMPLES (default 100) runs of up to 50 steps each; no deadline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.support.domain import BACKWARD, FORWARD, GUARDS, NEEDS_REASON, STEPS, TERMINALS, TRIGGERS
from workflow import evidence as ev
from workflow import machine as wf
from workflow.errors import (
    EffectiveDateInvalid,
    GuardsUnmet,
    ProjectClosed,
    ReasonRequired,
    TriggerNotAllowed,
    UnknownTrigger,
)
from workflow.vocabulary import BuyerCategory, Category, Condition, ExpertiseConclusion, Kind, NeedStatus, Verdict

# --- the reference model, from DOMAIN.md -------------------------------------------------------
# --- the reference model, from DOMAIN.md (tests/support/domain.py) ----------------------------
TRIPTYQUE = {"habitant", "collectivite", "bailleur_social"}
CONDITIONS = [
    "ancrage_territorial",
    "services_nouveaux",
    "perennite_economique",
    "cooperation_autonomie",
    "implication_habitants",
]
MAX_REASON = 2000


@dataclass
class Record:
    """What the project has recorded, as plain lists (the reference keeps its own copy)."""

    kind: str = "regie_de_quartier"
    stakeholders: list[tuple[int, str, bool]] = field(default_factory=list)  # id, category, AMO pilot
    communes: int = 0
    qpvs: int = 0
    needs: list[str] = field(default_factory=list)
    activities: int = 0
    study: dict | None = None
    markets: list[tuple[str, str]] = field(default_factory=list)  # buyer name, buyer category
    visits: list[date] = field(default_factory=list)
    approvals: list[tuple[int, str, date, int]] = field(default_factory=list)  # stakeholder, verdict, day, order
    association: tuple[str | None, date | None, str | None] | None = None
    colleges: list[str] = field(default_factory=list)
    hires: list[date] = field(default_factory=list)  # start days
    expertises: list[tuple[date, str | None, int]] = field(default_factory=list)  # day, conclusion, order
    grades: list[tuple[int, str]] = field(default_factory=list)  # expertise order, condition
    reservations: list[tuple[int, str, date | None]] = field(default_factory=list)  # order, condition, lifted

    def category_of(self, sid: int) -> str:
        return next(c for i, c, _ in self.stakeholders if i == sid)

    def standing(self, as_of: date) -> dict[int, str]:
        """Latest verdict of each stakeholder given by `as_of` (by date, then recording order)."""
        out: dict[int, str] = {}
        for sid, verdict, _day, _order in sorted(self.approvals, key=lambda a: (a[2], a[3])):
            if _day <= as_of:
                out[sid] = verdict
        return out

    def met(self, code: str, as_of: date | None = None) -> bool:
        """DOMAIN.md's guard `code`, judged on what was recorded and dated by `as_of` (None: all)."""
        day = as_of or date.max
        cats = {c for _, c, _ in self.stakeholders}
        standing = self.standing(day)
        favourable = {self.category_of(s) for s, v in standing.items() if v == "favorable"}
        study = dict(self.study or {})
        if study.get("conclusion_on") and study["conclusion_on"] > day:
            study["conclusion"] = None
        figures = [study.get(k) for k in ("charges", "market", "non_market")]
        complete = self.study is not None and None not in figures
        latest = max((x for x in self.expertises if x[0] <= day), key=lambda x: (x[0], x[2]), default=None)
        association = self.association if self.association and (self.association[1] or date.min) <= day else None
        open_reservations = latest is not None and any(
            o == latest[2] and (lifted is None or lifted > day) for o, _, lifted in self.reservations
        )
        return {
            "pilote_mouvement": any(c == "mouvement" and p for _, c, p in self.stakeholders),
            "groupe_habitants": "habitant" in cats,
            "groupe_collectivite": "collectivite" in cats,
            "groupe_bailleur": "bailleur_social" in cats,
            "territoire_defini": self.communes >= 2
            if self.kind == "regie_de_territoire"
            else self.communes > 0 and self.qpvs > 0,
            "besoins_identifies": bool(self.needs),
            "activites_prioritaires": self.activities > 0,
            "besoins_valides": bool(self.needs) and "a_etudier" not in self.needs and "confirme" in self.needs,
            "modele_economique": complete and figures[0] > 0 and figures[1] >= 0 and figures[2] >= 0,
            "budget_equilibre": complete and figures[1] + figures[2] >= figures[0],
            "locaux_identifies": bool(study.get("premises")),
            "marches_mobilisables": any(
                name and cat in ("collectivite", "bailleur_social") for name, cat in self.markets
            ),
            "visite_terrain": any(d <= day for d in self.visits),
            "conclusion_favorable": study.get("conclusion") == "favorable",
            "avis_habitants": "habitant" in favourable,
            "avis_collectivite": "collectivite" in favourable,
            "avis_bailleur": "bailleur_social" in favourable,
            "avis_partenaire": "partenaire_socio_economique" in favourable,
            "aucun_avis_defavorable": "defavorable" not in standing.values(),
            "association_declaree": association is not None and all(association),
            "gouvernance_triptyque": set(self.colleges) >= TRIPTYQUE,
            "recrutement": any(d <= day for d in self.hires),
            "reserves_levees": latest is None or latest[1] == "favorable" or not open_reservations,
            "expertise_sur_site": latest is not None,
            "grille_expertise_complete": latest is not None
            and {c for o, c in self.grades if o == latest[2]} >= set(CONDITIONS),
            "avis_expertise_favorable": latest is not None and latest[1] == "favorable",
        }[code]

    def evidence(self) -> ev.Evidence:
        """The same record in the shape the guards read."""
        s = self.study
        return ev.Evidence(
            kind=Kind(self.kind),
            stakeholders=tuple(ev.StakeholderFact(i, Category(c), p) for i, c, p in self.stakeholders),
            communes=tuple(ev.CommuneFact(f"{59000 + n}") for n in range(self.communes)),
            qpvs=tuple(f"QP059{n:03d}" for n in range(self.qpvs)),
            needs=tuple(NeedStatus(n) for n in self.needs),
            activities=self.activities,
            study=None
            if s is None
            else ev.StudyFact(
                s["charges"],
                s["market"],
                s["non_market"],
                s["premises"],
                Verdict(s["conclusion"]) if s["conclusion"] else None,
                s.get("conclusion_on"),
            ),
            markets=tuple(ev.MarketFact(n, c) for n, c in self.markets),
            site_visits=tuple(self.visits),
            approvals=tuple(
                ev.ApprovalFact(sid, Category(self.category_of(sid)), Verdict(v), d, o)
                for sid, v, d, o in self.approvals
            ),
            association=None if self.association is None else ev.AssociationFact(*self.association),
            board_colleges=frozenset(Category(c) for c in self.colleges),
            hires=tuple(self.hires),
            expertises=tuple(
                ev.ExpertiseFact(d, ("Claire Martin",), ExpertiseConclusion(c) if c else None, o)
                for d, c, o in self.expertises
            ),
            expertise_grades=tuple(ev.GradeFact(o, Condition(c)) for o, c in self.grades),
            reservations=tuple(ev.ReservationFact(o, Condition(c), lifted) for o, c, lifted in self.reservations),
        )


def defined(trigger: str, state: str) -> bool:
    if trigger in FORWARD:
        return FORWARD[trigger][0] == state
    if trigger in BACKWARD:
        return BACKWARD[trigger][0] == state
    return state in STEPS  # abandonner, suspendre, reprendre: from any step


def expected_unmet(trigger: str, suspended: bool, rec: Record, as_of: date | None = None) -> list[str]:
    codes = []
    if suspended and (trigger in FORWARD or trigger in BACKWARD or trigger == "suspendre"):
        codes.append("projet_suspendu")
    if trigger == "reprendre" and not suspended:
        codes.append("projet_actif")
    codes += [c for c in GUARDS.get(trigger, []) if not rec.met(c, as_of)]
    return codes


# --- the state machine test ---------------------------------------------------------------------
CATEGORIES = [c.value for c in Category]
REASONS = st.sampled_from([None, "", "   ", "Motif", "x" * (MAX_REASON + 1)])
START = date(2024, 1, 15)


class WorkflowAgainstReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rec = Record()
        self.state = "groupe_projet"
        self.suspended = False
        self.today = START
        self.last = START
        self.next_id = 1

    def flow(self) -> wf.Flow:
        return wf.Flow(self.state, self.suspended, self.last)

    # -- evidence changes --------------------------------------------------------------------------
    @rule(kind=st.sampled_from(["regie_de_quartier", "regie_de_territoire"]))
    def set_kind(self, kind: str) -> None:
        self.rec.kind = kind

    @rule(category=st.sampled_from(CATEGORIES), pilot=st.booleans())
    def add_stakeholder(self, category: str, pilot: bool) -> None:
        self.rec.stakeholders.append((self.next_id, category, pilot and category == "mouvement"))
        self.next_id += 1

    @precondition(lambda self: self.rec.stakeholders)
    @rule(data=st.data())
    def remove_stakeholder(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from([i for i, _, _ in self.rec.stakeholders]))
        if not any(a[0] == sid for a in self.rec.approvals):  # the app refuses to orphan approvals
            self.rec.stakeholders = [s for s in self.rec.stakeholders if s[0] != sid]

    @rule(
        communes=st.integers(0, 2),
        qpvs=st.integers(0, 2),
        activities=st.integers(0, 2),
        visits=st.lists(st.integers(-3, 3), max_size=2),
        hires=st.lists(st.integers(-3, 30), max_size=2),
    )
    def set_counts(self, communes: int, qpvs: int, activities: int, visits: list[int], hires: list[int]) -> None:
        """Visits and hires dated around today (a hire may start in the future)."""
        self.rec.communes, self.rec.qpvs, self.rec.activities = communes, qpvs, activities
        self.rec.visits = [min(self.today, self.today + timedelta(days=d)) for d in visits]
        self.rec.hires = [self.today + timedelta(days=d) for d in hires]

    @rule(needs=st.lists(st.sampled_from([n.value for n in NeedStatus]), max_size=3))
    def set_needs(self, needs: list[str]) -> None:
        self.rec.needs = needs

    @rule(
        study=st.none()
        | st.fixed_dictionaries(
            {
                "charges": st.none() | st.sampled_from([0, 400_000]),
                "market": st.none() | st.just(250_000),
                "non_market": st.none() | st.sampled_from([100_000, 150_000]),
                "premises": st.sampled_from([None, "", "12 rue de l'Alma"]),
                "conclusion": st.sampled_from([None, *[v.value for v in Verdict]]),
                "conclusion_on": st.sampled_from([None, START]),
            }
        )
    )
    def set_study(self, study: dict | None) -> None:
        self.rec.study = study

    @rule(name=st.sampled_from(["", "Vilogia"]), category=st.sampled_from([b.value for b in BuyerCategory]))
    def add_market(self, name: str, category: str) -> None:
        self.rec.markets.append((name, category))

    @rule()
    def clear_markets(self) -> None:
        self.rec.markets = []

    @precondition(lambda self: self.rec.stakeholders)
    @rule(data=st.data(), verdict=st.sampled_from([v.value for v in Verdict]), days_ago=st.integers(0, 3))
    def add_approval(self, data: st.DataObject, verdict: str, days_ago: int) -> None:
        sid = data.draw(st.sampled_from([i for i, _, _ in self.rec.stakeholders]))
        self.rec.approvals.append((sid, verdict, self.today - timedelta(days=days_ago), self.next_id))
        self.next_id += 1

    @rule(
        assoc=st.none()
        | st.tuples(
            st.sampled_from([None, "Association"]),
            st.sampled_from([None, START]),
            st.sampled_from([None, "W595012345"]),
        )
    )
    def set_association(self, assoc: tuple | None) -> None:
        self.rec.association = assoc

    @rule(colleges=st.lists(st.sampled_from(sorted(TRIPTYQUE)), max_size=4))
    def set_board(self, colleges: list[str]) -> None:
        self.rec.colleges = colleges

    @rule(conclusion=st.sampled_from([None, *[c.value for c in ExpertiseConclusion]]), days_ago=st.integers(0, 3))
    def add_expertise(self, conclusion: str | None, days_ago: int) -> None:
        self.rec.expertises.append((self.today - timedelta(days=days_ago), conclusion, self.next_id))
        self.next_id += 1

    @precondition(lambda self: self.rec.expertises)
    @rule(conditions=st.lists(st.sampled_from(CONDITIONS), max_size=6))
    def grade_latest_expertise(self, conditions: list[str]) -> None:
        order = self.rec.expertises[-1][2]
        self.rec.grades += [(order, c) for c in conditions]

    @precondition(lambda self: self.rec.expertises)
    @rule(condition=st.sampled_from(CONDITIONS))
    def add_reservation(self, condition: str) -> None:
        self.rec.reservations.append((self.rec.expertises[-1][2], condition, None))

    @precondition(lambda self: self.rec.reservations)
    @rule(data=st.data(), days_ago=st.integers(0, 3))
    def lift_reservation(self, data: st.DataObject, days_ago: int) -> None:
        i = data.draw(st.integers(0, len(self.rec.reservations) - 1))
        order, condition, _ = self.rec.reservations[i]
        self.rec.reservations[i] = (order, condition, self.today - timedelta(days=days_ago))

    @rule()
    def complete_current_step(self) -> None:
        """Record what DOMAIN.md asks before leaving the current step (so that runs go deep)."""
        r = self.rec
        if self.state == "groupe_projet":
            for category, pilot in (
                ("mouvement", True),
                ("habitant", False),
                ("collectivite", False),
                ("bailleur_social", False),
            ):
                r.stakeholders.append((self.next_id, category, pilot))
                self.next_id += 1
        elif self.state == "contours":
            r.communes, r.qpvs, r.activities, r.needs = 2, 1, 1, ["a_etudier"]
        elif self.state == "faisabilite":
            r.needs = ["confirme", "ecarte"][: max(1, len(r.needs))]
            r.study = {
                "charges": 1,
                "market": 1,
                "non_market": 1,
                "premises": "ici",
                "conclusion": "favorable",
                "conclusion_on": START,
            }
            r.markets.append(("Vilogia", "bailleur_social"))
            r.visits = [START]
        elif self.state == "validation":
            for category in ("habitant", "collectivite", "bailleur_social", "partenaire_socio_economique"):
                r.stakeholders.append((self.next_id, category, False))
                r.approvals.append((self.next_id, "favorable", self.today, self.next_id + 1))
                self.next_id += 2
        elif self.state == "prefiguration":
            r.association, r.colleges, r.hires = ("Association", START, "W595012345"), sorted(TRIPTYQUE), [START]
            r.reservations = [(o, c, lifted or self.today) for o, c, lifted in r.reservations]
        elif self.state == "expertise":
            r.expertises.append((self.today, "favorable", self.next_id))
            r.grades += [(self.next_id, c) for c in CONDITIONS]
            self.next_id += 1

    @rule(data=st.data())
    def fire_defined(self, data: st.DataObject) -> None:
        """A trigger the machine defines from here, with a reason and today's date."""
        choices = [t for t in TRIGGERS if defined(t, self.state)] or TRIGGERS
        choices += [t for t in FORWARD if defined(t, self.state)] * 6  # mostly forward, so runs go deep
        self.fire(data.draw(st.sampled_from(choices)), "Motif", "default")

    @rule()
    def advance(self) -> None:
        """Complete the step, then fire its forward trigger (resuming first if paused)."""
        if self.suspended:
            self.fire("reprendre", "Motif", "default")
        self.complete_current_step()
        forward = next((t for t, (src, _) in FORWARD.items() if src == self.state), "definir_contours")
        self.fire(forward, None, "default")

    @rule(reason=st.sampled_from(["Motif", "Motif", "Motif", None]))
    def go_back(self, reason: str | None) -> None:
        back = next((t for t, (src, _) in BACKWARD.items() if src == self.state), None)
        if back is not None:
            self.fire(back, reason, "default")

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)

    # -- the workflow itself ---------------------------------------------------------------------
    @rule(
        trigger=st.sampled_from(TRIGGERS),
        reason=REASONS,
        when=st.sampled_from(["default", "today", "last", "before_last", "future"]),
    )
    def fire(self, trigger: str, reason: str | None, when: str) -> None:
        effective = {
            "default": None,
            "today": self.today,
            "last": self.last,
            "before_last": self.last - timedelta(days=1),
            "future": self.today + timedelta(days=1),
        }[when]
        # What the reference expects, in DOMAIN.md's order: closed, not from here, guards, reason, date.
        # Guards are judged as of the effective date (as of today when that date is impossible).
        text = (reason or "").strip()
        day = effective or self.today
        as_of = day if self.last <= day <= self.today else self.today
        if self.state in TERMINALS:
            expected: type[Exception] | None = ProjectClosed
        elif not defined(trigger, self.state):
            expected = TriggerNotAllowed
        elif expected_unmet(trigger, self.suspended, self.rec, as_of):
            expected = GuardsUnmet
        elif len(text) > MAX_REASON or (trigger in NEEDS_REASON and not text):
            expected = ReasonRequired
        elif (effective or self.today) > self.today or (effective or self.today) < self.last:
            expected = EffectiveDateInvalid
        else:
            expected = None
        try:
            out = wf.fire(
                self.flow(), trigger, self.rec.evidence(), today=self.today, effective_on=effective, reason=reason
            )
        except (ProjectClosed, TriggerNotAllowed, GuardsUnmet, ReasonRequired, EffectiveDateInvalid) as exc:
            assert type(exc) is expected, f"{trigger} from {self.state}: got {type(exc).__name__}, expected {expected}"
            if isinstance(exc, GuardsUnmet):
                assert [u.code for u in exc.unmet] == expected_unmet(trigger, self.suspended, self.rec, as_of)
            return
        assert expected is None, f"{trigger} from {self.state} fired, expected {expected.__name__}"
        # The reference's move.
        new_state, new_suspended = self.state, self.suspended
        if trigger in FORWARD:
            new_state = FORWARD[trigger][1]
        elif trigger in BACKWARD:
            new_state = BACKWARD[trigger][1]
        elif trigger == "abandonner":
            new_state, new_suspended = "abandonnee", False
        else:
            new_suspended = trigger == "suspendre"
        assert (out.from_state.value, out.to_state.value, out.suspended) == (self.state, new_state, new_suspended)
        assert out.effective_on == (effective or self.today)
        assert out.reason == (text or None)
        self.state, self.suspended, self.last = new_state, new_suspended, out.effective_on
        event(f"fired {trigger}")

    @rule(trigger=st.sampled_from(TRIGGERS))
    def explain(self, trigger: str) -> None:
        try:
            unmet = wf.explain(trigger, self.flow(), self.rec.evidence())
        except ProjectClosed:
            assert self.state in TERMINALS
            return
        except TriggerNotAllowed:
            assert self.state not in TERMINALS and not defined(trigger, self.state)
            return
        assert defined(trigger, self.state)
        assert [u.code for u in unmet] == expected_unmet(trigger, self.suspended, self.rec)
        assert all(u.message for u in unmet)

    @rule()
    def unknown_trigger(self) -> None:
        try:
            wf.fire(self.flow(), "sauter_les_etapes", self.rec.evidence(), today=self.today)
        except UnknownTrigger:
            return
        raise AssertionError("an unknown trigger fired")

    @invariant()
    def available_matches_reference(self) -> None:
        views = wf.available(self.flow(), self.rec.evidence())
        if self.state in TERMINALS:
            assert views == []
            return
        assert {v.trigger.value for v in views} == {t for t in TRIGGERS if defined(t, self.state)}
        for v in views:
            codes = expected_unmet(v.trigger.value, self.suspended, self.rec)
            assert v.allowed == (not codes)
            assert [u.code for u in v.unmet] == codes
            assert v.reason_required == (v.trigger.value in NEEDS_REASON)

    @invariant()
    def dates_never_run_ahead(self) -> None:
        assert START <= self.last <= self.today


TestWorkflowAgainstReference = WorkflowAgainstReference.TestCase
TestWorkflowAgainstReference.settings = settings(
    max_examples=int(os.environ.get("REGIEFLOW_STATEFUL_EXAMPLES", "100")),
    stateful_step_count=50,
    deadline=None,
)
