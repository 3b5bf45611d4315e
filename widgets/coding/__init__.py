"""Qualitative coding UI: the coding widget (anywidget), its store glue, and the Voila dashboard."""

from widgets.coding.backend import StoreBackend
from widgets.coding.dashboard import CodingDashboard, coding_dashboard
from widgets.coding.panels import AgreementPanel, AnalysisPanel
from widgets.coding.widget import LABELS, CodingBackend, CodingWidget

__all__ = [
    "LABELS",
    "AgreementPanel",
    "AnalysisPanel",
    "CodingBackend",
    "CodingDashboard",
    "CodingWidget",
    "StoreBackend",
    "coding_dashboard",
]
