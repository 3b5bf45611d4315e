"""Quality-of-life analysis toolkit: pure functions on pandas tables, no I/O and no Jupyter.

- Longitudinal: ``fit_mixed_model`` (LMM with reported convergence and fallbacks),
  ``adjusted_means`` per arm and time point, ``fit_gee`` as a sensitivity analysis.
- Time to deterioration: ``DeteriorationRule`` + ``time_to_deterioration`` (TTD/TUDD).
- Survival: ``kaplan_meier``, ``logrank_test``, ``cox_model`` (Efron ties), ``compare_groups``.
- Reporting: ``assessment_status``, ``compliance_table`` (SISAQOL rates), ``consort_pro_flow``,
  ``responders``.
- Figures (plotly): see ``workbench.analysis.figures``.

Bad input raises ``workbench.errors.ValidationError`` saying what to change; results are never
silently NaN.
"""

from workbench.analysis.deterioration import (
    DAYS_PER_MONTH,
    QLQ_C30_WORSE,
    DeteriorationRule,
    time_to_deterioration,
)
from workbench.analysis.kaplan_meier import KaplanMeier, kaplan_meier, number_at_risk
from workbench.analysis.longitudinal import MixedModelFit, fit_mixed_model, growth_formula
from workbench.analysis.marginal import GeeFit, adjusted_means, fit_gee
from workbench.analysis.reporting import (
    assessment_status,
    compliance_table,
    consort_pro_flow,
    responders,
)
from workbench.analysis.survival import (
    CoxModel,
    LogRank,
    SurvivalComparison,
    compare_groups,
    cox_model,
    logrank_test,
    proportional_hazards_test,
)

__all__ = [
    "DAYS_PER_MONTH",
    "QLQ_C30_WORSE",
    "CoxModel",
    "DeteriorationRule",
    "GeeFit",
    "KaplanMeier",
    "LogRank",
    "MixedModelFit",
    "SurvivalComparison",
    "adjusted_means",
    "assessment_status",
    "compare_groups",
    "compliance_table",
    "consort_pro_flow",
    "cox_model",
    "fit_gee",
    "fit_mixed_model",
    "growth_formula",
    "kaplan_meier",
    "logrank_test",
    "number_at_risk",
    "proportional_hazards_test",
    "responders",
    "time_to_deterioration",
]
