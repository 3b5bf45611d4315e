"""Quality-of-life analysis toolkit: pure functions on pandas tables, no I/O and no Jupyter.

- Longitudinal: ``fit_mixed_model`` (LMM with reported convergence and fallbacks),
  ``adjusted_means`` per arm and time point, ``fit_gee`` as a sensitivity analysis.
- Time to deterioration: ``DeteriorationRule`` + ``time_to_deterioration`` (TTD/TUDD).
- Survival: ``kaplan_meier``, ``logrank_test``, ``cox_model`` (Efron ties), ``compare_groups``.
- Reporting: ``assessment_status``, ``compliance_table`` (SISAQOL rates), ``consort_pro_flow``,
  ``responders``.
- Description: ``baseline_table`` ("Table 1"), ``observed_means``, ``received_status``.
- Mixed methods: ``code_score_table`` and ``code_presence`` (qualitative codes × scores).
- Figures (plotly): see ``workbench.analysis.figures``.
- Notebook data access (the one module that reads a warehouse): ``workbench.analysis.cohort_data``.

Bad input raises ``workbench.errors.ValidationError`` saying what to change; results are never
silently NaN.
"""

from workbench.analysis.describe import baseline_table, observed_means, received_status
from workbench.analysis.deterioration import (
    DAYS_PER_MONTH,
    QLQ_C30_WORSE,
    DeteriorationRule,
    time_to_deterioration,
)
from workbench.analysis.kaplan_meier import KaplanMeier, kaplan_meier, number_at_risk
from workbench.analysis.longitudinal import MixedModelFit, fit_mixed_model, growth_formula
from workbench.analysis.marginal import GeeFit, adjusted_means, fit_gee
from workbench.analysis.mixed import code_presence, code_score_table
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
    "baseline_table",
    "code_presence",
    "code_score_table",
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
    "observed_means",
    "proportional_hazards_test",
    "received_status",
    "responders",
    "time_to_deterioration",
]
