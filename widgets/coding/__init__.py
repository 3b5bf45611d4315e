"""Qualitative coding UI: the coding widget (anywidget), its store glue, and the Voila dashboard."""

from widgets.coding.backend import StoreBackend
from widgets.coding.dashboard import CodingDashboard, coding_dashboard, request_viewer
from widgets.coding.page import CodingPage, coding_page
from widgets.coding.panels import AgreementPanel, AnalysisPanel
from widgets.coding.widget import LABELS, CodingBackend, CodingWidget

__all__ = [
    "LABELS",
    "AgreementPanel",
    "AnalysisPanel",
    "CodingBackend",
    "CodingDashboard",
    "CodingPage",
    "CodingWidget",
    "StoreBackend",
    "coding_dashboard",
    "coding_page",
    "request_viewer",
]
