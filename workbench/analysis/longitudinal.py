"""Linear mixed models for repeated PRO scores, with convergence problems told in plain words.

statsmodels' ``MixedLM`` often ends with warnings (no convergence, boundary estimates, a Hessian
that is not positive definite) that a notebook user never sees. Here every warning is captured,
translated, kept in ``notes``, and a failed fit is retried with other optimisers and then with
a random intercept only, saying so. When nothing can be fitted a ``ValidationError`` says what
to change. p-values are z-based: statsmodels has no Kenward–Roger or Satterthwaite degrees of
freedom and no MMRM (unstructured residual covariance); both limits are stated in ``notes``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from workbench.analysis._checks import check_columns, check_groups, row_label
from workbench.analysis.lmm_fast import FastFit, fit_lmm
from workbench.errors import ValidationError

__all__ = [
    "FAST_OPTIMISERS", "OPTIMISERS", "MixedModelFit", "fit_mixed_model", "growth_formula",
    "tidy_name",
]

OPTIMISERS = ("lbfgs", "bfgs", "cg", "powell")  # statsmodels MixedLM, tried in this order
FAST_OPTIMISERS = ("Nelder-Mead", "L-BFGS-B", "Powell")  # scipy, for engine="fast"
LIMITS = (
    "p-values are z-based (no small-sample Kenward–Roger or Satterthwaite correction);"
    " statsmodels has no MMRM with unstructured residual covariance."
)


@dataclass(frozen=True)
class MixedModelFit:
    """A fitted LMM; ``fixed`` holds estimate, se, z, p and 95% CI for each fixed effect."""

    formula: str
    subject: str
    random: str
    method: str
    optimiser: str
    converged: bool
    fixed: pd.DataFrame
    variance: pd.DataFrame
    log_likelihood: float
    n_obs: int
    n_subjects: int
    notes: tuple[str, ...]
    result: Any = field(repr=False, compare=False)


def tidy_name(name: str) -> str:
    """'C(Q("arm"))[T.B]' → 'C(arm)[T.B]' for readable tables of hand-written formulas."""
    return re.sub(r'Q\("([^"]+)"\)', r"\1", name)


def _name(column: str) -> str:
    if not column.isidentifier():
        raise ValidationError(
            "column names used in a model formula must be plain names (letters, digits and"
            " underscores, not starting with a digit); rename the column",
            where=f"column {column!r}",
        )
    return column


def growth_formula(outcome: str, time: str, *, arm: str | None = None,
                   covariates: tuple[str, ...] = (), time_categorical: bool = False) -> str:
    """``outcome ~ time * C(arm) + covariates``: the growth-curve model of SISAQOL-style analyses.

    Adjust for the baseline score by passing it in ``covariates`` (do not model change from
    baseline without it).
    """
    t = f"C({_name(time)})" if time_categorical else _name(time)
    rhs = f"{t} * C({_name(arm)})" if arm else t
    rhs += "".join(f" + {_name(c)}" for c in covariates)
    return f"{_name(outcome)} ~ {rhs}"


def fit_mixed_model(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    slope: str | None = None,
    reml: bool = True,
    fallback: bool = True,
    engine: Literal["statsmodels", "fast"] = "statsmodels",
) -> MixedModelFit:
    """Fit ``formula`` with a random intercept per ``subject`` (and a random ``slope`` on that
    numeric column, unstructured 2×2 covariance). REML by default; ML for likelihood-ratio tests.

    With ``fallback`` a failed fit is retried with each optimiser in ``OPTIMISERS``, then with a
    random intercept only; ``notes`` records every step. ``engine="fast"`` uses the vectorised
    profiled-likelihood engine of ``lmm_fast`` (same model, seconds instead of minutes for
    100,000 subjects; standard errors σ²(X'V⁻¹X)⁻¹ as in lme4).
    """
    if engine not in ("statsmodels", "fast"):
        raise ValidationError("engine must be 'statsmodels' or 'fast'", where="engine")
    check_columns(data, [subject, slope], what="data")
    check_groups(data, subject)
    data = data.reset_index(drop=True)  # positions link design rows back to subjects
    if slope is not None:
        values = pd.to_numeric(data[slope], errors="coerce")
        if values.isna().any():
            raise ValidationError(
                "the random slope needs a numeric time column (e.g. weeks since baseline)",
                where=row_label(data, values.isna().to_numpy(), slope),
            )
    design = _check_fixed_design(data, formula)
    early_notes = []
    if slope is not None and (pd.to_numeric(data[slope]) < 0).any():
        early_notes.append(
            f"{slope} has negative values ({row_label(data, (pd.to_numeric(data[slope]) < 0).to_numpy(), slope)}):"
            " the intercept and the group difference are then estimates at time 0, not at the first"
            " assessment; count time from baseline (or randomisation) if that is what you mean"
        )
    if slope is not None and data.groupby(subject)[slope].nunique().max() < 2:
        raise ValidationError(
            "no subject has scores at two different times, so a change over time cannot be"
            " modelled; check the time column or drop the random slope",
            where=f"column {slope}",
        )
    notes: list[str] = list(early_notes)
    plans = [slope, None] if slope is not None and fallback else [slope]
    optimisers = OPTIMISERS if engine == "statsmodels" else FAST_OPTIMISERS
    optimisers = optimisers if fallback else optimisers[:1]
    failures: list[str] = []
    for re_time in plans:
        for method in optimisers:
            if engine == "fast":
                outcome = _attempt_fast(design, data, subject, re_time, reml, method)
            else:
                outcome = _attempt(data, formula, subject, re_time, reml, method)
            if isinstance(outcome, str):
                failures.append(f"{_describe(re_time)} with {method}: {outcome}")
                continue
            result, soft = outcome
            if failures:
                notes.append("earlier attempts failed — " + "; ".join(failures))
                if re_time != slope:
                    notes.append(
                        "FALLBACK: the random slope was dropped; this is a random-intercept model,"
                        " which assumes every subject changes at the same rate"
                    )
            notes.extend(soft)
            n_dropped = len(data) - int(result.model.nobs)
            if n_dropped:
                notes.append(
                    f"{n_dropped} row(s) with a blank outcome or covariate were left out; the model"
                    " uses all other available data (valid if data are missing at random)"
                )
            notes.append(LIMITS)
            return _summarise(result, formula, subject, re_time, reml, method, notes)
    raise ValidationError(
        "the mixed model could not be fitted (" + "; ".join(failures) + "). Simplify it: drop the"
        " random slope or covariates, merge rare categories, check that subjects have repeated"
        " scores and that time is in sensible units (weeks rather than days)",
        where=f"formula {tidy_name(formula)}",
    )


def _check_fixed_design(data: pd.DataFrame, formula: str) -> Any:
    """Name the term that duplicates others before statsmodels fails with a bare LinAlgError."""
    outcome = formula.split("~", 1)[0].strip()
    if outcome in data.columns and pd.to_numeric(data[outcome], errors="coerce").notna().sum() == 0:
        raise ValidationError("the outcome has no numeric value in any row; check the column"
                              " (scores not extracted, or stored as text)", where=f"column {outcome}")
    try:
        model = smf.ols(formula, data, missing="drop")
    except Exception as exc:
        raise ValidationError(f"formula problem: {exc}", where="formula") from None
    spec = model.data.model_spec
    for factor, info in getattr(spec, "factor_infos", {}).items():
        if info.type == "categorical" and len(info.categories) < 2:
            only = ", ".join(map(str, info.categories))
            raise ValidationError(
                f"{tidy_name(factor.name())} has a single level ({only}), so there is nothing to"
                " compare; drop it from the formula or check the data extract",
                where=f"formula {tidy_name(formula)}",
            )
    exog = np.asarray(model.exog, dtype=float)
    if exog.shape[0] == 0:
        raise ValidationError("no complete rows left for this formula", where="formula")
    gram = exog.T @ exog / exog.shape[0]
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    gram = gram / np.outer(scale, scale)
    for j in range(1, gram.shape[0] + 1):
        if np.linalg.matrix_rank(gram[:j, :j], tol=1e-9) < j:
            name = tidy_name(model.exog_names[j - 1])
            raise ValidationError(
                f"term {name} never varies or is a combination of earlier terms; drop it or"
                " merge categories with no data",
                where=f"formula {tidy_name(formula)}",
            )
    return model


class _FastResult:
    """The few attributes of a statsmodels MixedLM result that the summaries read."""

    def __init__(self, fit: FastFit, design: Any, n_subjects: int, names: list[str]) -> None:
        self.fe_params = pd.Series(fit.beta, index=design.exog_names)
        self.params = self.fe_params
        self._cov = fit.cov_beta
        self.bse_fe = pd.Series(np.sqrt(np.diag(fit.cov_beta)), index=design.exog_names)
        self.cov_re = pd.DataFrame(fit.cov_re, index=names, columns=names)
        self.scale, self.llf, self.converged = fit.sigma2, fit.log_likelihood, fit.converged
        self.model = design
        self.model.group_labels = range(n_subjects)

    def cov_params(self) -> np.ndarray:
        return self._cov


def _attempt_fast(design: Any, data: pd.DataFrame, subject: str, re_time: str | None,
                  reml: bool, method: str) -> tuple[Any, list[str]] | str:
    rows = data.index.get_indexer(design.data.row_labels)
    groups = data[subject].to_numpy()[rows]
    z = np.ones((rows.size, 2 if re_time else 1))
    if re_time:
        z[:, 1] = pd.to_numeric(data[re_time]).to_numpy(dtype=float)[rows]
    try:
        fit = fit_lmm(np.asarray(design.exog, float), np.asarray(design.endog, float), z, groups,
                      reml=reml, method=method)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return f"cannot be estimated ({_plain_error(exc)})"
    if not fit.converged:
        return f"the optimiser did not converge ({fit.message})"
    if not (np.isfinite(fit.beta).all() and np.isfinite(fit.cov_beta).all()):
        return "estimates or standard errors are not finite"
    soft = ["engine: vectorised profiled likelihood (lme4 formulation), scipy " + method]
    if fit.on_boundary:
        soft.append(_plain("boundary"))
    names = ["Group", re_time] if re_time else ["Group"]
    return _FastResult(fit, design, len(np.unique(groups)), names), soft


def _describe(re_time: str | None) -> str:
    return f"random intercept and slope on {re_time}" if re_time else "random intercept only"


def _attempt(
    data: pd.DataFrame, formula: str, subject: str, re_time: str | None, reml: bool, method: str
) -> tuple[Any, list[str]] | str:
    """A fitted result and plain-words remarks, or why this attempt is not acceptable."""
    re_formula = f"~{_name(re_time)}" if re_time else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.mixedlm(formula, data, groups=data[subject], re_formula=re_formula,
                                missing="drop")
            result = model.fit(reml=reml, method=[method])
        except (np.linalg.LinAlgError, ValueError) as exc:
            return f"cannot be estimated ({_plain_error(exc)})"
        except Exception as exc:  # patsy errors: bad formula or column names
            if type(exc).__name__ in ("PatsyError", "FactorEvaluationError"):
                raise ValidationError(f"formula problem: {exc}", where="formula") from None
            raise
    messages = [str(w.message) for w in caught]
    hard = [m for m in messages if _is_hard(m)]
    if hard or not result.converged:
        return "the optimiser did not converge" if not hard else _plain(hard[0])
    params = np.asarray(result.fe_params)
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(np.asarray(result.bse_fe))):
        return "estimates or standard errors are not finite"
    soft = sorted({_plain(m) for m in messages})
    return result, soft


def _is_hard(message: str) -> bool:
    lowered = message.lower()
    return any(k in lowered for k in ("failed to converge", "optimization failed",
                                      "not positive definite", "singular"))


def _plain(message: str) -> str:
    lowered = message.lower()
    if "boundary" in lowered:
        return ("a variance component is estimated at or near zero (boundary): the random"
                " effect it belongs to may be unnecessary")
    if "singular" in lowered:
        return "a variance is estimated as zero (the random-effects covariance is singular)"
    if "not positive definite" in lowered:
        return "standard errors are unreliable (the information matrix is not positive definite)"
    if "converge" in lowered or "optimization failed" in lowered:
        return "the optimiser did not converge"
    return message


def _plain_error(exc: Exception) -> str:
    text = str(exc)
    if "singular" in text.lower():
        return "a matrix is singular (a variance is zero, or two terms carry the same information)"
    return text or type(exc).__name__


def _summarise(result: Any, formula: str, subject: str, re_time: str | None, reml: bool,
               method: str, notes: list[str]) -> MixedModelFit:
    k = len(result.fe_params)
    est = np.asarray(result.fe_params)
    se = np.asarray(result.bse_fe)
    z = est / se
    q = stats.norm.ppf(0.975)
    fixed = pd.DataFrame({
        "term": [tidy_name(n) for n in result.model.exog_names[:k]],
        "estimate": est, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
        "ci_low": est - q * se, "ci_high": est + q * se,
    })
    cov = np.asarray(result.cov_re) * 1.0
    names = ["intercept" if n == "Group" else tidy_name(n) for n in result.cov_re.columns]
    rows = [(f"subject: {names[i]}", cov[i, i], np.sqrt(max(cov[i, i], 0.0))) for i in range(len(names))]
    variance = pd.DataFrame(rows, columns=["component", "variance", "sd"])
    if len(names) == 2:
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        corr = cov[0, 1] / (sd[0] * sd[1]) if sd.all() else 0.0
        variance.loc[len(variance)] = ["subject: correlation", corr, np.nan]
    variance.loc[len(variance)] = ["residual", float(result.scale), float(np.sqrt(result.scale))]
    return MixedModelFit(
        formula=tidy_name(formula), subject=subject, random=_describe(re_time),
        method="REML" if reml else "ML", optimiser=method, converged=bool(result.converged),
        fixed=fixed, variance=variance, log_likelihood=float(result.llf),
        n_obs=int(result.model.nobs), n_subjects=len(result.model.group_labels),
        notes=tuple(notes), result=result,
    )
