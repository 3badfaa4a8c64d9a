"""Per-customer features as of a date, generated as SQL over the store (RFM+).

``compute_features(con, settings, as_of)`` returns them as a frame (``livebase.features.compute``);
``features_sql(settings, as_of)`` is the SQL itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livebase._lazy import lazy_exports

if TYPE_CHECKING:
    from livebase.features._columns import BASE_FEATURES, clv_columns
    from livebase.features._sql import (
        FeatureSource,
        feature_columns,
        features_sql,
        sql_string,
        window_days,
    )
    from livebase.features.compute import compute_features, materialize_features
    from livebase.features.settings import (
        FeaturesSettings,
        SignalMeasure,
        SignalSettings,
        SignalSource,
    )
    from livebase.features.state import (
        STATE_COLUMNS,
        customer_state_sql,
        refresh_customer_state,
        state_ready,
    )

__all__ = [
    "BASE_FEATURES",
    "STATE_COLUMNS",
    "FeatureSource",
    "FeaturesSettings",
    "SignalMeasure",
    "SignalSettings",
    "SignalSource",
    "clv_columns",
    "compute_features",
    "customer_state_sql",
    "feature_columns",
    "features_sql",
    "materialize_features",
    "refresh_customer_state",
    "sql_string",
    "state_ready",
    "window_days",
]

# imported on first use, so that importing a settings module stays cheap (livebase._lazy)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "livebase.features.compute": ["compute_features", "materialize_features"],
        "livebase.features._columns": ["BASE_FEATURES", "clv_columns"],
        "livebase.features._sql": [
            "FeatureSource",
            "feature_columns",
            "features_sql",
            "sql_string",
            "window_days",
        ],
        "livebase.features.settings": [
            "FeaturesSettings",
            "SignalMeasure",
            "SignalSettings",
            "SignalSource",
        ],
        "livebase.features.state": [
            "STATE_COLUMNS",
            "customer_state_sql",
            "refresh_customer_state",
            "state_ready",
        ],
    },
)
