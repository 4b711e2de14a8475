"""Deprecated alias of :mod:`qstash_receiver.names` (kept while callers move)."""

from .names import *  # noqa: F403
from .names import normalize_region, region_header, regional

__all__ = ["normalize_region", "region_header", "regional"]
