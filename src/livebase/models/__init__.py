"""Customer value models: BG/NBD and MBG/NBD purchase counts, Gamma-Gamma spend, CLV,
holdout validation and scenario prioritisation.

Typical use (the CLI does this)::

    summary = summarise(transactions, until=date(1997, 9, 30), unit="weeks")
    fit = fit_clv(summary)                       # BG/NBD + Gamma-Gamma
    fit.to_dict()                                # {"bgnbd": {...}, "gamma_gamma": {...}, ...}
    predict_clv(summary, fit.purchases, fit.spend, horizons_days=(90, 365))
"""

from typing import TYPE_CHECKING

from livebase._lazy import lazy_exports

if TYPE_CHECKING:
    from livebase.models._base import UNIT_DAYS, FittedModel, PurchaseModel, Unit
    from livebase.models.bgnbd import BGNBD, bgnbd_log_likelihood, simulate_bgnbd
    from livebase.models.clv import (
        DAYS_PER_MONTH,
        ClvFit,
        PurchaseModelName,
        fit_clv,
        model_from_dict,
        predict_clv,
    )
    from livebase.models.fallback import MIN_SPEND_CUSTOMERS, ClvWarning, ClvWarningCode
    from livebase.models.gamma_gamma import (
        CORRELATION_WARNING_THRESHOLD,
        FrequencyValueCorrelationWarning,
        GammaGamma,
        gamma_gamma_log_likelihood,
    )
    from livebase.models.mbgnbd import MBGNBD, mbgnbd_log_likelihood, simulate_mbgnbd
    from livebase.models.priorities import (
        PRIORITY_COLUMNS,
        PRIORITY_FORMULA,
        Scenario,
        prioritise,
        segment_value,
    )
    from livebase.models.summary import (
        SUMMARY_COLUMNS,
        CustomerSummary,
        daily_transactions,
        summarise,
    )
    from livebase.models.validation import (
        HoldoutValidation,
        plot_holdout_validation,
        validate_holdout,
    )

__all__ = [
    "BGNBD",
    "CORRELATION_WARNING_THRESHOLD",
    "DAYS_PER_MONTH",
    "MBGNBD",
    "MIN_SPEND_CUSTOMERS",
    "PRIORITY_COLUMNS",
    "PRIORITY_FORMULA",
    "SUMMARY_COLUMNS",
    "UNIT_DAYS",
    "ClvFit",
    "ClvWarning",
    "ClvWarningCode",
    "CustomerSummary",
    "FittedModel",
    "FrequencyValueCorrelationWarning",
    "GammaGamma",
    "HoldoutValidation",
    "PurchaseModel",
    "PurchaseModelName",
    "Scenario",
    "Unit",
    "bgnbd_log_likelihood",
    "daily_transactions",
    "fit_clv",
    "gamma_gamma_log_likelihood",
    "mbgnbd_log_likelihood",
    "model_from_dict",
    "plot_holdout_validation",
    "predict_clv",
    "prioritise",
    "segment_value",
    "simulate_bgnbd",
    "simulate_mbgnbd",
    "summarise",
    "validate_holdout",
]

# imported on first use, so that importing a settings module stays cheap (livebase._lazy)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "livebase.models._base": ["FittedModel", "PurchaseModel", "UNIT_DAYS", "Unit"],
        "livebase.models.bgnbd": ["BGNBD", "bgnbd_log_likelihood", "simulate_bgnbd"],
        "livebase.models.clv": [
            "ClvFit",
            "DAYS_PER_MONTH",
            "PurchaseModelName",
            "fit_clv",
            "model_from_dict",
            "predict_clv",
        ],
        "livebase.models.fallback": ["ClvWarning", "ClvWarningCode", "MIN_SPEND_CUSTOMERS"],
        "livebase.models.gamma_gamma": [
            "CORRELATION_WARNING_THRESHOLD",
            "FrequencyValueCorrelationWarning",
            "GammaGamma",
            "gamma_gamma_log_likelihood",
        ],
        "livebase.models.mbgnbd": ["MBGNBD", "mbgnbd_log_likelihood", "simulate_mbgnbd"],
        "livebase.models.priorities": [
            "PRIORITY_COLUMNS",
            "PRIORITY_FORMULA",
            "Scenario",
            "prioritise",
            "segment_value",
        ],
        "livebase.models.summary": [
            "CustomerSummary",
            "SUMMARY_COLUMNS",
            "daily_transactions",
            "summarise",
        ],
        "livebase.models.validation": [
            "HoldoutValidation",
            "plot_holdout_validation",
            "validate_holdout",
        ],
    },
)
