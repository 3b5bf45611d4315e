"""The signed consent as an immutable PDF: document text, answers, drawn signature, manifestation.

Rendered with ReportLab in invariant mode so the bytes depend only on the content; the SHA-256 of
those bytes is what the audit chain records.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

__all__ = ["SignatureBlock", "render_consent_pdf"]

Stroke = list[tuple[float, float]]
MARGIN = 20 * mm
LINE = 5 * mm


@dataclass(frozen=True)
class SignatureBlock:
    printed_name: str
    role: str
    meaning: str
    signed_local: datetime  # aware, in the signer's time zone
    time_zone: str
    auth_method: str
    strokes: list[Stroke]  # points in a 0..1 × 0..1 box, y downwards as in the browser


def _wrap(text: str, width: float, canvas: Canvas, font: str, size: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words, current = paragraph.split(), ""
        for word in words:
            trial = f"{current} {word}".strip()
            if canvas.stringWidth(trial, font, size) <= width:
                current = trial
            else:
                lines.append(current)
                current = word
        lines.append(current)
    return lines


class _Writer:
    def __init__(self, canvas: Canvas, footer: str) -> None:
        self.c, self.footer, self.page = canvas, footer, 1
        self.y = A4[1] - MARGIN

    def _new_page(self) -> None:
        self._draw_footer()
        self.c.showPage()
        self.page += 1
        self.y = A4[1] - MARGIN

    def _draw_footer(self) -> None:
        self.c.setFont("Helvetica", 7)
        self.c.drawString(MARGIN, 10 * mm, f"{self.footer} — page {self.page}")

    def text(self, text: str, font: str = "Helvetica", size: float = 10) -> None:
        width = A4[0] - 2 * MARGIN
        for line in _wrap(text, width, self.c, font, size):
            if self.y < MARGIN + LINE:
                self._new_page()
            self.c.setFont(font, size)
            self.c.drawString(MARGIN, self.y, line)
            self.y -= LINE * size / 10

    def gap(self, lines: float = 1) -> None:
        self.y -= LINE * lines

    def signature(self, block: SignatureBlock) -> None:
        box_w, box_h = 80 * mm, 30 * mm
        if self.y - box_h < MARGIN + 4 * LINE:
            self._new_page()
        top = self.y
        self.c.rect(MARGIN, top - box_h, box_w, box_h)
        self.c.setLineWidth(1.2)
        for stroke in block.strokes:
            path = self.c.beginPath()
            for i, (x, y) in enumerate(stroke):
                px, py = MARGIN + x * box_w, top - y * box_h
                path.moveTo(px, py) if i == 0 else path.lineTo(px, py)
            self.c.drawPath(path, stroke=1, fill=0)
        self.c.setLineWidth(1)
        self.y = top - box_h - LINE
        stamp = block.signed_local.strftime("%Y-%m-%d %H:%M:%S %z")
        self.text(f"Signed by / Signé par : {block.printed_name} ({block.role})", "Helvetica-Bold")
        self.text(f"Date and time / Date et heure : {stamp} ({block.time_zone})")
        self.text(f"Meaning / Signification : {block.meaning}")
        self.text(f"Authentication / Authentification : {block.auth_method}")

    def finish(self) -> None:
        self._draw_footer()
        self.c.save()


def render_consent_pdf(
    *, title: str, study: str, version: str, language: str, body: str,
    answers: list[tuple[str, str]], optional_choices: list[tuple[str, bool]],
    signatures: list[SignatureBlock], footer_id: str,
) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"{title} — {study} v{version}")
    writer = _Writer(canvas, f"{study} · consent v{version} ({language}) · {footer_id}")
    writer.text(title, "Helvetica-Bold", 14)
    writer.text(f"Study / Étude : {study} — version {version} ({language})", size=9)
    writer.gap()
    writer.text(body)
    if answers:
        writer.gap()
        writer.text("Comprehension check / Vérification de la compréhension", "Helvetica-Bold")
        for question, answer in answers:
            writer.text(f"• {question} — {answer}")
    if optional_choices:
        writer.gap()
        writer.text("Optional consents / Consentements optionnels", "Helvetica-Bold")
        for label, given in optional_choices:
            writer.text(f"[{'x' if given else ' '}] {label}")
    for block in signatures:
        writer.gap()
        writer.signature(block)
    writer.finish()
    return buffer.getvalue()
