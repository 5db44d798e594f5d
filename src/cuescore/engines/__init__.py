"""Engines: from video features to music. `CATALOG` declares them; `get_engine` builds one.

Importing this package loads no engine: each engine's module (and its numpy, torch, ...) is
imported when it is built, so describing engines (`cuescore generate --help`) stays cheap.
"""

from cuescore.engines.base import (
    AnalysisNeeds, Composition, Engine, EngineRecord, available_engines, engine_class, get_engine,
)
from cuescore.engines.catalog import CATALOG, DEFAULT_ENGINE, EngineInfo, EngineOption

__all__ = [
    "AnalysisNeeds", "CATALOG", "Composition", "DEFAULT_ENGINE", "Engine", "EngineInfo", "EngineOption",
    "EngineRecord", "available_engines", "engine_class", "get_engine",
]
