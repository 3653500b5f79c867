"""The expertise dossier's PDF page kit (fpdf2), imported only when a dossier is made: fpdf2 and
fontTools take a noticeable share of the app's import time (cold start, docs/PERFORMANCE.md §4)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF


class Pdf(FPDF):
    def __init__(self, title: str, fonts: tuple[Path, Path] | None) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.family_name = "DejaVu"
        else:  # no Unicode font on this machine (tests/documents/test_dossier.py covers it)
            self.family_name = "helvetica"
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("regieflow")

    def text_of(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family_name, size=8)
        self.cell(0, 8, self.text_of(f"{self.doc_title} — page {self.page_no()}"), align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font(self.family_name, "B", size)
        self.multi_cell(0, 7, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family_name, size=10)

    def line_text(self, text: str) -> None:
        self.set_font(self.family_name, size=10)
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
