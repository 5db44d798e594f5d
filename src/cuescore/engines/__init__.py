"""Engines: from video features to a music plan. Importing this package registers them.

The learned engine `amt` needs torch and safetensors; it is registered without importing them
(they load when the engine is built), or recorded in `MISSING` when they are not installed.
"""

from importlib.util import find_spec

from cuescore.engines.base import DEFAULT_ENGINE, ENGINES, MISSING, Engine, available_engines, get_engine, register
from cuescore.engines import affective  # noqa: F401  (registers "affective")

if find_spec("torch") is not None and find_spec("safetensors") is not None:
    from cuescore.engines import amt  # noqa: F401  (registers "amt")
else:
    MISSING["amt"] = "pip install torch safetensors (the AMT engine runs trained models)"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "MISSING", "Engine", "available_engines", "get_engine", "register"]
