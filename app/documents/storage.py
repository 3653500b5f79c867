"""Where document files live, behind one small interface: a local directory (default) or an
S3-compatible object store, chosen by REGIEFLOW_DOCUMENTS_STORAGE.

A file is written from a stream, chunk by chunk (never whole in memory), and its size and SHA-256 are
computed on the way. The local directory writes to a temporary file in `<documents_dir>/.tmp` and
renames it into place once complete (a cut write leaves no file under a key); S3 makes an object
visible only when its upload completes. Keys are opaque: made here, stored in the database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from app.core.settings import Settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


class Storage(Protocol):
    def put(self, stream: IO[bytes]) -> Stored: ...

    def open(self, key: str) -> Iterator[bytes]: ...

    def exists(self, key: str) -> bool: ...

    def verify(self, key: str, size: int, sha256: str) -> str | None: ...

    def delete(self, key: str) -> None: ...


def _new_key() -> str:
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name}"


_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")


def _compare(chunks: Iterator[bytes], size: int, sha256: str) -> str | None:
    digest, seen = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        seen += len(chunk)
    if seen != size:
        return f"size {seen} bytes, {size} recorded"
    if digest.hexdigest() != sha256:
        return "SHA-256 differs from the one recorded"
    return None


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def put(self, stream: IO[bytes]) -> Stored:
        key = _new_key()
        final = self._path(key)
        spool = self.root / ".tmp"
        spool.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=spool, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)  # atomic: the key names a whole file or nothing
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # the rename itself survives a crash
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return Stored(key, size, digest.hexdigest())

    def open(self, key: str) -> Iterator[bytes]:
        handle = self._path(key).open("rb")  # FileNotFoundError now, not at the first chunk

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return chunks()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def verify(self, key: str, size: int, sha256: str) -> str | None:
        try:
            chunks = self.open(key)
        except FileNotFoundError:
            return "file missing"
        return _compare(chunks, size, sha256)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


class _Hashing:
    """A read-only stream that hashes and counts what is read through it (the S3 upload reads it once,
    in order: the transfer runs without threads)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


class S3Storage:
    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        secret = settings.documents_s3_secret_key
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.documents_s3_endpoint,
            region_name=settings.documents_s3_region,
            aws_access_key_id=settings.documents_s3_access_key,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        self.bucket = settings.documents_s3_bucket
        self.prefix = settings.documents_s3_prefix

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _object(self, key: str) -> str:
        if not _KEY.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.prefix + key

    def put(self, stream: IO[bytes]) -> Stored:
        from boto3.s3.transfer import TransferConfig

        key = _new_key()
        reader = _Hashing(stream)
        config = TransferConfig(use_threads=False, multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK)
        self.client.upload_fileobj(reader, self.bucket, self._object(key), Config=config)
        return Stored(key, reader.size, reader.digest.hexdigest())

    def open(self, key: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(key) from None
            raise

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as err:
            if _missing(err):
                return False
            raise
        return True

    def verify(self, key: str, size: int, sha256: str) -> str | None:
        try:
            chunks = self.open(key)
        except FileNotFoundError:
            return "object missing"
        return _compare(chunks, size, sha256)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))


def _missing(err: Any) -> bool:
    code = str(err.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


_S3_CLIENTS: dict[tuple[Any, ...], S3Storage] = {}


def storage_for(settings: Settings) -> Storage:
    """The storage the settings choose (an S3 client is made once per configuration)."""
    if settings.documents_storage == "s3":
        secret = settings.documents_s3_secret_key
        key = (
            settings.documents_s3_endpoint,
            settings.documents_s3_bucket,
            settings.documents_s3_region,
            settings.documents_s3_access_key,
            secret.get_secret_value() if secret is not None else None,
            settings.documents_s3_prefix,
        )
        if key not in _S3_CLIENTS:
            _S3_CLIENTS[key] = S3Storage(settings)
        return _S3_CLIENTS[key]
    return LocalStorage(settings.documents_dir)
