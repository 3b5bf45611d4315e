"""Staff home: links to the dashboards the viewer's roles open, and the public transparency page.

Only navigation: each dashboard checks the viewer itself (through the domain), so a link shown
here never grants anything and a hidden one hides nothing that is not refused anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import ipywidgets as w

from widgets._governed import bi, signed_out
from widgets._store import in_session
from widgets.guarded import guarded
from workbench.accounts import get_user
from workbench.accounts.models import Role, User
from workbench.settings import Settings

__all__ = ["DASHBOARDS", "PUBLIC_REGISTER", "Dashboard", "StaffHome", "links_for", "staff_home_page"]

# From a Voila page (/services/dashboards/voila/render/x.ipynb) up to the hub's base URL.
PUBLIC_REGISTER = "../../../../hub/transparency"
# The coding page is its own preheated service (hub/coding_service.py): up to /services/coding/.
CODING_PAGE = "../../../coding/"
ANY_STAFF = frozenset(Role) - {Role.PARTICIPANT}
STEWARDS = frozenset({Role.DATA_STEWARD, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class Dashboard:
    notebook: str
    title: tuple[str, str]
    purpose: tuple[str, str]
    roles: frozenset[Role]
    href: str = ""  # where the link goes when not the notebook in this service


DASHBOARDS = (
    Dashboard("studies.ipynb", ("Études", "Studies"), ("Vos études, leur paramétrage et leur suivi",
              "Your studies, their set-up and follow-up"), ANY_STAFF),
    Dashboard("access_request.ipynb", ("Demande d'accès", "Access request"),
              ("Demander des données de l'entrepôt pour un projet", "Ask for warehouse data for a project"),
              frozenset({Role.RESEARCHER})),
    Dashboard("airlock.ipynb", ("Sortie de résultats", "Output release"),
              ("Faire sortir un tableau, une figure ou un modèle de la bulle",
               "Release a table, figure or model result from the bubble"), frozenset({Role.RESEARCHER})),
    Dashboard("sponsor.ipynb", ("Réutilisation de vos études", "Reuse of your studies"),
              ("S'opposer à une demande d'accès dans le délai", "Oppose an access request within the window"),
              frozenset({Role.STUDY_MANAGER})),
    Dashboard("committee.ipynb", ("Comités", "Committees"),
              ("Examiner et voter les demandes d'accès", "Review and vote on access requests"),
              frozenset({Role.COMMITTEE_MEMBER})),
    Dashboard("output_checking.ipynb", ("Vérification des sorties", "Output checking"),
              ("Vérifier les demandes de sortie", "Check release requests"), frozenset({Role.OUTPUT_CHECKER})),
    Dashboard("indicators.ipynb", ("Indicateurs", "Indicators"),
              ("Indicateurs de vos études déposées", "Indicators of your deposited studies"),
              frozenset({Role.STUDY_MANAGER}) | STEWARDS),
    Dashboard("catalog.ipynb", ("Catalogue", "Catalog"), ("Études et données de l'entrepôt",
              "Studies and data in the warehouse"), ANY_STAFF),
    Dashboard("quality.ipynb", ("Qualité des données", "Data quality"),
              ("Contrôles de l'entrepôt", "Warehouse checks"), STEWARDS),
    Dashboard("connectors.ipynb", ("Connecteurs", "Connectors"),
              ("Importer des données hospitalières, revoir les appariements",
               "Import hospital data, review linkage pairs"), frozenset({Role.DATA_STEWARD})),
    Dashboard("coding.ipynb", ("Codage", "Coding"), ("Coder les entretiens", "Code interview transcripts"),
              frozenset({Role.CODER}), href=CODING_PAGE),
    Dashboard("transcription.ipynb", ("Transcription", "Transcription"),
              ("Transcrire un enregistrement d'entretien sur place", "Transcribe an interview recording locally"),
              frozenset({Role.STUDY_MANAGER})),
)


def links_for(user: User) -> list[Dashboard]:
    """The dashboards whose roles the viewer holds (any scope), in the order above."""
    if not user.active:
        return []
    roles = user.role_names
    return [d for d in DASHBOARDS if d.roles & roles]


def _links_html(dashboards: list[Dashboard]) -> str:
    items = "".join(
        f'<li><a href="{escape(d.href or d.notebook)}">{bi(*d.title)}</a> — {bi(*d.purpose)}</li>' for d in dashboards)
    mine = (f"<ul>{items}</ul>" if dashboards
            else f'<p role="status">{bi("Aucun tableau de bord pour vos rôles.", "No dashboard for your roles.")}</p>')
    public = (f'<p><a href="{PUBLIC_REGISTER}">{bi("Registre public de transparence", "Public transparency register")}'
              f"</a> — {bi('les projets approuvés, pour les patients', 'approved projects, for patients')}</p>")
    return f"<nav aria-label=\"dashboards\">{mine}</nav>{public}"


class StaffHome(w.VBox):  # type: ignore[misc]
    def __init__(self, load: Callable[[], tuple[str, list[Dashboard]]]) -> None:
        self.status, self.links = w.HTML(), w.HTML()
        super().__init__([w.HTML(f"<h1>{bi('Accueil', 'Home')}</h1>"), self.status, self.links])
        guarded(self.status)(lambda: self._show(*load()))()

    def _show(self, name: str, dashboards: list[Dashboard]) -> None:
        self.status.value = f"<p>{escape(name)}</p>"
        self.links.value = _links_html(dashboards)


def staff_home_page(settings: Settings, viewer: str | None) -> w.Widget:
    if not viewer:
        return signed_out()

    def load() -> tuple[str, list[Dashboard]]:
        def work(session):  # type: ignore[no-untyped-def]
            user = get_user(session, viewer)
            return user.display_name or user.username, links_for(user)
        return in_session(settings, work)  # type: ignore[no-any-return]

    return StaffHome(load)
