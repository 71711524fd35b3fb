"""Values that sources use in place of a real identifier or label.

The GA4 export writes ``(not set)``, ``<Other>``, ``(data deleted)`` and
``<obfuscated>``; trackers and forms add ``unknown``, ``0``, ``null`` and blanks.
They are kept as values in descriptive columns but must never become an
identifier (a login, a transaction id, a hashed e-mail): thousands of people
share them. Compare lower-cased and trimmed.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

PLACEHOLDER_VALUES: frozenset[str] = frozenset(
    {"", "unknown", "0", "null", "none", "undefined", "(not set)", "(data deleted)", "<other>", "<obfuscated>", "n/a"}
)


def is_placeholder(column: Column) -> Column:
    """True when ``column`` is null, blank or a known placeholder (case-insensitive)."""
    return column.isNull() | F.lower(F.trim(column)).isin(*sorted(PLACEHOLDER_VALUES))
