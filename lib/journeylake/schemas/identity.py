"""Contracts of the identity tables (silver.identity_edges, silver.identity_map,
silver.identity_merges, silver.identity_audit) and their vocabularies.

Sessions, journeys and gold.users look up ``canonical_user_id`` in silver.identity_map
by ``(id_type='device', id_value=user_pseudo_id)`` and, for ad clicks without a
device, by ``(id_type='gclid', id_value=gclid)``. Id types are those of
``journeylake.keys``; node keys are ``journeylake.keys.key_of(id_type, id_value)``.
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column

# Edge types: which two identifiers an observation linked (src type first).
DEVICE_LOGIN = "device_login"
DEVICE_EMAIL = "device_email"
DEVICE_PHONE = "device_phone"
DEVICE_FINGERPRINT = "device_fingerprint"
DEVICE_GCLID = "device_gclid"
DEVICE_TRANSACTION = "device_transaction"
TRANSACTION_ORDER = "transaction_order"
ORDER_BACKEND_USER = "order_backend_user"
BACKEND_USER_LOGIN = "backend_user_login"
EDGE_TYPES = (
    DEVICE_LOGIN,
    DEVICE_EMAIL,
    DEVICE_PHONE,
    DEVICE_FINGERPRINT,
    DEVICE_GCLID,
    DEVICE_TRANSACTION,
    TRANSACTION_ORDER,
    ORDER_BACKEND_USER,
    BACKEND_USER_LOGIN,
)

# How an edge or a node's membership was established.
DETERMINISTIC = "deterministic"
PROBABILISTIC = "probabilistic"
SINGLETON = "singleton"  # a node with no kept edge: its own person

# Edge status in silver.identity_edges.
ACTIVE = "active"
CUT = "cut"

# Why an edge was cut (silver.identity_audit.reason, silver.identity_edges.cut_reason).
BLOCKED_VALUE = "blocked_value"
DEGREE_CAP_PREFIX = "degree_cap:"  # followed by the id type whose degree was over its cap
COMPONENT_CAP = "component_cap"

# silver.identity_merges.change
MERGE = "merge"
SPLIT = "split"

# One row per identifier link, undirected, oriented by edge type (device side first).
# Key: (src_key, dst_key, edge_type).
IDENTITY_EDGES_SCHEMA = T.StructType(
    [
        column("src_type", T.StringType(), False, "Id type of the first identifier (the device side), e.g. device"),
        column("src_value", T.StringType(), False, "Value of the first identifier, e.g. a user_pseudo_id"),
        column("src_key", T.LongType(), False, "64-bit node key of the first identifier (journeylake.keys.key_of)"),
        column("dst_type", T.StringType(), False, "Id type of the second identifier, e.g. login, email, gclid"),
        column("dst_value", T.StringType(), False, "Value of the second identifier (e-mails and phones as hashes)"),
        column("dst_key", T.LongType(), False, "64-bit node key of the second identifier"),
        column("edge_type", T.StringType(), False, "Which two identifiers the observation linked, e.g. device_login"),
        column(
            "confidence",
            T.DoubleType(),
            False,
            "Confidence (0..1) that the edge joins one person, fixed per edge type, e.g. device_email 0.95",
        ),
        column("method", T.StringType(), False, "deterministic, or probabilistic (device fingerprint edges)"),
        column(
            "first_seen", T.TimestampType(), False, "UTC time the link was first observed (1970-01-01 when unknown)"
        ),
        column("last_seen", T.TimestampType(), False, "UTC time the link was last observed"),
    ]
)

IDENTITY_EDGES_TABLE_SCHEMA = T.StructType(
    [
        *IDENTITY_EDGES_SCHEMA.fields,
        column(
            "status",
            T.StringType(),
            False,
            "active (the edge joins persons) or cut (a guard or the component size cap removed it)",
        ),
        column(
            "cut_reason",
            T.StringType(),
            True,
            "Why the edge is cut: blocked_value, degree_cap:<id type> or component_cap; null when active",
        ),
        column("updated_run_id", T.StringType(), False, "Run that last changed the row"),
    ]
)

# One row per identifier seen (type, value), from events and from edge endpoints.
IDENTITY_NODES_SCHEMA = T.StructType(
    [
        column("id_type", T.StringType(), False, "Id type of the identifier, e.g. device, login, email, gclid"),
        column("id_value", T.StringType(), False, "Value of the identifier (e-mails and phones as hashes)"),
        column("node_key", T.LongType(), False, "64-bit node key of the identifier (journeylake.keys.key_of)"),
        column("first_seen", T.TimestampType(), False, "UTC time the identifier was first observed"),
        column("last_seen", T.TimestampType(), False, "UTC time the identifier was last observed"),
    ]
)

# silver.identity_map. Key: (id_type, id_value); node_key is unique too.
IDENTITY_MAP_SCHEMA = T.StructType(
    [
        column("id_type", T.StringType(), False, "Id type of the identifier, e.g. device, login, email, gclid"),
        column(
            "id_value",
            T.StringType(),
            False,
            "Value of the identifier, e.g. the user_pseudo_id for device (e-mails and phones as hashes)",
        ),
        column("node_key", T.LongType(), False, "64-bit node key of the identifier (journeylake.keys.key_of)"),
        column(
            "canonical_user_id",
            T.LongType(),
            False,
            "The person the identifier belongs to; stable across runs unless a merge or split changes it",
        ),
        column(
            "confidence",
            T.DoubleType(),
            False,
            "Best confidence among the active edges of the identifier; 1.0 for an identifier alone",
        ),
        column(
            "method",
            T.StringType(),
            False,
            "deterministic (any active deterministic edge), probabilistic (only probabilistic ones) or singleton",
        ),
        column("first_seen", T.TimestampType(), False, "UTC time the identifier was first observed"),
        column("last_seen", T.TimestampType(), False, "UTC time the identifier was last observed"),
        column(
            "cap_group_id",
            T.LongType(),
            True,
            "Set when the component size cap broke up its component: the group is re-solved whole; else null",
        ),
        column("updated_run_id", T.StringType(), False, "Run that last changed the row"),
    ]
)

# silver.identity_merges. Key: (as_of, old_canonical_user_id, new_canonical_user_id, change).
IDENTITY_MERGES_SCHEMA = T.StructType(
    [
        column("run_id", T.StringType(), False, "Run that first recorded the change"),
        column("old_canonical_user_id", T.LongType(), False, "Canonical user id before the change"),
        column("new_canonical_user_id", T.LongType(), False, "Canonical user id after the change"),
        column(
            "change",
            T.StringType(),
            False,
            "merge (the old id was merged into the new one) or split (members of the old id moved to the new one)",
        ),
        column(
            "cause",
            T.StringType(),
            False,
            "Edge types (added, or their cut reason) and up to 5 sample edge keys behind the change",
        ),
        column("as_of", T.TimestampType(), False, "As-of time (UTC) of the run that recorded the change"),
    ]
)

# silver.identity_audit: edges a guard cut in a run. Key: (as_of, src_key, dst_key, edge_type, reason).
IDENTITY_AUDIT_SCHEMA = T.StructType(
    [
        column("run_id", T.StringType(), False, "Run that first cut the edge"),
        column("src_type", T.StringType(), False, "Id type of the first identifier of the cut edge"),
        column("src_value", T.StringType(), False, "Value of the first identifier of the cut edge"),
        column("src_key", T.LongType(), False, "64-bit node key of the first identifier"),
        column("dst_type", T.StringType(), False, "Id type of the second identifier of the cut edge"),
        column("dst_value", T.StringType(), False, "Value of the second identifier of the cut edge"),
        column("dst_key", T.LongType(), False, "64-bit node key of the second identifier"),
        column("edge_type", T.StringType(), False, "Edge type of the cut edge, e.g. device_login"),
        column(
            "reason",
            T.StringType(),
            False,
            "Why it was cut: blocked_value, degree_cap:<id type> or component_cap",
        ),
        column("as_of", T.TimestampType(), False, "As-of time (UTC) of the run that cut the edge"),
    ]
)

# Node-to-component assignment produced by the solver for the nodes it re-solved.
PARTITION_SCHEMA = T.StructType(
    [
        T.StructField("node_key", T.LongType(), False),
        T.StructField("component", T.LongType(), False),
        T.StructField("cap_group_id", T.LongType(), True),
    ]
)

# Truth of the generated sample world (<sample>/truth/devices.parquet), for scoring.
TRUTH_DEVICES_SCHEMA = T.StructType(
    [
        T.StructField("user_pseudo_id", T.StringType(), True),
        T.StructField("person_id", T.StringType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("is_bot", T.BooleanType(), True),
        T.StructField("is_shared", T.BooleanType(), True),
        T.StructField("linkable", T.BooleanType(), True),
    ]
)
