"""The participant home opens each due questionnaire and comes back to the list after the submit."""

from __future__ import annotations

import subprocess
import sys

from widgets.participant_home import ParticipantHome, participant_home

from .conftest import World, shown


def test_home_lists_due_forms_opens_one_and_comes_back(world: World) -> None:
    home = participant_home(world.settings, f"access={world.token}")
    assert isinstance(home, ParticipantHome)
    assert "Bonjour, participant P-FORMS001" in shown(home.page)
    labels = [b.description for b in home.due_box.children]
    assert len(labels) == 3 and labels[0].startswith("Remplir : Questionnaire sur la santé du patient")
    home.switch.value = True
    assert home.due_box.children[0].description.startswith("Fill in: Patient Health Questionnaire")

    home.due_box.children[0].click()
    form = home.form
    assert form is not None and form.language == "en" and home.children[-1] is form
    for _ in range(9):
        form.input.value = "0"
        form.next_button.click()
    form.submit_button.click()
    assert home.form is None and "Thank you! Your answers have been saved." in shown(home.status)
    labels = [b.description for b in home.due_box.children]
    assert len(labels) == 2 and not any("PHQ-9" in label for label in labels)


def test_licensed_form_refusal_offers_the_way_back(world: World) -> None:
    home = participant_home(world.settings, f"access={world.token}")
    qlq = next(b for b in home.due_box.children if "QLQ-C30" in b.description)
    qlq.click()
    assert home.form is not None and "pas encore disponible" in shown(home.form.status)
    home.form.back_button.click()
    assert home.form is None and len(home.due_box.children) == 3


def test_forms_kernel_stays_light() -> None:
    """Building the home must not load pandas or plotly: every participant page costs a kernel."""
    code = ("import sys, widgets.participant_home, widgets.questionnaire; "
            "print(sorted(m for m in ('pandas', 'plotly', 'scipy', 'statsmodels') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_due_cognitive_task_links_to_its_timed_page_not_the_questionnaire_form() -> None:
    from datetime import date

    from widgets.participant_home import DueEntry, task_link_html
    from workbench.participants.service import DueItem

    item = DueItem("BL", "Inclusion", "symbol-digit", date(2026, 1, 1), date(2026, 1, 8), False)
    entry = DueEntry(item, {"fr": "Substitution symboles-chiffres", "en": "Symbol–digit substitution"})
    html = task_link_html(entry, "tok&en", "en")
    assert 'href="psychometric.ipynb?access=tok%26en&amp;task=symbol-digit"' in html
    assert "Fill in: Symbol–digit substitution — Inclusion" in html
