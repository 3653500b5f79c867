"""app/documents: documents of a project, their storages (a local directory; SeaweedFS for S3), pages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]

MAX_FILE = 256 * 1024
MAX_PROJECT = 1024 * 1024


@pytest.fixture
def documents_dir(tmp_path: Path) -> Path:
    return tmp_path / "documents"


@pytest.fixture
def settings(database_url: str, documents_dir: Path) -> Any:
    from app.core.settings import Settings
    from tests.fixtures.application import MAX_BODY_BYTES

    return Settings(
        database_url=database_url,
        max_body_bytes=MAX_BODY_BYTES,
        documents_dir=documents_dir,
        documents_max_file_bytes=MAX_FILE,
        documents_max_project_bytes=MAX_PROJECT,
    )


# --- sample files of every accepted family, made here (no binary fixture files) ---------------------
def pdf_bytes(text: str = "Statuts") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (20, 30, 200)).save(out, "JPEG")
    return out.getvalue()


def webp_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (20, 200, 30)).save(out, "WEBP")
    return out.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    out = io.BytesIO()
    wb = Workbook()
    wb.active["A1"] = "Budget"  # type: ignore[index]
    wb.save(out)
    return out.getvalue()


def odt_bytes() -> bytes:
    """A minimal OpenDocument text: the `mimetype` entry first and stored, as the format requires."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        z.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return out.getvalue()


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


SAMPLES = {
    "application/pdf": pdf_bytes,
    "image/png": png_bytes,
    "image/jpeg": jpeg_bytes,
    "image/webp": webp_bytes,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": xlsx_bytes,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": docx_bytes,
    "application/vnd.oasis.opendocument.text": odt_bytes,
    "text/plain": lambda: "Compte rendu de la réunion du 12 mars : avis favorable.\n".encode(),
}


def stored_files(root: Path) -> list[Path]:
    """Every file under the storage root, temporary ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
