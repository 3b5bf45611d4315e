"""Facts the generator is built from: French cancer centres, cancer sites, reference values.

Figures are rounded public orders of magnitude chosen so a synthetic cohort *looks* like one
recruited in French comprehensive cancer centres; they are parameters, not findings. Each table
can be overridden through ``CohortSpec``. Nothing here is patient data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CANCER_SITES",
    "CENTRES",
    "GAD7_REFERENCE",
    "PHQ9_REFERENCE",
    "QLQ_C30_REFERENCE",
    "STAGES",
    "TREATMENTS",
    "CancerSiteProfile",
    "Centre",
]

STAGES: tuple[str, ...] = ("I", "II", "III", "IV")
TREATMENTS: tuple[str, ...] = (
    "surgery", "chemotherapy", "radiotherapy", "immunotherapy", "hormone_therapy",
)


@dataclass(frozen=True)
class Centre:
    """A French comprehensive cancer centre (Unicancer network): the site code used in the data."""

    code: str
    name: str
    city: str
    departement: str
    weight: float


# Weights are rough relative recruitment sizes; départements feed synthetic postcodes only.
CENTRES: tuple[Centre, ...] = (
    Centre("IGR", "Gustave Roussy", "Villejuif", "94", 0.12),
    Centre("CUR", "Institut Curie", "Paris", "75", 0.11),
    Centre("CLB", "Centre Léon Bérard", "Lyon", "69", 0.09),
    Centre("IUCT", "IUCT-Oncopole", "Toulouse", "31", 0.07),
    Centre("ICM", "Institut du Cancer de Montpellier", "Montpellier", "34", 0.06),
    Centre("IPC", "Institut Paoli-Calmettes", "Marseille", "13", 0.07),
    Centre("COL", "Centre Oscar Lambret", "Lille", "59", 0.05),
    Centre("ICO", "Institut de Cancérologie de l'Ouest", "Saint-Herblain", "44", 0.08),
    Centre("CFB", "Centre François Baclesse", "Caen", "14", 0.04),
    Centre("CGFL", "Centre Georges-François Leclerc", "Dijon", "21", 0.04),
    Centre("IB", "Institut Bergonié", "Bordeaux", "33", 0.05),
    Centre("CAL", "Centre Antoine Lacassagne", "Nice", "06", 0.04),
    Centre("ICL", "Institut de Cancérologie de Lorraine", "Vandœuvre-lès-Nancy", "54", 0.04),
    Centre("ICANS", "Institut de cancérologie Strasbourg Europe", "Strasbourg", "67", 0.04),
    Centre("CJP", "Centre Jean Perrin", "Clermont-Ferrand", "63", 0.03),
    Centre("CHB", "Centre Henri Becquerel", "Rouen", "76", 0.03),
    Centre("IGC", "Institut Godinot", "Reims", "51", 0.02),
    Centre("CEM", "Centre Eugène Marquis", "Rennes", "35", 0.03),
)


@dataclass(frozen=True)
class CancerSiteProfile:
    """How one cancer site is drawn: frequency, ICD-10 codes, stage mix, sex, age, care, prognosis.

    ``treatment_probs`` follows ``TREATMENTS``; ``mortality_factor`` multiplies the stage hazard.
    """

    name: str
    weight: float
    icd10: tuple[tuple[str, float], ...]
    stage_probs: tuple[float, float, float, float]
    female_prob: float
    age_mean: float
    age_sd: float
    treatment_probs: tuple[float, float, float, float, float]
    mortality_factor: float


# Case mix of a cancer-centre QoL cohort (breast over-represented, as in French centres' trials),
# not national incidence.
CANCER_SITES: tuple[CancerSiteProfile, ...] = (
    CancerSiteProfile("breast", 0.30, (("C50", 1.0),), (0.40, 0.36, 0.16, 0.08),
                      0.99, 59, 12, (0.88, 0.55, 0.75, 0.05, 0.72), 0.5),
    CancerSiteProfile("colorectal", 0.11, (("C18", 0.70), ("C19", 0.07), ("C20", 0.23)),
                      (0.20, 0.27, 0.30, 0.23), 0.45, 68, 11, (0.80, 0.60, 0.20, 0.10, 0.0), 1.0),
    CancerSiteProfile("lung", 0.12, (("C34", 1.0),), (0.22, 0.10, 0.23, 0.45),
                      0.37, 66, 9, (0.30, 0.65, 0.45, 0.45, 0.0), 1.8),
    CancerSiteProfile("prostate", 0.09, (("C61", 1.0),), (0.50, 0.25, 0.12, 0.13),
                      0.0, 69, 8, (0.35, 0.15, 0.45, 0.05, 0.55), 0.4),
    CancerSiteProfile("haematological", 0.10,
                      (("C81", 0.12), ("C83", 0.25), ("C85", 0.13), ("C90", 0.25),
                       ("C91", 0.12), ("C92", 0.13)),
                      (0.15, 0.20, 0.25, 0.40), 0.44, 63, 15, (0.02, 0.90, 0.20, 0.30, 0.0), 1.1),
    CancerSiteProfile("gynaecological", 0.07, (("C53", 0.25), ("C54", 0.40), ("C56", 0.35)),
                      (0.40, 0.15, 0.25, 0.20), 1.0, 62, 12, (0.80, 0.55, 0.45, 0.08, 0.03), 1.0),
    CancerSiteProfile("head_and_neck", 0.06,
                      (("C01", 0.15), ("C02", 0.15), ("C10", 0.30), ("C32", 0.40)),
                      (0.20, 0.15, 0.25, 0.40), 0.25, 63, 10, (0.55, 0.50, 0.85, 0.12, 0.0), 1.1),
    CancerSiteProfile("pancreas", 0.03, (("C25", 1.0),), (0.10, 0.20, 0.20, 0.50),
                      0.48, 70, 9, (0.20, 0.85, 0.15, 0.02, 0.0), 2.5),
    CancerSiteProfile("urological", 0.04, (("C64", 0.55), ("C67", 0.45)),
                      (0.45, 0.20, 0.15, 0.20), 0.28, 67, 10, (0.75, 0.30, 0.08, 0.25, 0.0), 0.9),
    CancerSiteProfile("melanoma", 0.03, (("C43", 1.0),), (0.45, 0.25, 0.18, 0.12),
                      0.50, 60, 15, (0.95, 0.05, 0.10, 0.35, 0.0), 0.7),
    CancerSiteProfile("other", 0.05, (("C15", 0.30), ("C16", 0.35), ("C71", 0.35)),
                      (0.15, 0.20, 0.25, 0.40), 0.40, 64, 12, (0.55, 0.65, 0.50, 0.10, 0.0), 1.6),
)

# EORTC QLQ-C30 reference values, all cancer patients pooled (Scott et al., EORTC QLQ-C30
# Reference Values manual, 2008), mean and SD, as widely cited. Baseline scores are calibrated
# to these. Verify against the manual before quoting them as anything but generator targets.
QLQ_C30_REFERENCE: tuple[tuple[str, float, float], ...] = (
    ("QL2", 61.3, 24.2), ("PF2", 76.7, 23.1), ("RF2", 70.7, 32.1), ("EF", 71.3, 24.1),
    ("CF", 82.0, 22.6), ("SF", 74.9, 29.0), ("FA", 34.3, 27.3), ("NV", 8.6, 18.0),
    ("PA", 27.8, 29.7), ("DY", 21.1, 28.6), ("SL", 30.2, 32.1), ("AP", 21.4, 31.0),
    ("CO", 17.3, 27.6), ("DI", 9.1, 19.6), ("FI", 20.2, 29.7),
)

# Totals typical of mixed oncology samples (approximate, generator targets only).
PHQ9_REFERENCE: tuple[float, float] = (6.0, 5.0)
GAD7_REFERENCE: tuple[float, float] = (5.0, 4.5)
