"""The expertise dossier: one ZIP with a PDF summary of the project (its record, the steps with their
dates, every piece of evidence — the success-conditions grid included, its rows being evidence kinds —
and the history) and the current version of every document, with an index (in the PDF and as
`index.csv`).

The PDF is made by fpdf2 with a Unicode TrueType font found on the machine (DejaVu Sans, Debian's
fonts-dejavu-core); without one it falls back to a built-in font, whose Latin-1 still covers French.
Nothing is downloaded at run time. The ZIP is written to a temporary file (in memory up to 8 MiB,
then on disk), each document copied from the storage chunk by chunk."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.core.unit_of_work import UnitOfWork
from app.documents.kinds import ALLOWED_TYPES, KINDS
from app.documents.models import Document
from app.documents.repository import DocumentRepository
from app.documents.storage import CHUNK, Storage
from app.evidence.registry import KINDS as EVIDENCE_KINDS
from app.evidence.registry import summary_of
from app.projects.service import get_project
from workflow.vocabulary import STATE_LABELS, TRIGGER_LABELS, State, Trigger

if TYPE_CHECKING:  # fpdf2 is imported when a dossier is made, not at the app's start (cold start)
    from app.documents.pdf import Pdf as _Pdf

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
COMPRESSED = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/avif"}
EVENT_LABELS = {
    "project.created": "Projet créé",
    "project.updated": "Fiche modifiée",
    "project.transitioned": "Transition",
    "plan.changed": "Planning révisé",
    "evidence.created": "Élément ajouté",
    "evidence.updated": "Élément modifié",
    "evidence.deleted": "Élément retiré",
    "deadline.status_changed": "Échéances",
    "document.created": "Pièce déposée",
    "document.version_added": "Nouvelle version d'une pièce",
    "document.updated": "Pièce renommée",
    "document.deleted": "Pièce supprimée",
}


def _font_files() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def _day(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else "—"


def _when(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def _state(value: str | None) -> str:
    try:
        return STATE_LABELS[State(value)] if value else "—"
    except ValueError:
        return str(value)


def _trigger(value: str | None) -> str:
    try:
        return TRIGGER_LABELS[Trigger(value)] if value else ""
    except ValueError:
        return str(value)


def _safe(text: str, limit: int = 80) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:limit] or "piece"


def archive_name(position: int, doc: Document) -> str:
    return f"pieces/{position:02d}-{_safe(doc.title)}.{ALLOWED_TYPES.get(doc.current.content_type, 'bin')}"


def _steps(pdf: _Pdf, p: Any, events: list[Any]) -> None:
    pdf.heading("Étapes franchies")
    transitions = [e for e in events if e.type == "project.transitioned"]
    if not transitions:
        pdf.line_text(f"Aucune transition : à l'étape « {_state(p.state)} » depuis le {_day(p.started_on)}.")
    for e in transitions:
        pdf.line_text(
            f"{_day(e.effective_on)} — {_trigger(e.trigger)} : de « {_state(e.from_state)} » à « {_state(e.to_state)} »"
            + (f" ({e.reason})" if e.reason else "")
        )


def _evidence(pdf: _Pdf, p: Any) -> None:
    names = {s.id: s.name for s in p.stakeholders}
    pdf.heading("Éléments du dossier")
    for kind in EVIDENCE_KINDS.values():
        related = getattr(p, kind.relation, None)
        rows = ([related] if related is not None else []) if kind.singleton else list(related or [])
        if not rows:
            continue
        pdf.set_font(pdf.family_name, "B", 10)
        pdf.multi_cell(0, 6, pdf.text_of(kind.label), new_x="LMARGIN", new_y="NEXT")
        for row in rows:
            try:
                line = summary_of(kind, row, names)
            except Exception:  # a summary is for display only
                line = f"n° {getattr(row, 'id', '')}"
            pdf.line_text(f"• {line}")


def _index(pdf: _Pdf, docs: list[Document]) -> list[list[Any]]:
    pdf.heading("Index des pièces")
    if not docs:
        pdf.line_text("Aucune pièce déposée.")
    rows = []
    for position, doc in enumerate(docs, start=1):
        v = doc.current
        name = archive_name(position, doc)
        rows.append([name, doc.title, KINDS[doc.kind], v.number, v.filename, v.content_type, v.size, v.sha256])
        pdf.line_text(
            f"{position}. {doc.title} — {KINDS[doc.kind]}, version {v.number} du {_day(v.uploaded_at)}, "
            f"{v.size} octets ; fichier {name} ; SHA-256 {v.sha256}"
        )
    return rows


def _history(pdf: _Pdf, events: list[Any], tz: ZoneInfo) -> None:
    pdf.heading("Historique")
    for e in events:
        label = EVENT_LABELS.get(e.type, e.type)
        detail = ""
        data = e.data if isinstance(e.data, dict) else {}
        if e.type == "project.transitioned":
            detail = f" : {_trigger(e.trigger)}"
        elif e.type.startswith("document."):
            detail = f" : {data.get('title', '')}"
        elif e.type.startswith("evidence.") and str(data.get("kind", "")) in EVIDENCE_KINDS:
            detail = f" : {EVIDENCE_KINDS[str(data['kind'])].label}"
        pdf.line_text(f"{e.seq}. {_when(e.recorded_at, tz)} — {label}{detail} ({e.actor or '—'})")


def build(uow: UnitOfWork, storage: Storage, project_id: Any, *, tz: ZoneInfo, now: datetime) -> IO[bytes]:
    """The dossier as a ZIP in a temporary file, positioned at its start (the caller closes it)."""
    p = get_project(uow, project_id, with_evidence=True)
    docs = DocumentRepository(uow.session).of_project(p.id)
    events = uow.events.of_project(p.id)
    from app.documents.pdf import Pdf

    pdf = Pdf(f"Dossier d'expertise — {p.name}", _font_files())
    pdf.add_page()
    pdf.heading(f"Dossier d'expertise — {p.name}", 16)
    pdf.line_text(f"Établi le {_when(now, tz)} par regieflow.")
    pdf.heading("Fiche du projet")
    for label, value in (
        ("Étape en cours", _state(p.state)),
        ("Région", p.region),
        ("Département", p.departement or "—"),
        ("Démarrage du groupe projet", _day(p.started_on)),
        ("Horizon", _day(p.horizon_on)),
        ("Label projeté", _day(p.projected_label_on)),
    ):
        pdf.line_text(f"{label} : {value}")
    _steps(pdf, p, events)
    _evidence(pdf, p)
    index_rows = _index(pdf, docs)
    _history(pdf, events, tz)
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)  # noqa: SIM115 - returned open
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("synthese.pdf", bytes(pdf.output()), compress_type=zipfile.ZIP_STORED)
            table = io.StringIO()
            writer = csv.writer(table)
            writer.writerow(["fichier", "titre", "nature", "version", "nom d'origine", "type", "octets", "sha256"])
            writer.writerows(index_rows)
            archive.writestr("index.csv", table.getvalue().encode("utf-8-sig"))
            for position, doc in enumerate(docs, start=1):
                v = doc.current
                info = zipfile.ZipInfo(archive_name(position, doc), date_time=v.uploaded_at.timetuple()[:6])
                info.compress_type = zipfile.ZIP_STORED if v.content_type in COMPRESSED else zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=v.size > 2**31) as target:
                    for chunk in storage.open(v.storage_key):
                        target.write(chunk)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


def chunks_of(file: IO[bytes]) -> Iterator[bytes]:
    """Stream a temporary file out, then close it."""
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def dossier_filename(name: str, now: datetime) -> str:
    return f"dossier-expertise-{_safe(name, 60)}-{now.strftime('%Y%m%d')}.zip"
