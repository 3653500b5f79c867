"""What a file is, from its content: magic numbers (the `filetype` library) for PDF, office documents
and images, and UTF-8 without NUL for plain text. Never from the file's name or the client's
Content-Type, which the caller chooses."""

from __future__ import annotations

import codecs

import filetype

from app.documents.kinds import ALLOWED_TYPES

HEAD_BYTES = 8192  # what filetype reads (OOXML parts are looked for within the first entries)


class TextCheck:
    """Fed the file chunk by chunk: whether the whole of it is UTF-8 text without NUL."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.ok = True

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if not self.ok:
            return
        if b"\x00" in chunk:
            self.ok = False
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self.ok = False


def is_text(data: bytes) -> bool:
    check = TextCheck()
    check.feed(data, final=True)
    return check.ok


def content_type(head: bytes, *, text: bool) -> str | None:
    """The accepted content type of a file whose first bytes are `head` (None: not accepted).
    `text`: whether the whole file is UTF-8 without NUL (TextCheck)."""
    guess = filetype.guess(head[:HEAD_BYTES]) if head else None
    if guess is not None:
        mime = str(guess.mime)
        return mime if mime in ALLOWED_TYPES else None
    return "text/plain" if text else None
