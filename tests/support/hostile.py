"""Character classes that hostile-input tests share (tests/reliability)."""

from __future__ import annotations

import sys
import unicodedata

# Every character Python calls a digit or a number but ASCII's ten: Nd (Arabic-Indic, Devanagari,
# full-width…), No (², ½, circled numbers…), Nl (Roman numerals…).
NON_ASCII_DIGITS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) in ("Nd", "No", "Nl") and not "0" <= chr(c) <= "9"
]
# C0 and C1 control characters, DEL included.
CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
