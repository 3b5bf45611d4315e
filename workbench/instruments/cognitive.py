"""The cognitive tasks of ``workbench.psychometrics`` as instruments: studies schedule them, responses store them.

The stored answers are the scores (``sd_correct``, ``vf_correct``…, typed and range-checked like
any item) plus the raw material under keys starting with ``_`` (each answer with its time, the
words typed), which no export, deposit plan or item check treats as an item.
"""

from __future__ import annotations

from workbench.instruments.model import Choice, Instrument, Item

__all__ = ["PSYCHOMETRIC_IDS", "SYMBOL_DIGIT", "VERBAL_FLUENCY", "symbol_digit_instrument",
           "verbal_fluency_instrument"]

SYMBOL_DIGIT, VERBAL_FLUENCY = "symbol-digit", "verbal-fluency"
PSYCHOMETRIC_IDS = (SYMBOL_DIGIT, VERBAL_FLUENCY)
_SECTION = {"fr": "Résultat (calculé)", "en": "Result (computed)"}


def _count(name: str, fr: str, en: str, high: int = 400, required: bool = True) -> Item:
    return Item(name, "integer", {"fr": fr, "en": en}, required=required, minimum="0", maximum=str(high),
                section="result", section_label=_SECTION)


def symbol_digit_instrument() -> Instrument:
    return Instrument(
        SYMBOL_DIGIT,
        {"fr": "Tâche de substitution symbole–chiffre", "en": "Symbol–digit substitution task"},
        (
            Item("sd_seed", "integer", {"fr": "Forme (graine de la clé)", "en": "Form (key seed)"},
                 required=True, minimum="0", maximum=str(2**31 - 1)),
            _count("sd_correct", "Réponses correctes dans le temps imparti", "Correct answers within the time limit"),
            _count("sd_errors", "Réponses erronées", "Wrong answers"),
            _count("sd_attempted", "Réponses données", "Answers given"),
            _count("sd_median_ms", "Temps médian entre deux réponses (ms)", "Median time between answers (ms)",
                   high=600_000, required=False),
            _count("sd_limit_s", "Temps imparti (s)", "Time limit (s)", high=600),
        ),
        source="library",
        attribution="WeShare workbench: own symbol–digit key drawn from a seed (not the SDMT's key or items).",
        licence="Apache-2.0 (workbench content)",
    )


def verbal_fluency_instrument() -> Instrument:
    modes = (Choice("category", {"fr": "Catégorielle (ex. animaux)", "en": "Category (e.g. animals)"}),
             Choice("letter", {"fr": "Littérale (ex. lettre P)", "en": "Letter (e.g. letter P)"}))
    entries = (Choice("words", {"fr": "Mots saisis au fil de l'épreuve", "en": "Words typed as they come"}),
               Choice("counts", {"fr": "Décomptes saisis à la fin", "en": "Counts entered at the end"}))
    return Instrument(
        VERBAL_FLUENCY,
        {"fr": "Fluence verbale", "en": "Verbal fluency"},
        (
            Item("vf_mode", "single", {"fr": "Type de fluence", "en": "Kind of fluency"}, choices=modes,
                 required=True),
            Item("vf_cue", "text", {"fr": "Consigne (catégorie ou lettre)", "en": "Cue (category or letter)"},
                 required=True, pattern=r"[^\s].{0,39}"),
            Item("vf_entry", "single", {"fr": "Saisie", "en": "Entry"}, choices=entries, required=True),
            _count("vf_total", "Mots produits", "Words produced", high=300),
            _count("vf_repetitions", "Répétitions", "Repetitions", high=300),
            _count("vf_intrusions", "Intrusions", "Intrusions", high=300),
            _count("vf_correct", "Mots corrects (score)", "Correct words (score)", high=300),
            *(_count(f"vf_q{i}", f"Mots corrects, {15 * (i - 1)}–{15 * i} s", f"Correct words, {15 * (i - 1)}–{15 * i} s",
                     high=300, required=False) for i in range(1, 5)),
        ),
        source="library",
        attribution="WeShare workbench: verbal fluency scoring (correct words, repetitions, intrusions).",
        licence="Apache-2.0 (workbench content)",
    )
