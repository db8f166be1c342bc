"""Atomic output files; the implementation lives in :mod:`mesalens.connectors.atomic`.

Kept so that report code imports its writers from its own layer.
"""

from mesalens.connectors.atomic import atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text"]
