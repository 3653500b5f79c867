"""Guards: small named predicates over an Evidence snapshot, each with a stable code and a
French message telling the user what to do. The machine holds them as its transition conditions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from workflow.evidence import Evidence
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    Condition,
    ExpertiseConclusion,
    Kind,
    NeedStatus,
    Verdict,
)

if TYPE_CHECKING:
    from transitions import EventData


@dataclass(frozen=True, slots=True)
class Unmet:
    code: str
    message: str


@dataclass(frozen=True)
class GuardContext:
    """What a condition sees when the machine evaluates it."""

    suspended: bool
    evidence: Evidence | None
    # The transition's effective date: dated evidence counts only if dated on or before it (DOMAIN.md,
    # "Guards are judged as of the effective date"). None: everything recorded counts.
    as_of: date | None = None


@dataclass(frozen=True)
class Guard:
    code: str
    message: str
    check: Callable[[GuardContext], bool]
    # The Evidence fields the check reads (besides `kind`, always present). A caller may load only
    # these (see Evidence.loaded); a guard never sees a field that was not loaded (LookupError).
    reads: tuple[str, ...] = ()

    def unmet(self, ctx: GuardContext | None = None) -> Unmet:
        """The refusal; as of a date, it names the evidence this guard reads that is too recent."""
        if ctx is None or ctx.as_of is None or ctx.evidence is None or not self.reads:
            return Unmet(self.code, self.message)
        late = ctx.evidence.too_recent(ctx.as_of, self.reads)
        if not late:
            return Unmet(self.code, self.message)
        day = ctx.as_of.strftime("%d/%m/%Y")
        return Unmet(self.code, f"{self.message} Trop récent pour la date d'effet du {day} : {', '.join(late)}.")

    def holds(self, ctx: GuardContext) -> bool:
        e = ctx.evidence
        if self.reads and e is not None and e.loaded is not None and not e.loaded.issuperset(self.reads):
            missing = ", ".join(sorted(set(self.reads) - e.loaded))
            raise LookupError(f"guard {self.code} reads evidence that was not loaded: {missing}")
        return self.check(ctx)

    # `transitions` calls conditions with the EventData when send_event=True.
    def __call__(self, event_data: EventData) -> bool:
        context: GuardContext = event_data.kwargs["context"]
        return self.holds(context)


def _ev(check: Callable[[Evidence], bool]) -> Callable[[GuardContext], bool]:
    def run(ctx: GuardContext) -> bool:
        if ctx.evidence is None:
            raise LookupError("this guard needs the project's evidence")
        return check(ctx.evidence.as_of(ctx.as_of))

    return run


def _has_member(category: Category) -> Callable[[Evidence], bool]:
    return lambda e: any(s.category == category for s in e.stakeholders)


def _has_favourable(category: Category) -> Callable[[Evidence], bool]:
    return lambda e: any(
        a.category == category and a.verdict == Verdict.FAVORABLE for a in e.standing_approvals().values()
    )


def _territory(e: Evidence) -> bool:
    """DOMAIN.md, `territoire_defini`: a Régie de Quartier needs a commune and a QPV, a Régie de
    Territoire at least two communes; every commune is a real one of the official geographic code."""
    if not all(c.official for c in e.communes):
        return False
    if e.kind == Kind.REGIE_DE_TERRITOIRE:
        return len(e.communes) >= 2
    return bool(e.communes) and bool(e.qpvs)


def _needs_settled(e: Evidence) -> bool:
    return bool(e.needs) and NeedStatus.A_ETUDIER not in e.needs and NeedStatus.CONFIRME in e.needs


def _reservations_lifted(e: Evidence) -> bool:
    """Every reservation of the latest expertise is lifted, when it concluded with reservations or
    unfavourably (the project came back after `ajourner_label`). No expertise yet: nothing to lift."""
    latest = e.latest_expertise()
    if latest is None or latest.conclusion == ExpertiseConclusion.FAVORABLE:
        return True
    return all(r.lifted_on is not None for r in e.reservations if r.expertise == latest.order)


def _grid_complete(e: Evidence) -> bool:
    latest = e.latest_expertise()
    if latest is None:
        return False
    return {gr.condition for gr in e.expertise_grades if gr.expertise == latest.order} >= set(Condition)


def _association(e: Evidence) -> bool:
    a = e.association
    return a is not None and bool(a.name) and a.declared_on is not None and bool(a.rna)


_BUYERS = {BuyerCategory.COLLECTIVITE.value, BuyerCategory.BAILLEUR_SOCIAL.value}
_TRIPTYQUE = {Category.HABITANT, Category.COLLECTIVITE, Category.BAILLEUR_SOCIAL}

# --- state guards (not evidence) -------------------------------------------------------------
NOT_SUSPENDED = Guard(
    "projet_suspendu",
    "Le projet est suspendu : reprenez-le avant de le faire avancer ou de le suspendre à nouveau.",
    lambda ctx: not ctx.suspended,
)
IS_SUSPENDED = Guard(
    "projet_actif", "Le projet n'est pas suspendu : il n'y a rien à reprendre.", lambda ctx: ctx.suspended
)

# --- evidence guards ----------------------------------------------------------------------------
PILOTE_MOUVEMENT = Guard(
    "pilote_mouvement",
    "Désignez un consultant du Mouvement des Régies comme pilote (AMO) du groupe projet.",
    _ev(lambda e: any(s.category == Category.MOUVEMENT and s.is_amo_pilot for s in e.stakeholders)),
    reads=("stakeholders",),
)
GROUPE_HABITANTS = Guard(
    "groupe_habitants",
    "Ajoutez au moins un habitant au groupe projet.",
    _ev(_has_member(Category.HABITANT)),
    reads=("stakeholders",),
)
GROUPE_COLLECTIVITE = Guard(
    "groupe_collectivite",
    "Ajoutez au moins une collectivité au groupe projet.",
    _ev(_has_member(Category.COLLECTIVITE)),
    reads=("stakeholders",),
)
GROUPE_BAILLEUR = Guard(
    "groupe_bailleur",
    "Ajoutez au moins un bailleur social au groupe projet.",
    _ev(_has_member(Category.BAILLEUR_SOCIAL)),
    reads=("stakeholders",),
)


def _territory_missing(e: Evidence) -> list[str]:
    """What `territoire_defini` still needs, in French, for this project's kind."""
    missing = []
    unknown = [c.code for c in e.communes if not c.official]
    if unknown:
        missing.append(
            f"retirez ou corrigez {', '.join(unknown)}, qui "
            + ("ne sont pas des communes" if len(unknown) > 1 else "n'est pas une commune")
            + " du code officiel géographique"
        )
    if e.kind == Kind.REGIE_DE_TERRITOIRE:
        if len(e.communes) < 2:
            have = f"{len(e.communes)} enregistrée" if e.communes else "aucune enregistrée"
            missing.append(f"une Régie de Territoire agit sur plusieurs communes : au moins deux ({have})")
    else:
        if not e.communes:
            missing.append("au moins une commune (code INSEE)")
        if not e.qpvs:
            missing.append("au moins un quartier prioritaire (QPV) pour une Régie de Quartier")
    return missing


