"""The store: DuckDB schema, migrations, transactions."""

from livebase.store._store import Store, migrations
from livebase.store.summary import StoreSummary, summarize

__all__ = ["Store", "StoreSummary", "migrations", "summarize"]
