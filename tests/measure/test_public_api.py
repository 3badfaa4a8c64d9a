"""The public API of livebase.measure is its sorted __all__, and every name exists."""

from __future__ import annotations

import livebase.measure as measure


def _isort_key(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions (ruff's RUF022 order)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    assert measure.__all__ == sorted(measure.__all__, key=_isort_key)
    for name in measure.__all__:
        assert hasattr(measure, name), name
    public = {n for n in dir(measure) if not n.startswith("_")}
    modules = {"assignment", "charts", "experiment_file", "intervals", "power", "statistics",
               "store_io", "uplift", "annotations", "compare",
               "results", "sufficient", "store_experiments", "store_readout", "store_uplift",
               "store_assignments", "lognormal", "ratios", "pooling", "sequential", "coverage",
               "uplift_eval", "uplift_metrics", "uplift_params", "playbook_readout", "playbook_store", "playbook_sql",
               "playbook_workflow", "settings", "priorities"}  # fmt: skip
    assert public - modules == set(measure.__all__)
    assert callable(measure.readout)  # the function, not the module of the same name
