"""The participant portal: results, study news by opted-in interests, interview appointments."""

from workbench.portal.models import Appointment, Interests, Recruitment, StudyResult
from workbench.portal.service import (
    RESPONDENT_TYPES,
    NewsItem,
    book_appointment,
    news_for,
    publish_recruitment,
    publish_result,
    queue_appointment_reminders,
    results_for,
    set_interests,
)

__all__ = [
    "RESPONDENT_TYPES",
    "Appointment",
    "Interests",
    "NewsItem",
    "Recruitment",
    "StudyResult",
    "book_appointment",
    "news_for",
    "publish_recruitment",
    "publish_result",
    "queue_appointment_reminders",
    "results_for",
    "set_interests",
]
