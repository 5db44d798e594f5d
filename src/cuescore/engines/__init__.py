"""Engines: from video features to a music plan. Importing this package registers them."""

from cuescore.engines.base import DEFAULT_ENGINE, ENGINES, MISSING, Engine, available_engines, get_engine, register
from cuescore.engines import affective  # noqa: F401  (registers "affective")

__all__ = ["DEFAULT_ENGINE", "ENGINES", "MISSING", "Engine", "available_engines", "get_engine", "register"]
