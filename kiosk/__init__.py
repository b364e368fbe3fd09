"""Hài Lòng terminal: the rating flow, the local store and the config.

The public API; the Kivy app lives in :mod:`kiosk.ui` and is imported only by
``kiosk run``.
"""

__version__ = "0.1.0"

from .config import Config, load_config, parse_config
from .errors import ConfigError, KioskError, StoreError
from .flow import FlowEvent, RatingFlow
from .store import RatingStore, open_database

__all__ = [
    "Config", "ConfigError", "FlowEvent", "KioskError", "RatingFlow",
    "RatingStore", "StoreError", "__version__", "load_config", "open_database", "parse_config",
]
