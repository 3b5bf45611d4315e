"""Jupyter UIs (ipywidgets): state + view + thin callbacks; no business rules, no storage details."""

from widgets.guarded import guarded, show_error, show_message
from widgets.participant_home import participant_home
from widgets.studies_dashboard import StudiesDashboard, studies_dashboard

__all__ = [
    "StudiesDashboard",
    "guarded",
    "participant_home",
    "show_error",
    "show_message",
    "studies_dashboard",
]
