"""Consent PDF generation time per document (text, comprehension answers, optional consents, drawn
signature, manifestation), against an empty one-page PDF from the same library in the same run."""

from __future__ import annotations

import argparse
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report, timed
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from workbench.consent.pdf import SignatureBlock, render_consent_pdf

BODY = ("Vous êtes invité(e) à participer à une étude sur la qualité de vie après un cancer. "
        "Votre participation est libre ; vous pouvez arrêter à tout moment sans conséquence sur vos soins.\n") * 40
STROKES = [[(0.05 + i * 0.009, 0.5 + 0.3 * ((i % 7) - 3) / 3) for i in range(100)] for _ in range(3)]


def consent_pdf() -> bytes:
    when = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris"))
    return render_consent_pdf(
        title="Information et consentement", study="DEMO-QOL", version="2.1", language="fr", body=BODY,
        answers=[("Pouvez-vous arrêter à tout moment ?", "Oui")] * 5,
        optional_choices=[("Me contacter pour de nouvelles études", True), ("Réutilisation des données", False)],
        signatures=[SignatureBlock("Camille Martin", "participant", "Consentement à participer", when,
                                   "Europe/Paris", "lien personnel + année de naissance", STROKES)],
        footer_id="P-BENCH")


def empty_pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    repeat = 3 if parser.parse_args().quick else 20
    seconds, pdf = timed(consent_pdf, repeat=repeat)
    base, _ = timed(empty_pdf, repeat=repeat)
    report("consent PDF per document (3 pages, drawn signature)", seconds * 1000, "ms", baseline=base * 1000,
           baseline_name="empty one-page PDF", bytes=len(pdf))


if __name__ == "__main__":
    main()
