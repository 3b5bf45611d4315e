"""The public transparency register (CNIL EDS référentiel §8.4), served by the hub without login.

This is the patients' information page: every approved reuse of warehouse data, with its purpose,
team, committee date, data categories and studies, and how to oppose. It holds no participant
data, only what the committee approved and for whom (``secure_bubble.transparency.register``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from hub.pages import _WorkbenchPage, bi
from secure_bubble.transparency import RegisterEntry, register

__all__ = ["TITLE", "TransparencyHandler", "register_body", "transparency_handlers"]

TITLE = ("Registre de transparence des réutilisations de données", "Transparency register of data reuses")
INTRO = (
    ("Les données de santé recueillies dans les études sur la qualité de vie en cancérologie sont "
     "conservées, sous pseudonyme, dans un entrepôt de données. Chaque projet qui les réutilise a été "
     "approuvé par le comité scientifique et éthique ; il est listé ici.",
     "Health data collected in quality-of-life studies in oncology are kept, under pseudonym, in a data "
     "warehouse. Every project that reuses them was approved by the scientific and ethics committee and "
     "is listed here."),
    ("Vous pouvez vous opposer à tout moment à la réutilisation de vos données, sans justification, "
     "auprès de l'équipe de l'étude à laquelle vous avez participé ou du délégué à la protection des "
     "données ; vos données seront exclues des extractions suivantes.",
     "You may object at any time to the reuse of your data, without giving a reason, by contacting the "
     "team of the study you took part in or the data protection officer; your data will be left out of "
     "later extractions."),
)
STATUS = {"active": ("En cours", "Ongoing"), "expired": ("Terminé", "Ended"),
          "suspended": ("Suspendu", "Suspended"), "closed": ("Clos", "Closed")}


def _entry(e: RegisterEntry) -> str:
    fr_en = e.purpose.split(" / ")
    purpose = bi(fr_en[1], fr_en[0]) if len(fr_en) == 2 else escape(e.purpose)  # stored "English / Français"
    facts = [
        (("Finalité", "Purpose"), purpose),
        (("Équipe", "Team"), escape(", ".join(e.team))),
        (("Date du comité", "Committee date"), escape(e.committee_date)),
        (("Catégories de données", "Data categories"), escape(", ".join(e.data_categories))),
        (("Études", "Studies"), escape(", ".join(e.studies))),
        (("Jusqu'au", "Until"), escape(e.expires)),
        (("État", "Status"), bi(*STATUS.get(e.status, (e.status, e.status)))),
    ]
    dl = "".join(f"<dt>{bi(*label)}</dt><dd>{value}</dd>" for label, value in facts)
    return (f'<article class="project" aria-labelledby="p-{escape(e.project)}">'
            f'<h2 id="p-{escape(e.project)}">{escape(e.project)} — {escape(e.title)}</h2><dl>{dl}</dl></article>')


def register_body(entries: list[RegisterEntry]) -> str:
    intro = "".join(f"<p>{bi(fr, en)}</p>" for fr, en in INTRO)
    count = f'<p role="status">{bi(f"{len(entries)} projet(s) approuvé(s).", f"{len(entries)} approved project(s).")}</p>'
    if not entries:
        return intro + f'<p role="status">{bi("Aucun projet approuvé pour l’instant.", "No approved project yet.")}</p>'
    return intro + count + "".join(_entry(e) for e in entries)


class TransparencyHandler(_WorkbenchPage):
    """GET only, no login: the register is public by design."""

    async def get(self) -> None:
        entries = await self.in_session(register)
        self.send_page(TITLE, register_body(entries))


def transparency_handlers() -> list[tuple[str, Any]]:
    return [("/transparency", TransparencyHandler)]
