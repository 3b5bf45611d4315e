"""Digitised cognitive tests (symbol–digit substitution, verbal fluency): forms, scoring, storage."""

from workbench.instruments.cognitive import PSYCHOMETRIC_IDS, SYMBOL_DIGIT, VERBAL_FLUENCY
from workbench.psychometrics.fluency import FluencyScore, normalise, score_counts, score_words
from workbench.psychometrics.service import score_task, submit_task
from workbench.psychometrics.symbol_digit import GLYPHS, SymbolDigitForm, make_form, score_trials

__all__ = ["GLYPHS", "PSYCHOMETRIC_IDS", "SYMBOL_DIGIT", "VERBAL_FLUENCY", "FluencyScore", "SymbolDigitForm",
           "make_form", "normalise", "score_counts", "score_task", "score_trials", "score_words", "submit_task"]
