"""The public API of livebase.report is its sorted __all__; the modules behind it are private."""

from __future__ import annotations

import livebase.report as report


def _isort_key(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions (ruff's RUF022 order)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_complete_and_private_modules_stay_private() -> None:
    assert report.__all__ == sorted(report.__all__, key=_isort_key)
    for name in report.__all__:
        assert hasattr(report, name), name
    # the published dashboards' snapshot and the playbooks section are modules of their own
    modules = {"playbooks", "snapshot"}
    public = {n for n in dir(report) if not n.startswith("_")} - modules
    assert public == set(report.__all__)
