"""Lazy package exports: a package's public names are imported on their first use.

``livebase.config`` needs only the settings modules of a few packages; importing a settings
module runs its package's ``__init__``, which must therefore not load DuckDB, pandas or SciPy.
Each such ``__init__`` imports its public names under ``TYPE_CHECKING`` (for mypy and readers)
and resolves them at run time through :func:`lazy_exports`.

>>> getattr_, dir_ = lazy_exports("livebase.errors_demo", {"livebase.errors": ["did_you_mean"]})
>>> getattr_("did_you_mean")("colour", ["color"])
" — did you mean 'color'?"
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` that import ``exports`` (module → names) on use."""
    where = {name: module for module, names in exports.items() for name in names}
    owner = sys.modules.get(package)
    shadowed = {n for n, m in where.items() if m == f"{package}.{n}"}
    if owner is not None and shadowed:
        owner.__class__ = _keep_exports(shadowed)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        owner = sys.modules.get(package)
        if owner is not None:
            setattr(owner, name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        owner = sys.modules.get(package)
        return sorted(set(where) | set(vars(owner) if owner is not None else ()))

    return __getattr__, __dir__


def _keep_exports(names: set[str]) -> type[ModuleType]:
    """A module class that keeps ``names`` bound to the object of the same name in the
    submodule of the same name (``segments.transitions`` the function, not the module),
    when importing that submodule makes Python bind the package attribute to the module."""

    class _Package(ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, ModuleType) and hasattr(value, name):
                value = getattr(value, name)
            super().__setattr__(name, value)

    return _Package
