"""Questionnaires: one internal model, importers and exporters, the built-in library and scoring."""
