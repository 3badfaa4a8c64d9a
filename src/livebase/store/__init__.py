"""The store: DuckDB schema, migrations, transactions."""

from typing import TYPE_CHECKING

from livebase._lazy import lazy_exports

if TYPE_CHECKING:
    from livebase.store._store import Store, migrations
    from livebase.store.summary import StoreSummary, summarize

__all__ = ["Store", "StoreSummary", "migrations", "summarize"]

# imported on first use, so that importing a settings module stays cheap (livebase._lazy)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "livebase.store._store": ["Store", "migrations"],
        "livebase.store.summary": ["StoreSummary", "summarize"],
    },
)
