"""livebase: turn a customer base into a living asset.

Segments that live, playbooks that act, measurement that tells the truth — on your own data,
in a DuckDB store in your workspace folder.
"""

from livebase.errors import LivebaseError

__all__ = ["LivebaseError", "__version__"]

__version__ = "0.1.0"
