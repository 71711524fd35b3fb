"""64-bit integer keys for string identifiers, computed once at ingestion.

Later stages shuffle, join and sort on these longs instead of strings. The hash
is Spark's ``xxhash64`` over a type prefix and the value, so a device id and a
login id with the same text get different keys. Collisions are possible in
principle (64 bits); identity checks for them and fails loudly.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def key_of(id_type: str, value: Column) -> Column:
    """``xxhash64(id_type, value)`` as a LONG; null when ``value`` is null."""
    return F.when(value.isNull(), F.lit(None).cast("long")).otherwise(F.xxhash64(F.lit(id_type), value))


DEVICE = "device"
LOGIN = "login"
EMAIL = "email"
PHONE = "phone"
FINGERPRINT = "fingerprint"
GCLID = "gclid"
TRANSACTION = "transaction"
BACKEND_ORDER = "backend_order"
BACKEND_USER = "backend_user"
ID_TYPES = (DEVICE, LOGIN, EMAIL, PHONE, FINGERPRINT, GCLID, TRANSACTION, BACKEND_ORDER, BACKEND_USER)
