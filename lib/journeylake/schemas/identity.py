"""Contracts of the identity tables (silver.identity_edges, silver.identity_map,
silver.identity_merges, silver.identity_audit) and their vocabularies.

Sessions, journeys and gold.users look up ``canonical_user_id`` in silver.identity_map
by ``(id_type='device', id_value=user_pseudo_id)`` and, for ad clicks without a
device, by ``(id_type='gclid', id_value=gclid)``. Id types are those of
``journeylake.keys``; node keys are ``journeylake.keys.key_of(id_type, id_value)``.
"""

from pyspark.sql import types as T

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
        T.StructField("src_type", T.StringType(), False),
        T.StructField("src_value", T.StringType(), False),
        T.StructField("src_key", T.LongType(), False),
        T.StructField("dst_type", T.StringType(), False),
        T.StructField("dst_value", T.StringType(), False),
        T.StructField("dst_key", T.LongType(), False),
        T.StructField("edge_type", T.StringType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("method", T.StringType(), False),  # deterministic | probabilistic
        T.StructField("first_seen", T.TimestampType(), False),
        T.StructField("last_seen", T.TimestampType(), False),
    ]
)

IDENTITY_EDGES_TABLE_SCHEMA = T.StructType(
    [
        *IDENTITY_EDGES_SCHEMA.fields,
        T.StructField("status", T.StringType(), False),  # active | cut
        T.StructField("cut_reason", T.StringType(), True),  # blocked_value | degree_cap:<type> | component_cap
        T.StructField("updated_run_id", T.StringType(), False),
    ]
)

# One row per identifier seen (type, value), from events and from edge endpoints.
IDENTITY_NODES_SCHEMA = T.StructType(
    [
        T.StructField("id_type", T.StringType(), False),
        T.StructField("id_value", T.StringType(), False),
        T.StructField("node_key", T.LongType(), False),
        T.StructField("first_seen", T.TimestampType(), False),
        T.StructField("last_seen", T.TimestampType(), False),
    ]
)

# silver.identity_map. Key: (id_type, id_value); node_key is unique too.
IDENTITY_MAP_SCHEMA = T.StructType(
    [
        T.StructField("id_type", T.StringType(), False),
        T.StructField("id_value", T.StringType(), False),
        T.StructField("node_key", T.LongType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("confidence", T.DoubleType(), False),  # best confidence among the node's kept edges; 1.0 alone
        T.StructField("method", T.StringType(), False),  # deterministic | probabilistic | singleton
        T.StructField("first_seen", T.TimestampType(), False),
        T.StructField("last_seen", T.TimestampType(), False),
        # Set on nodes of a component that the size cap broke up: the group is re-solved as a
        # whole when any member is touched again, so incremental runs equal a full rebuild.
        T.StructField("cap_group_id", T.LongType(), True),
        T.StructField("updated_run_id", T.StringType(), False),
    ]
)

# silver.identity_merges. Key: (as_of, old_canonical_user_id, new_canonical_user_id, change).
IDENTITY_MERGES_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("old_canonical_user_id", T.LongType(), False),
        T.StructField("new_canonical_user_id", T.LongType(), False),
        T.StructField("change", T.StringType(), False),  # merge | split
        T.StructField("cause", T.StringType(), False),  # edge types and sample edge keys behind the change
        T.StructField("as_of", T.TimestampType(), False),
    ]
)

# silver.identity_audit: edges a guard cut in a run. Key: (as_of, src_key, dst_key, edge_type, reason).
IDENTITY_AUDIT_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("src_type", T.StringType(), False),
        T.StructField("src_value", T.StringType(), False),
        T.StructField("src_key", T.LongType(), False),
        T.StructField("dst_type", T.StringType(), False),
        T.StructField("dst_value", T.StringType(), False),
        T.StructField("dst_key", T.LongType(), False),
        T.StructField("edge_type", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("as_of", T.TimestampType(), False),
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
