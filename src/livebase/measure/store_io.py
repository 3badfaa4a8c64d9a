"""Experiments in the store, one module per stage (this module re-exports them).

* :mod:`livebase.measure.store_experiments`: imports, listing, units read back;
* :mod:`livebase.measure.store_readout`: readouts aggregated in DuckDB;
* :mod:`livebase.measure.store_uplift`: uplift models and scores;
* :mod:`livebase.measure.store_assignments`: playbook assignments.
"""

from __future__ import annotations

from livebase.measure.store_assignments import record_assignments
from livebase.measure.store_experiments import (
    StoredExperiment,
    delete_experiment,
    experiment_names,
    get_experiment,
    list_experiments,
    load_units,
    save_experiment,
)
from livebase.measure.store_readout import (
    default_conversion,
    default_revenue,
    read_out,
    stats_from_store,
)
from livebase.measure.store_uplift import (
    MAX_CATEGORIES,
    StoredUpliftModel,
    load_uplift_model,
    read_uplift_scores,
    save_uplift_model,
    save_uplift_scores,
    uplift_features,
)

__all__ = [
    "MAX_CATEGORIES",
    "StoredExperiment",
    "StoredUpliftModel",
    "default_conversion",
    "default_revenue",
    "delete_experiment",
    "experiment_names",
    "get_experiment",
    "list_experiments",
    "load_units",
    "load_uplift_model",
    "read_out",
    "read_uplift_scores",
    "record_assignments",
    "save_experiment",
    "save_uplift_model",
    "save_uplift_scores",
    "stats_from_store",
    "uplift_features",
]