@dataclass(frozen=True)
class _TerritoryGuard(Guard):
    """`territoire_defini`, whose refusal names exactly what is missing for the project's kind."""

    def unmet(self, ctx: GuardContext | None = None) -> Unmet:
        missing = _territory_missing(ctx.evidence) if ctx is not None and ctx.evidence is not None else []
        message = "Définissez le territoire : " + " ; ".join(missing) + "." if missing else self.message
        return Unmet(self.code, message)  # communes and QPVs carry no date: nothing is ever "too recent"


TERRITOIRE_DEFINI = _TerritoryGuard(
    "territoire_defini",
    "Définissez le territoire : une Régie de Quartier a besoin d'au moins une commune et d'au moins un "
    "quartier prioritaire (QPV), une Régie de Territoire d'au moins deux communes ; chaque commune doit être "
    "une commune réelle du code officiel géographique (code INSEE).",
    _ev(_territory),
    reads=("communes", "qpvs"),
)
BESOINS_IDENTIFIES = Guard(
    "besoins_identifies",
    "Recensez au moins un besoin du territoire.",
    _ev(lambda e: bool(e.needs)),
    reads=("needs",),
)
ACTIVITES_PRIORITAIRES = Guard(
    "activites_prioritaires",
    "Indiquez au moins une activité prioritaire.",
    _ev(lambda e: e.activities > 0),
    reads=("activities",),
)
BESOINS_VALIDES = Guard(
    "besoins_valides",
    "L'étude de faisabilité doit confirmer ou écarter chacun des besoins recensés, et en confirmer au moins un.",
    _ev(_needs_settled),
    reads=("needs",),
)
MODELE_ECONOMIQUE = Guard(
    "modele_economique",
    "Renseignez le modèle économique : budget annuel prévisionnel avec des charges supérieures à zéro et des "
    "recettes marchandes et non marchandes (zéro ou plus).",
    _ev(lambda e: e.study is not None and e.study.has_economic_model),
    reads=("study",),
)
BUDGET_EQUILIBRE = Guard(
    "budget_equilibre",
    "Le budget prévisionnel doit être équilibré : les recettes marchandes et non marchandes doivent couvrir "
    "les charges annuelles (pérennité économique).",
    _ev(lambda e: e.study is not None and e.study.balanced),
    reads=("study",),
)
LOCAUX_IDENTIFIES = Guard(
    "locaux_identifies",
    "Indiquez l'adresse des locaux identifiés dans l'étude de faisabilité.",
    _ev(lambda e: e.study is not None and bool(e.study.premises_address)),
    reads=("study",),
)
MARCHES_MOBILISABLES = Guard(
    "marches_mobilisables",
    "Recensez au moins une activité ou un marché qu'une collectivité ou un bailleur social peut "
    "commander, avec son acheteur.",
    _ev(lambda e: any(m.buyer_name and m.buyer_category in _BUYERS for m in e.markets)),
    reads=("markets",),
)
VISITE_TERRAIN = Guard(
    "visite_terrain",
    "Enregistrez au moins une visite d'une régie existante (laquelle, quand).",
    _ev(lambda e: bool(e.site_visits)),
    reads=("site_visits",),
)
CONCLUSION_FAVORABLE = Guard(
    "conclusion_favorable",
    "La conclusion de l'étude de faisabilité doit être favorable.",
    _ev(lambda e: e.study is not None and e.study.conclusion == Verdict.FAVORABLE),
    reads=("study",),
)
AVIS_HABITANTS = Guard(
    "avis_habitants",
    "Recueillez l'avis favorable d'au moins un habitant.",
    _ev(_has_favourable(Category.HABITANT)),
    reads=("approvals",),
)
AVIS_COLLECTIVITE = Guard(
    "avis_collectivite",
    "Recueillez l'avis favorable d'au moins une collectivité.",
    _ev(_has_favourable(Category.COLLECTIVITE)),
    reads=("approvals",),
)
AVIS_BAILLEUR = Guard(
    "avis_bailleur",
    "Recueillez l'avis favorable d'au moins un bailleur social.",
    _ev(_has_favourable(Category.BAILLEUR_SOCIAL)),
    reads=("approvals",),
)
AVIS_PARTENAIRE = Guard(
    "avis_partenaire",
    "Recueillez l'avis favorable d'au moins un partenaire socio-économique.",
    _ev(_has_favourable(Category.PARTENAIRE_SOCIO_ECONOMIQUE)),
    reads=("approvals",),
)
AUCUN_AVIS_DEFAVORABLE = Guard(
    "aucun_avis_defavorable",
    "Un avis défavorable est maintenu : obtenez un nouvel avis favorable de la même partie prenante, "
    "ou retravaillez le projet.",
    _ev(lambda e: all(a.verdict != Verdict.DEFAVORABLE for a in e.standing_approvals().values())),
    reads=("approvals",),
)
ASSOCIATION_DECLAREE = Guard(
    "association_declaree",
    "Déclarez l'association de préfiguration : nom, date de déclaration et numéro RNA (W suivi de 9 chiffres "
    "ou lettres majuscules).",
    _ev(_association),
    reads=("association",),
)
GOUVERNANCE_TRIPTYQUE = Guard(
    "gouvernance_triptyque",
    "Le conseil d'administration de l'association doit réunir les trois collèges : habitants, "
    "collectivités et bailleurs sociaux.",
    _ev(lambda e: set(e.board_colleges) >= _TRIPTYQUE),
    reads=("board_colleges",),
)
RECRUTEMENT = Guard(
    "recrutement",
    "Enregistrez le recrutement d'une personne chargée de lancer le projet (nom, fonction, date d'entrée).",
    _ev(lambda e: bool(e.hires)),
    reads=("hires",),
)
RESERVES_LEVEES = Guard(
    "reserves_levees",
    "Chaque réserve de la dernière expertise doit être levée par un consultant du Mouvement des Régies "
    "(date, manière) avant de demander une nouvelle expertise.",
    _ev(_reservations_lifted),
    reads=("expertises", "reservations"),
)
EXPERTISE_SUR_SITE = Guard(
    "expertise_sur_site",
    "Le Mouvement des Régies doit enregistrer son expertise sur site (date, experts).",
    _ev(lambda e: e.latest_expertise() is not None),
    reads=("expertises",),
)
GRILLE_EXPERTISE_COMPLETE = Guard(
    "grille_expertise_complete",
    "L'expertise sur site doit évaluer chacune des cinq conditions de réussite : ancrage territorial, services "
    "nouveaux, pérennité économique, coopération et autonomie, implication des habitants.",
    _ev(_grid_complete),
    reads=("expertises", "expertise_grades"),
)
AVIS_EXPERTISE_FAVORABLE = Guard(
    "avis_expertise_favorable",
    "La conclusion de la dernière expertise sur site doit être favorable.",
    _ev(lambda e: (x := e.latest_expertise()) is not None and x.conclusion == ExpertiseConclusion.FAVORABLE),
    reads=("expertises",),
)
