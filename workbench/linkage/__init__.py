"""Probabilistic linkage of a study cohort with SNDS-shaped claims data (indirect matching)."""
