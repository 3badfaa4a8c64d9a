from __future__ import annotations

import livebase.models as models


def test_every_public_name_is_exported_once_and_importable() -> None:
    assert len(set(models.__all__)) == len(models.__all__)
    for name in models.__all__:
        assert hasattr(models, name), name
    public = {n for n in vars(models) if not n.startswith("_")}
    submodules = {
        "bgnbd",
        "clv",
        "fallback",
        "gamma_gamma",
        "mbgnbd",
        "priorities",
        "scenarios",
        "store_io",
        "summary",
        "validation",
    }
    assert public - submodules - {
        "annotations",
        "lazy_exports",
        "TYPE_CHECKING",
        "settings",
    } == set(models.__all__)
