"""The built-in instruments: free ones with their texts and attribution, licensed ones as structure.

PHQ-9, GAD-7 (Pfizer: free to reproduce, translate and distribute), WHO-5 (free with
attribution) and ESAS-r (University of Alberta: free with acknowledgement, not to be modified)
ship with their English wording unchanged; the French wording is the widely distributed French
version and must be checked by each site against the distributor's current PDF before first use
(docs/instruments.md). EORTC QLQ-C30 and PRO-CTCAE ship as structure and scoring only: their texts
come from the licensee's file (``with_licensed_texts``), never from this repository.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.instruments import proctcae
from workbench.instruments.cognitive import symbol_digit_instrument, verbal_fluency_instrument
from workbench.instruments.model import Choice, Instrument, Item

__all__ = ["LIBRARY_IDS", "get_library_instrument", "list_instruments", "read_texts_file",
           "require_texts"]

LIBRARY_IDS = ("qlq-c30", "pro-ctcae", "phq-9", "gad-7", "who-5", "esas-r", "symbol-digit", "verbal-fluency")
FRENCH_CHECK = " French wording to be checked against the distributor's current version before use."

_FREQ = [("0", "Jamais", "Not at all"), ("1", "Plusieurs jours", "Several days"),
         ("2", "Plus de la moitié du temps", "More than half the days"),
         ("3", "Presque tous les jours", "Nearly every day")]


def _choices(rows: list[tuple[str, str, str]]) -> tuple[Choice, ...]:
    return tuple(Choice(code, {"fr": fr, "en": en}) for code, fr, en in rows)


def _phq9() -> Instrument:
    stem = {"fr": "Au cours des 2 dernières semaines, selon quelle fréquence avez-vous été gêné(e) "
                  "par les problèmes suivants ?",
            "en": "Over the last 2 weeks, how often have you been bothered by any of the following "
                  "problems?"}
    texts = [
        ("Peu d'intérêt ou de plaisir à faire les choses", "Little interest or pleasure in doing things"),
        ("Être triste, déprimé(e) ou désespéré(e)", "Feeling down, depressed, or hopeless"),
        ("Difficultés à s'endormir ou à rester endormi(e), ou dormir trop",
         "Trouble falling or staying asleep, or sleeping too much"),
        ("Se sentir fatigué(e) ou manquer d'énergie", "Feeling tired or having little energy"),
        ("Avoir peu d'appétit ou manger trop", "Poor appetite or overeating"),
        ("Avoir une mauvaise opinion de soi-même, ou avoir le sentiment d'être nul(le), ou d'avoir "
         "déçu sa famille ou s'être déçu(e) soi-même",
         "Feeling bad about yourself — or that you are a failure or have let yourself or your "
         "family down"),
        ("Avoir du mal à se concentrer, par exemple, pour lire le journal ou regarder la télévision",
         "Trouble concentrating on things, such as reading the newspaper or watching television"),
        ("Bouger ou parler si lentement que les autres auraient pu le remarquer. Ou au contraire, "
         "être si agité(e) que vous avez eu du mal à tenir en place par rapport à d'habitude",
         "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
         "being so fidgety or restless that you have been moving around a lot more than usual"),
        ("Penser qu'il vaudrait mieux mourir ou envisager de vous faire du mal d'une manière ou "
         "d'une autre", "Thoughts that you would be better off dead or of hurting yourself in some way"),
    ]
    items = [Item(f"q{i}", "single", {"fr": fr, "en": en}, choices=_choices(_FREQ), required=True,
                  section="phq9", section_label=stem) for i, (fr, en) in enumerate(texts, start=1)]
    items.append(Item(
        "q10", "single",
        {"fr": "Si vous avez coché au moins un des problèmes évoqués, à quel point ce(s) problème(s) "
               "a-t-il (ont-ils) rendu votre travail, vos tâches à la maison ou votre capacité à vous "
               "entendre avec les autres difficile(s) ?",
         "en": "If you checked off any problems, how difficult have these problems made it for you "
               "to do your work, take care of things at home, or get along with other people?"},
        choices=_choices([("0", "Pas du tout difficile", "Not difficult at all"),
                          ("1", "Assez difficile", "Somewhat difficult"),
                          ("2", "Très difficile", "Very difficult"),
                          ("3", "Extrêmement difficile", "Extremely difficult")]),
        branching="sum([q1],[q2],[q3],[q4],[q5],[q6],[q7],[q8],[q9]) > 0", section="phq9"))
    return Instrument(
        "phq-9", {"fr": "Questionnaire sur la santé du patient (PHQ-9)",
                  "en": "Patient Health Questionnaire (PHQ-9)"}, tuple(items), source="library",
        attribution="Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and "
                    "colleagues, with an educational grant from Pfizer Inc.",
        licence="No permission required to reproduce, translate, display or distribute." + FRENCH_CHECK,
        scoring="phq-9")


def _gad7() -> Instrument:
    stem = {"fr": "Au cours des 14 derniers jours, à quelle fréquence avez-vous été dérangé(e) par "
                  "les problèmes suivants ?",
            "en": "Over the last 2 weeks, how often have you been bothered by the following problems?"}
    texts = [
        ("Sentiment de nervosité, d'anxiété ou de tension", "Feeling nervous, anxious or on edge"),
        ("Incapable d'arrêter de s'inquiéter ou de contrôler ses inquiétudes",
         "Not being able to stop or control worrying"),
        ("Inquiétudes excessives à propos de tout et de rien", "Worrying too much about different things"),
        ("Difficulté à se détendre", "Trouble relaxing"),
        ("Agitation telle qu'il est difficile de rester tranquille",
         "Being so restless that it is hard to sit still"),
        ("Devenir facilement contrarié(e) ou irritable", "Becoming easily annoyed or irritable"),
        ("Avoir peur que quelque chose d'épouvantable puisse arriver",
         "Feeling afraid as if something awful might happen"),
    ]
    items = tuple(Item(f"q{i}", "single", {"fr": fr, "en": en}, choices=_choices(_FREQ), required=True,
                       section="gad7", section_label=stem) for i, (fr, en) in enumerate(texts, start=1))
    return Instrument(
        "gad-7", {"fr": "Questionnaire sur l'anxiété généralisée (GAD-7)",
                  "en": "Generalized Anxiety Disorder scale (GAD-7)"}, items, source="library",
        attribution="Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and "
                    "colleagues, with an educational grant from Pfizer Inc.",
        licence="No permission required to reproduce, translate, display or distribute." + FRENCH_CHECK,
        scoring="gad-7")


def _who5() -> Instrument:
    stem = {"fr": "Au cours des deux dernières semaines :",
            "en": "Please indicate for each of the five statements which is closest to how you have "
                  "been feeling over the last two weeks."}
    scale = _choices([("5", "Tout le temps", "All of the time"), ("4", "La plupart du temps", "Most of the time"),
                      ("3", "Plus de la moitié du temps", "More than half of the time"),
                      ("2", "Moins de la moitié du temps", "Less than half of the time"),
                      ("1", "De temps en temps", "Some of the time"), ("0", "Jamais", "At no time")])
    texts = [
        ("Je me suis senti(e) bien et de bonne humeur", "I have felt cheerful and in good spirits"),
        ("Je me suis senti(e) calme et tranquille", "I have felt calm and relaxed"),
        ("Je me suis senti(e) plein(e) d'énergie et vigoureux(se)", "I have felt active and vigorous"),
        ("Je me suis réveillé(e) en me sentant frais(fraîche) et dispos(e)",
         "I woke up feeling fresh and rested"),
        ("Ma vie quotidienne a été remplie de choses intéressantes",
         "My daily life has been filled with things that interest me"),
    ]
    items = tuple(Item(f"q{i}", "single", {"fr": fr, "en": en}, choices=scale, required=True,
                       section="who5", section_label=stem) for i, (fr, en) in enumerate(texts, start=1))
    return Instrument(
        "who-5", {"fr": "Indice de bien-être WHO-5 (OMS)", "en": "WHO-5 Well-Being Index"}, items,
        source="library",
        attribution="Psychiatric Research Unit, WHO Collaborating Centre in Mental Health, "
                    "Mental Health Centre North Zealand, Hillerød.",
        licence="Free to use with the source mentioned." + FRENCH_CHECK, scoring="who-5")


def _esas() -> Instrument:
    stem = {"fr": "Veuillez choisir le chiffre qui décrit le mieux comment vous vous sentez MAINTENANT.",
            "en": "Please circle the number that best describes how you feel NOW."}
    rows = [
        ("Douleur", "Pain", "Aucune douleur", "No Pain", "Pire douleur possible", "Worst Possible Pain"),
        ("Fatigue (fatigue = manque d'énergie)", "Tiredness (Tiredness = lack of energy)",
         "Aucune fatigue", "No Tiredness", "Pire fatigue possible", "Worst Possible Tiredness"),
        ("Somnolence (somnolence = se sentir endormi)", "Drowsiness (Drowsiness = feeling sleepy)",
         "Aucune somnolence", "No Drowsiness", "Pire somnolence possible", "Worst Possible Drowsiness"),
        ("Nausée", "Nausea", "Aucune nausée", "No Nausea", "Pire nausée possible", "Worst Possible Nausea"),
        ("Manque d'appétit", "Lack of Appetite", "Aucun manque d'appétit", "No Lack of Appetite",
         "Pire manque d'appétit possible", "Worst Possible Lack of Appetite"),
        ("Essoufflement", "Shortness of Breath", "Aucun essoufflement", "No Shortness of Breath",
         "Pire essoufflement possible", "Worst Possible Shortness of Breath"),
        ("Dépression (dépression = se sentir triste)", "Depression (Depression = feeling sad)",
         "Aucune dépression", "No Depression", "Pire dépression possible", "Worst Possible Depression"),
        ("Anxiété (anxiété = se sentir nerveux)", "Anxiety (Anxiety = feeling nervous)",
         "Aucune anxiété", "No Anxiety", "Pire anxiété possible", "Worst Possible Anxiety"),
        ("Bien-être (bien-être = comment vous vous sentez en général)",
         "Wellbeing (Wellbeing = how you feel overall)", "Meilleur bien-être", "Best Wellbeing",
         "Pire bien-être possible", "Worst Possible Wellbeing"),
        ("Autre problème (par exemple constipation)", "Other Problem (for example constipation)",
         "Aucun", "No", "Pire possible", "Worst Possible"),
    ]
    items = []
    for i, (fr, en, lo_fr, lo_en, hi_fr, hi_en) in enumerate(rows, start=1):
        choices = tuple(Choice(str(k), {"fr": str(k), "en": str(k)}) for k in range(11))
        items.append(Item(f"q{i}", "single", {"fr": fr, "en": en},
                          hint={"fr": f"0 = {lo_fr} … 10 = {hi_fr}", "en": f"0 = {lo_en} … 10 = {hi_en}"},
                          choices=choices, required=i <= 9, section="esas", section_label=stem,
                          widget="scale"))
    return Instrument(
        "esas-r", {"fr": "Système d'évaluation des symptômes d'Edmonton (ESAS-r)",
                   "en": "Edmonton Symptom Assessment System – revised (ESAS-r)"}, tuple(items),
        source="library",
        attribution="© University of Alberta, Division of Palliative Care Medicine. Watanabe et al., "
                    "J Pain Symptom Manage 2011;41:456–468.",
        licence="Freely available with acknowledgement of its source; not to be modified." + FRENCH_CHECK,
        scoring="esas-r")


def _qlq_c30() -> Instrument:
    four = tuple(Choice(str(k)) for k in range(1, 5))
    seven = tuple(Choice(str(k)) for k in range(1, 8))
    items = tuple(Item(f"q{i}", "single", choices=four if i <= 28 else seven, required=False,
                       section="qlq-c30", widget="radio" if i <= 28 else "scale")
                  for i in range(1, 31))
    return Instrument(
        "qlq-c30", {"fr": "EORTC QLQ-C30 (version 3)", "en": "EORTC QLQ-C30 (version 3)"}, items,
        version="3.0", source="library", licensed_texts=True,
        attribution="EORTC Quality of Life Group. Aaronson et al., J Natl Cancer Inst 1993;85:365–376.",
        licence="Copyrighted by the EORTC: use needs the EORTC Quality of Life Group's permission and an "
                "electronic-version licence; item texts are loaded from the licensee's file.",
        scoring="qlq-c30")


def _pro_ctcae() -> Instrument:
    scale = tuple(Choice(str(k)) for k in range(5))
    items = []
    for number, group, letter in proctcae.item_attributes():
        first = f"ae{number}_{group[0]}"
        branching = None if letter == group[0] else f"[{first}] > 0"
        items.append(Item(f"ae{number}_{letter}", "single", choices=scale, branching=branching,
                          section=f"ae{number}", annotation=proctcae.ATTRIBUTE_NAMES[letter]))
    return Instrument(
        "pro-ctcae", {"fr": "PRO-CTCAE (NCI)", "en": "PRO-CTCAE (NCI)"}, tuple(items), source="library",
        licensed_texts=True,
        attribution="National Cancer Institute, Patient-Reported Outcomes version of the Common "
                    "Terminology Criteria for Adverse Events.",
        licence="NCI terms of use: not to be adapted, modified or translated; item texts are loaded "
                "from the user's copy.", scoring="pro-ctcae")


_BUILDERS = {"qlq-c30": _qlq_c30, "pro-ctcae": _pro_ctcae, "phq-9": _phq9, "gad-7": _gad7,
             "who-5": _who5, "esas-r": _esas,
             # cognitive tasks (workbench.psychometrics): scored from the task's record, not item sums
             "symbol-digit": symbol_digit_instrument, "verbal-fluency": verbal_fluency_instrument}


@cache
def get_library_instrument(instrument_id: str) -> Instrument:
    try:
        return _BUILDERS[instrument_id]()
    except KeyError:
        raise NotFoundError(f"no built-in instrument {instrument_id!r}; built-in: "
                            f"{', '.join(LIBRARY_IDS)}") from None


def list_instruments() -> list[Instrument]:
    return [get_library_instrument(i) for i in LIBRARY_IDS]


def read_texts_file(path: Path, instrument: Instrument) -> dict[str, dict[str, Any]]:
    """Item texts from a licensee's JSON file: {"instrument": id, "items": {name: {...}}}.

    Each item entry: ``{"label": {"fr": …, "en": …}, "choices": {code: {"fr": …, "en": …}}}``.
    Every item must have a label in at least one language; unknown items are refused.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the texts file: {exc}", where=str(path)) from None
    if not isinstance(data, dict) or data.get("instrument") != instrument.id:
        raise ValidationError(f'the file must be a JSON object with "instrument": "{instrument.id}"',
                              where=str(path))
    items = data.get("items")
    if not isinstance(items, dict):
        raise ValidationError('"items" must map item names to their texts', where=f"{path}, items")
    names = set(instrument.names())
    for name, entry in items.items():
        where = f"{path}, item {name!r}"
        if name not in names:
            raise ValidationError(f"not an item of {instrument.id}", where=where)
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, dict) or not any(isinstance(v, str) and v.strip() for v in label.values()):
            raise ValidationError("a label in French or English is required", where=where)
    missing = [i.name for i in instrument.answered_items() if i.name not in items]
    if missing:
        raise ValidationError(f"texts missing for {len(missing)} items, first {missing[0]}", where=str(path))
    return items


def require_texts(instrument: Instrument) -> None:
    """Refuse to show a licensed instrument whose texts were not loaded."""
    if instrument.licensed_texts and any(not i.label for i in instrument.answered_items()):
        raise ConfigError(f"{instrument.id} is licensed: load the licensee's texts first "
                          f"(weshare instrument texts {instrument.id} FILE)")
