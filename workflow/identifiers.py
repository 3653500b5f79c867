"""French identifiers the evidence carries: INSEE commune codes, QPV codes, RNA and SIRET numbers."""

from __future__ import annotations

import re

from stdnum.fr import siret as _siret

from workflow.errors import InvalidInput

INSEE_RE = re.compile(r"^(?:[0-9]{5}|2[AB][0-9]{3})$")  # ASCII digits (\d would take Arabic-Indic ones)
# DOMAIN.md: "QP" + the département's 3 characters + 3 digits (QP059036, QP02A001); the 2024 generation of
# QPV (décret 2023-1314) is numbered "QN" + 6 characters (QN09301M), accepted too: real codes stay valid.
QPV_RE = re.compile(r"^(?:QP[0-9]{2}[0-9AB][0-9]{3}|QN[0-9A-Z]{6})$")
RNA_RE = re.compile(r"^W[0-9A-Z]{9}$")  # digits or capitals: Corsica's W2A…/W2B…


def insee_code(value: str) -> str:
    v = value.strip().upper()
    if not INSEE_RE.match(v):
        raise InvalidInput("Code INSEE invalide : 5 chiffres (ou 2A/2B suivis de 3 chiffres en Corse).", "insee_code")
    return v


def qpv_code(value: str) -> str:
    v = value.strip().upper()
    if not QPV_RE.match(v):
        raise InvalidInput(
            "Code QPV invalide : « QP » suivi du département (3 caractères) et de 3 chiffres (ex. QP059036), "
            "ou un code « QN » de 2024 (ex. QN09301M).",
            "code",
        )
    return v


def rna(value: str) -> str:
    v = value.strip()
    v = v.upper() if v.isascii() else v  # no Unicode case mapping: "ﬀ".upper() is "FF"
    if not RNA_RE.match(v):
        raise InvalidInput(
            "Numéro RNA invalide : la lettre W suivie de 9 chiffres ou lettres majuscules "
            "(ex. W595012345, W2A1000123).",
            "rna",
        )
    return v


def siret(value: str) -> str:
    v = re.sub(r"\s", "", value)
    if not _siret.is_valid(v):
        raise InvalidInput("Numéro SIRET invalide : 14 chiffres dont la clé de contrôle (Luhn) est juste.", "siret")
    return v
