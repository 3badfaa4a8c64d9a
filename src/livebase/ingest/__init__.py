"""Ingestion: readers, presets and validation that load source files into the store."""

from livebase.ingest.load import LoadOptions, LoadResult, load_file
from livebase.ingest.presets import PRESETS, Preset
from livebase.ingest.source import expand_inputs

__all__ = ["PRESETS", "LoadOptions", "LoadResult", "Preset", "expand_inputs", "load_file"]
