"""Cross-device identity: identifier edges, guards, components and stable canonical ids.

Pure DataFrame functions; ``journeylake.stages.identity`` reads and writes. One run:

1. :func:`identity_observations` turns bronze rows into sightings of identifiers and of
   links between them; :func:`build_identity_edges` and :func:`build_identity_nodes`
   aggregate them (first/last seen). Node ids are ``keys.key_of(id_type, value)``;
   :func:`check_key_collisions` fails loudly if two identifiers share a key.
2. :func:`guard_edges` marks edges that must not join persons: blocked values
   (placeholders, test e-mails), identifiers over their degree cap (a login on more than
   N devices, a shared tablet with more than M logins). :func:`apply_guards` splits kept
   edges from the audit rows.
3. :func:`touched_scope` picks the nodes whose components can change this run (the
   components and cap groups touched by changed edges, plus new nodes), and
   :func:`solve_components` solves only those, with the component-size cap.
4. :func:`assign_canonical_ids` maps component labels to stable canonical ids with the
   survivor rule and lists merges and splits; :func:`build_identity_map` writes the map.
5. :func:`graph_health` and :func:`score_identity_pairs` report.

Why fingerprint edges are off by default: a device fingerprint (browser, OS, screen,
language...) is shared by every identical phone model on the same OS version, so it links
strangers far more often than it links one person's devices; it is kept as a
probabilistic edge, first to be dropped by the component cap, and only used on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from journeylake import graph, keys
from journeylake.config import IdentityConfig
from journeylake.schemas import identity as S

# Confidence that an edge joins two identifiers of one person.
EDGE_CONFIDENCE: dict[str, float] = {
    S.DEVICE_LOGIN: 1.0,  # the person authenticated on the device
    S.DEVICE_TRANSACTION: 1.0,  # the purchase event fired on the device
    S.TRANSACTION_ORDER: 1.0,  # the shop stored the GA4 transaction id on the order
    S.ORDER_BACKEND_USER: 1.0,
    S.BACKEND_USER_LOGIN: 1.0,
    S.DEVICE_EMAIL: 0.95,  # typed into a form: typos and family members sharing an address
    S.DEVICE_GCLID: 0.95,  # a click id is unique per click, but links get forwarded
    S.DEVICE_PHONE: 0.9,  # household landlines and shared numbers
    S.DEVICE_FINGERPRINT: 0.6,  # identical devices share fingerprints
}
PROBABILISTIC_EDGE_TYPES = frozenset({S.DEVICE_FINGERPRINT})
SINGLETON_CONFIDENCE = 1.0  # a node alone is certainly its own person
# Sources with a null timestamp still link identifiers; they sort as the oldest possible.
UNKNOWN_TIME = "1970-01-01 00:00:00"

# Test and throw-away e-mails used as login ids (hashed e-mails are matched by their hash).
TEST_EMAIL_PATTERN = (
    r"^(test|tester|testing|example|noreply|no-reply|dummy|fake)[^@]*@"
    r"|@(example\.(com|org|net)|test\.(com|de)|mailinator\.com|localhost)$"
)
# Values made only of zeros and separators: "0", "000-000", "0.0", "--".
FILLER_PATTERN = r"^[0\s\-_.:/]*$"
MERGE_CAUSE_SAMPLE_EDGES = 5  # edge keys quoted in a merge/split cause; the types are always all listed

# The id type whose degree (number of distinct devices) each cap limits.
DEGREE_CAPPED_TYPES = (keys.LOGIN, keys.EMAIL, keys.PHONE, keys.FINGERPRINT, keys.GCLID, keys.TRANSACTION)
ANONYMOUS_TYPES_EXCLUDED = (keys.LOGIN, keys.EMAIL, keys.PHONE)  # any of these makes a user known
HEALTH_SIZE_BUCKETS = (("1", 1, 1), ("2", 2, 2), ("3-5", 3, 5), ("6-10", 6, 10), ("11-50", 11, 50))
HEALTH_LAST_BUCKET = ">50"

EDGE_COLUMNS = S.IDENTITY_EDGES_SCHEMA.fieldNames()
EDGE_KEY = ["src_key", "dst_key", "edge_type"]


class IdentityKeyCollisionError(RuntimeError):
    """Two different identifiers hash to the same 64-bit node key."""


def node_key(id_type: Column, value: Column) -> Column:
    """``keys.key_of`` for an id type held in a column (same hash as the literal form)."""
    return F.when(value.isNull(), F.lit(None).cast("long")).otherwise(F.xxhash64(id_type, value))


# ---- 1. edges and nodes ------------------------------------------------------


def _link(src_type: str, src_value: Column, ts: Column, dst: tuple[str, Column, str] | None = None) -> Column:
    """A sighting of ``src``, or with ``dst = (dst_type, dst_value, edge_type)`` of a link from it."""
    none = F.lit(None).cast("string")
    return F.struct(
        F.lit(src_type).alias("src_type"),
        src_value.cast("string").alias("src_value"),
        (F.lit(dst[0]) if dst else none).alias("dst_type"),
        (dst[1].cast("string") if dst else none).alias("dst_value"),
        (F.lit(dst[2]) if dst else none).alias("edge_type"),
        ts.alias("ts"),
    )


def identity_observations(
    events: DataFrame,
    ad_touchpoints: DataFrame,
    backend_orders: DataFrame,
    backend_users: DataFrame,
    *,
    include_fingerprints: bool,
) -> DataFrame:
    """Every sighting of an identifier, and of a link between two, with its time.

    Needs: events ``user_pseudo_id, user_id, hashed_email, hashed_phone, device_fingerprint, gclid,
    transaction_id, event_ts``; ad touchpoints ``user_pseudo_id, gclid, touch_ts``; backend orders
    ``order_id, user_id, ga_transaction_id, order_ts``; backend users ``user_id, login_id, created_at``.
    Returns ``src_type, src_value, dst_type, dst_value, edge_type, ts``; ``dst_*`` and ``edge_type``
    are null for a sighting of ``src`` alone.
    """
    device, ts = F.col("user_pseudo_id"), F.col("event_ts")
    event_links = [
        _link(keys.DEVICE, device, ts),
        _link(keys.DEVICE, device, ts, (keys.LOGIN, F.col("user_id"), S.DEVICE_LOGIN)),
        _link(keys.DEVICE, device, ts, (keys.EMAIL, F.col("hashed_email"), S.DEVICE_EMAIL)),
        _link(keys.DEVICE, device, ts, (keys.PHONE, F.col("hashed_phone"), S.DEVICE_PHONE)),
        _link(keys.DEVICE, device, ts, (keys.GCLID, F.col("gclid"), S.DEVICE_GCLID)),
        _link(keys.DEVICE, device, ts, (keys.TRANSACTION, F.col("transaction_id"), S.DEVICE_TRANSACTION)),
    ]
    if include_fingerprints:
        event_links.append(
            _link(keys.DEVICE, device, ts, (keys.FINGERPRINT, F.col("device_fingerprint"), S.DEVICE_FINGERPRINT))
        )
    touch_ts = F.col("touch_ts")
    touch_links = [
        _link(keys.DEVICE, device, touch_ts, (keys.GCLID, F.col("gclid"), S.DEVICE_GCLID)),
        _link(keys.GCLID, F.col("gclid"), touch_ts),
    ]
    order_ts = F.col("order_ts")
    order_links = [
        _link(
            keys.TRANSACTION,
            F.col("ga_transaction_id"),
            order_ts,
            (keys.BACKEND_ORDER, F.col("order_id"), S.TRANSACTION_ORDER),
        ),
        _link(
            keys.BACKEND_ORDER, F.col("order_id"), order_ts, (keys.BACKEND_USER, F.col("user_id"), S.ORDER_BACKEND_USER)
        ),
    ]
    user_links = [
        _link(
            keys.BACKEND_USER,
            F.col("user_id"),
            F.col("created_at"),
            (keys.LOGIN, F.col("login_id"), S.BACKEND_USER_LOGIN),
        )
    ]
    parts = [
        events.select(F.explode(F.array(*event_links)).alias("o")),
        ad_touchpoints.select(F.explode(F.array(*touch_links)).alias("o")),
        backend_orders.select(F.explode(F.array(*order_links)).alias("o")),
        backend_users.select(F.explode(F.array(*user_links)).alias("o")),
    ]
    observations = parts[0]
    for part in parts[1:]:
        observations = observations.unionByName(part)
    has_dst = F.col("o.dst_value").isNotNull()
    return observations.where(F.col("o.src_value").isNotNull()).select(
        F.col("o.src_type").alias("src_type"),
        F.col("o.src_value").alias("src_value"),
        F.when(has_dst, F.col("o.dst_type")).alias("dst_type"),
        F.col("o.dst_value").alias("dst_value"),
        F.when(has_dst, F.col("o.edge_type")).alias("edge_type"),
        F.coalesce(F.col("o.ts"), F.lit(UNKNOWN_TIME).cast("timestamp")).alias("ts"),
    )


def _edge_confidence(edge_type: Column) -> Column:
    mapping = F.create_map(*[F.lit(x) for pair in EDGE_CONFIDENCE.items() for x in pair])
    return mapping[edge_type]


def build_identity_edges(observations: DataFrame) -> DataFrame:
    """One row per distinct link, with first and last sighting.

    Needs the output of :func:`identity_observations`; returns ``IDENTITY_EDGES_SCHEMA``.
    """
    links = observations.where(F.col("edge_type").isNotNull())
    grouped = links.groupBy("src_type", "src_value", "dst_type", "dst_value", "edge_type").agg(
        F.min("ts").alias("first_seen"), F.max("ts").alias("last_seen")
    )
    method = F.when(F.col("edge_type").isin(*sorted(PROBABILISTIC_EDGE_TYPES)), S.PROBABILISTIC).otherwise(
        S.DETERMINISTIC
    )
    return grouped.select(
        "src_type",
        "src_value",
        node_key(F.col("src_type"), F.col("src_value")).alias("src_key"),
        "dst_type",
        "dst_value",
        node_key(F.col("dst_type"), F.col("dst_value")).alias("dst_key"),
        "edge_type",
        _edge_confidence(F.col("edge_type")).alias("confidence"),
        method.alias("method"),
        "first_seen",
        "last_seen",
    )


def build_identity_nodes(observations: DataFrame) -> DataFrame:
    """One row per identifier seen (alone or at either end of a link).

    Needs the output of :func:`identity_observations`; returns ``IDENTITY_NODES_SCHEMA``.
    """
    ends = observations.select(F.col("src_type").alias("id_type"), F.col("src_value").alias("id_value"), "ts")
    ends = ends.unionByName(
        observations.where(F.col("dst_value").isNotNull()).select(
            F.col("dst_type").alias("id_type"), F.col("dst_value").alias("id_value"), "ts"
        )
    )
    grouped = ends.groupBy("id_type", "id_value").agg(F.min("ts").alias("first_seen"), F.max("ts").alias("last_seen"))
    return grouped.select(
        "id_type",
        "id_value",
        node_key(F.col("id_type"), F.col("id_value")).alias("node_key"),
        "first_seen",
        "last_seen",
    )


def combine_nodes(previous: DataFrame, current: DataFrame) -> DataFrame:
    """Nodes known before (identity map rows) and seen now, with widened first/last seen.

    Needs ``id_type, id_value, node_key, first_seen, last_seen`` on both; returns ``IDENTITY_NODES_SCHEMA``.
    """
    columns = S.IDENTITY_NODES_SCHEMA.fieldNames()
    both = previous.select(*columns).unionByName(current.select(*columns))
    return both.groupBy("id_type", "id_value", "node_key").agg(
        F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen")
    )


def find_key_collisions(nodes: DataFrame) -> DataFrame:
    """Node keys shared by different identifiers. Needs ``id_type, id_value, node_key``.

    Returns ``node_key, identifiers`` (the count of distinct identifiers, > 1), one row per collision.
    """
    return (
        nodes.groupBy("node_key")
        .agg(F.count_distinct(F.col("id_type"), F.col("id_value")).alias("identifiers"))
        .where(F.col("identifiers") > 1)
        .select("node_key", "identifiers")
    )


def check_key_collisions(nodes: DataFrame, examples: int = 5) -> None:
    """Raise :class:`IdentityKeyCollisionError` naming a few colliding keys; silent when there are none."""
    # At most `examples` rows reach the driver.
    found = find_key_collisions(nodes).orderBy("node_key").limit(examples).collect()
    if found:
        listed = ", ".join(f"{row['node_key']} ({row['identifiers']} identifiers)" for row in found)
        raise IdentityKeyCollisionError(
            f"64-bit node key collision between different identifiers: {listed}. "
            "Resolving would merge unrelated persons; change the key function (journeylake.keys) before rerunning."
        )


def combine_edges(previous: DataFrame, current: DataFrame) -> DataFrame:
    """Edges persisted before and built now, one row per key with widened first/last seen.

    Needs ``IDENTITY_EDGES_SCHEMA`` on ``current`` and ``IDENTITY_EDGES_TABLE_SCHEMA`` on ``previous``.
    Returns ``IDENTITY_EDGES_SCHEMA`` plus ``prev_status`` and ``prev_cut_reason`` (null for new edges).
    """
    previous_rows = previous.select(
        *EDGE_COLUMNS, F.col("status").alias("prev_status"), F.col("cut_reason").alias("prev_cut_reason")
    )
    current_rows = current.select(
        *EDGE_COLUMNS,
        F.lit(None).cast("string").alias("prev_status"),
        F.lit(None).cast("string").alias("prev_cut_reason"),
    )
    both = previous_rows.unionByName(current_rows)
    kept_first = [
        F.first(c, ignorenulls=True).alias(c) for c in ("src_type", "src_value", "dst_type", "dst_value", "method")
    ]
    combined = both.groupBy(*EDGE_KEY).agg(
        *kept_first,
        F.max("confidence").alias("confidence"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
        F.max("prev_status").alias("prev_status"),
        F.max("prev_cut_reason").alias("prev_cut_reason"),
    )
    return combined.select(*EDGE_COLUMNS, "prev_status", "prev_cut_reason")


# ---- 2. guards -----------------------------------------------------------------


def is_blocked_value(
    id_type: Column, value: Column, blocked_values: Sequence[str], blocked_email_hashes: Sequence[str]
) -> Column:
    """True for identifiers many persons share: configured placeholders, fillers, test e-mails.

    ``blocked_values`` compare trimmed and case-insensitive; ``blocked_email_hashes`` are the
    salted hashes of the blocked e-mail addresses (hashed e-mails cannot be pattern-matched).
    """
    normalized = F.lower(F.trim(value))
    lowered = sorted({v.strip().lower() for v in blocked_values})
    blocked = (
        value.isNull()
        | normalized.isin(*lowered)
        | normalized.rlike(FILLER_PATTERN)
        | normalized.rlike(TEST_EMAIL_PATTERN)
    )
    if blocked_email_hashes:
        blocked = blocked | ((id_type == F.lit(keys.EMAIL)) & value.isin(*sorted(blocked_email_hashes)))
    return blocked


def degree_caps(config: IdentityConfig) -> dict[str, int]:
    """Maximum number of distinct devices per identifier, by id type."""
    return {
        keys.LOGIN: config.max_devices_per_login,
        keys.EMAIL: config.max_devices_per_email,
        keys.PHONE: config.max_devices_per_phone,
        keys.FINGERPRINT: config.max_devices_per_fingerprint,
        keys.GCLID: config.max_devices_per_gclid,
        keys.TRANSACTION: config.max_devices_per_transaction,
    }


def over_cap_nodes(edges: DataFrame, config: IdentityConfig) -> DataFrame:
    """Identifiers whose degree is over their cap. Needs ``IDENTITY_EDGES_SCHEMA`` (guarded edges).

    A login/e-mail/phone/fingerprint/gclid/transaction linked to more devices than its cap, or a
    device with more logins than ``max_logins_per_device`` (a shared tablet or kiosk).
    Returns ``node_key, reason`` (``degree_cap:<id type>``).
    """
    device_links = edges.where(F.col("src_type") == keys.DEVICE)
    caps = degree_caps(config)
    cap_of = F.create_map(*[F.lit(x) for pair in caps.items() for x in pair])
    # Edges are distinct per key, so a row count is a distinct-device count.
    per_identifier = device_links.groupBy(F.col("dst_key").alias("node_key"), F.col("dst_type").alias("id_type")).agg(
        F.count(F.lit(1)).alias("degree")
    )
    identifiers = per_identifier.where(F.col("degree") > cap_of[F.col("id_type")]).select(
        "node_key", F.concat(F.lit(S.DEGREE_CAP_PREFIX), F.col("id_type")).alias("reason")
    )
    per_device = (
        device_links.where(F.col("dst_type") == keys.LOGIN)
        .groupBy(F.col("src_key").alias("node_key"))
        .agg(F.count(F.lit(1)).alias("degree"))
    )
    devices = per_device.where(F.col("degree") > config.max_logins_per_device).select(
        "node_key", F.lit(S.DEGREE_CAP_PREFIX + keys.DEVICE).alias("reason")
    )
    return identifiers.unionByName(devices)


def guard_edges(edges: DataFrame, config: IdentityConfig, blocked_email_hashes: Sequence[str] = ()) -> DataFrame:
    """Mark edges that must not join persons with ``cut_reason`` (null: the edge is kept).

    Needs ``IDENTITY_EDGES_SCHEMA`` columns (others pass through). Blocked values are cut first;
    degree caps count only the edges left, and cut every edge of an over-cap identifier.
    Returns the input columns plus ``cut_reason``: ``blocked_value`` | ``degree_cap:<id type>`` | null.
    """
    blocked = is_blocked_value(
        F.col("src_type"), F.col("src_value"), config.blocked_values, blocked_email_hashes
    ) | is_blocked_value(F.col("dst_type"), F.col("dst_value"), config.blocked_values, blocked_email_hashes)
    if not config.use_fingerprint_edges:
        # Edges persisted while fingerprints were on stay in the table but stop linking.
        blocked = blocked | (F.col("edge_type") == S.DEVICE_FINGERPRINT)
    marked = edges.withColumn("_blocked", blocked)
    over = over_cap_nodes(marked.where(~F.col("_blocked")), config)
    src_over = over.select(F.col("node_key").alias("_src_node"), F.col("reason").alias("_src_reason"))
    dst_over = over.select(F.col("node_key").alias("_dst_node"), F.col("reason").alias("_dst_reason"))
    joined = marked.join(F.broadcast(src_over), on=F.col("src_key") == F.col("_src_node"), how="left").join(
        F.broadcast(dst_over), on=F.col("dst_key") == F.col("_dst_node"), how="left"
    )
    reason = F.when(F.col("_blocked"), F.lit(S.BLOCKED_VALUE)).otherwise(
        F.coalesce(F.col("_src_reason"), F.col("_dst_reason"))
    )
    return joined.select(*edges.columns, reason.alias("cut_reason"))


def apply_guards(
    edges: DataFrame, config: IdentityConfig, blocked_email_hashes: Sequence[str] = ()
) -> tuple[DataFrame, DataFrame]:
    """Split edges into (kept, cut). Needs ``IDENTITY_EDGES_SCHEMA``.

    Returns kept edges as ``IDENTITY_EDGES_SCHEMA`` and cut edges as ``IDENTITY_EDGES_SCHEMA`` plus
    ``reason`` (see :func:`guard_edges`). The component-size cap needs the components and is
    applied by :func:`solve_components`.
    """
    guarded = guard_edges(edges.select(*EDGE_COLUMNS), config, blocked_email_hashes)
    kept = guarded.where(F.col("cut_reason").isNull()).select(*EDGE_COLUMNS)
    cut = guarded.where(F.col("cut_reason").isNotNull()).select(*EDGE_COLUMNS, F.col("cut_reason").alias("reason"))
    return kept, cut


# ---- 3. incremental scope and components -------------------------------------------


def is_previously_eligible(prev_status: Column, prev_cut_reason: Column) -> Column:
    """An edge took part in last run's solve: active, or cut only by the component cap (re-evaluated)."""
    return (prev_status == S.ACTIVE) | ((prev_status == S.CUT) & (prev_cut_reason == S.COMPONENT_CAP))


def changed_edges(guarded: DataFrame) -> DataFrame:
    """Edges whose eligibility differs from last run: new kept edges, and kept edges now cut.

    Needs ``guard_edges`` output over ``combine_edges`` (``prev_status, prev_cut_reason, cut_reason``).
    Returns ``src_key, dst_key, edge_type, change`` (``added`` or the cut reason).
    """
    eligible_now = F.col("cut_reason").isNull()
    eligible_before = F.coalesce(is_previously_eligible(F.col("prev_status"), F.col("prev_cut_reason")), F.lit(False))
    return guarded.where(eligible_now != eligible_before).select(
        *EDGE_KEY, F.when(eligible_now, F.lit("added")).otherwise(F.col("cut_reason")).alias("change")
    )


def touched_scope(nodes: DataFrame, previous_map: DataFrame, changes: DataFrame) -> DataFrame:
    """Nodes to re-solve: new nodes, and every member of a component or cap group a change touches.

    Needs ``nodes`` (``node_key``), ``previous_map`` (``node_key, canonical_user_id, cap_group_id``)
    and ``changes`` (``src_key, dst_key``). Untouched components keep their ids without a solve; a
    touched one is re-solved whole (its size is bounded by the component cap), so the result is
    exactly what a full rebuild gives. Returns ``node_key``.
    """
    endpoints = changes.select(F.col("src_key").alias("node_key")).unionByName(
        changes.select(F.col("dst_key").alias("node_key"))
    )
    new_nodes = nodes.select("node_key").join(previous_map.select("node_key"), on="node_key", how="left_anti")
    touched = endpoints.unionByName(new_nodes).distinct()
    touched_prev = previous_map.join(touched, on="node_key", how="left_semi")
    touched_ids = touched_prev.select("canonical_user_id").distinct()
    touched_groups = touched_prev.where(F.col("cap_group_id").isNotNull()).select("cap_group_id").distinct()
    by_id = previous_map.join(touched_ids, on="canonical_user_id", how="left_semi").select("node_key")
    by_group = previous_map.join(touched_groups, on="cap_group_id", how="left_semi").select("node_key")
    scope = touched.unionByName(by_id).unionByName(by_group).distinct()
    # Endpoints of changed edges are nodes of this run; the semi-join keeps the scope inside the node set.
    return scope.join(nodes.select("node_key"), on="node_key", how="left_semi")


def _components(vertices: DataFrame, edges: DataFrame, config: IdentityConfig) -> DataFrame:
    return graph.connected_components(
        vertices.select(F.col("node_key").alias("id")),
        edges.select(F.col("src_key").alias("src"), F.col("dst_key").alias("dst")),
        algorithm=config.cc_algorithm,
        broadcast_threshold=config.cc_broadcast_threshold,
        checkpoint_interval=config.cc_checkpoint_interval,
    ).select(F.col("id").alias("node_key"), "component")


def solve_components(scope: DataFrame, edges: DataFrame, config: IdentityConfig) -> tuple[DataFrame, DataFrame]:
    """Connected components of the scope, with the component-size cap applied.

    Needs ``scope`` (``node_key``) and the kept edges among it (``IDENTITY_EDGES_SCHEMA``). A
    component over ``max_component_size`` nodes loses its probabilistic edges and is solved
    again; a part still over the cap loses all its edges (its nodes stand alone). Those nodes
    get ``cap_group_id`` = the over-cap component's label, so later runs re-solve the group whole.
    Returns (partition ``PARTITION_SCHEMA``, cut edges ``IDENTITY_EDGES_SCHEMA`` + ``reason``).
    """
    first = _components(scope, edges, config).persist()
    sizes = first.groupBy("component").agg(F.count(F.lit(1)).alias("size"))
    over = sizes.where(F.col("size") > config.max_component_size).select("component")
    no_cut = edges.limit(0).select(*EDGE_COLUMNS, F.lit(S.COMPONENT_CAP).alias("reason"))
    if over.limit(1).count() == 0:
        return first.select("node_key", "component", F.lit(None).cast("long").alias("cap_group_id")), no_cut

    over_nodes = first.join(F.broadcast(over), on="component", how="left_semi").select(
        "node_key", F.col("component").alias("cap_group_id")
    )
    # Kept edges never cross components, so the source end places an edge.
    over_edges = edges.join(
        over_nodes.select(F.col("node_key").alias("src_key")), on="src_key", how="left_semi"
    ).persist()
    strong = over_edges.where(F.col("method") == S.DETERMINISTIC)
    second = _components(over_nodes, strong, config)
    sizes2 = second.groupBy("component").agg(F.count(F.lit(1)).alias("size"))
    still_over = sizes2.where(F.col("size") > config.max_component_size).select("component")
    second = second.join(
        sizes2.select("component", (F.col("size") > config.max_component_size).alias("still_over")),
        on="component",
        how="inner",
    )
    capped = second.join(over_nodes, on="node_key", how="inner").select(
        "node_key",
        F.when(F.col("still_over"), F.col("node_key")).otherwise(F.col("component")).alias("component"),
        "cap_group_id",
    )
    untouched = first.join(F.broadcast(over), on="component", how="left_anti").select(
        "node_key", "component", F.lit(None).cast("long").alias("cap_group_id")
    )
    still_over_nodes = second.join(still_over, on="component", how="left_semi").select(
        F.col("node_key").alias("src_key")
    )
    cut = over_edges.where(F.col("method") != S.DETERMINISTIC).unionByName(
        strong.join(still_over_nodes, on="src_key", how="left_semi")
    )
    return (
        untouched.unionByName(capped).select("node_key", "component", "cap_group_id"),
        cut.select(*EDGE_COLUMNS, F.lit(S.COMPONENT_CAP).alias("reason")),
    )


# ---- 4. stable canonical ids ------------------------------------------------------------


def assign_canonical_ids(
    partition: DataFrame, previous: DataFrame, issued_ids: DataFrame
) -> tuple[DataFrame, DataFrame]:
    """Map this run's component labels to canonical ids that stay stable across runs.

    Needs ``partition`` (``node_key, component, cap_group_id``; components labelled by their
    minimum node key), ``previous`` (``node_key, canonical_user_id, first_seen`` of the scope's
    nodes that had an id; ``first_seen`` of the node) and ``issued_ids`` (``canonical_user_id``:
    every id ever issued, current or retired).

    Rules: an old id stays with the component that holds its anchor (the node whose key it is,
    else its earliest-seen member, ties on the smallest key). A component holding several
    anchors keeps the oldest id (earliest first_seen of its old members, tie: smallest id);
    the others are merged into it. A component holding none gets a new id: its label (the
    minimum node key, so reruns agree), or a hash of it if that id was ever issued before.
    Old members that land outside their id's component are recorded as a split.

    Returns (assignment ``node_key, canonical_user_id, cap_group_id``,
    changes ``old_canonical_user_id, new_canonical_user_id, change, component``).
    """
    members = partition.join(
        previous.select("node_key", F.col("canonical_user_id").alias("prev_id"), "first_seen"),
        on="node_key",
        how="left",
    ).persist()
    known = members.where(F.col("prev_id").isNotNull())
    anchor_order = W.partitionBy("prev_id").orderBy(
        (F.col("node_key") == F.col("prev_id")).desc(), F.col("first_seen").asc(), F.col("node_key").asc()
    )
    age = known.groupBy("prev_id").agg(F.min("first_seen").alias("id_first_seen"))
    holders = (
        known.withColumn("_rank", F.row_number().over(anchor_order))
        .where(F.col("_rank") == 1)
        .join(age, on="prev_id", how="inner")
        .select("prev_id", "component", "id_first_seen")
    )
    survivor_order = W.partitionBy("component").orderBy(F.col("id_first_seen").asc(), F.col("prev_id").asc())
    claims = holders.withColumn("_rank", F.row_number().over(survivor_order))
    survivors = claims.where(F.col("_rank") == 1).select("component", F.col("prev_id").alias("survivor"))

    components = partition.select("component").distinct()
    issued = issued_ids.select(F.col("canonical_user_id").alias("_issued")).distinct()
    fresh = (
        components.join(survivors, on="component", how="left_anti")
        .join(F.broadcast(issued), on=F.col("component") == F.col("_issued"), how="left")
        .select(
            "component",
            F.when(F.col("_issued").isNull(), F.col("component"))
            .otherwise(F.xxhash64(F.lit("reissued-canonical-id"), F.col("component")))
            .alias("canonical_user_id"),
        )
    )
    ids = survivors.select("component", F.col("survivor").alias("canonical_user_id")).unionByName(fresh)

    assignment = partition.join(ids, on="component", how="inner").select(
        "node_key", "canonical_user_id", "cap_group_id"
    )
    merges = (
        claims.where(F.col("_rank") > 1)
        .join(survivors, on="component", how="inner")
        .select(
            F.col("prev_id").alias("old_canonical_user_id"),
            F.col("survivor").alias("new_canonical_user_id"),
            F.lit(S.MERGE).alias("change"),
            "component",
        )
    )
    holder_of = holders.select("prev_id", F.col("component").alias("_holder"))
    splits = (
        known.select("prev_id", "component")
        .distinct()
        .join(holder_of, on="prev_id", how="inner")
        .where(F.col("component") != F.col("_holder"))
        .join(ids, on="component", how="inner")
        .select(
            F.col("prev_id").alias("old_canonical_user_id"),
            F.col("canonical_user_id").alias("new_canonical_user_id"),
            F.lit(S.SPLIT).alias("change"),
            "component",
        )
    )
    return assignment, merges.unionByName(splits)


def describe_changes(
    changes: DataFrame, edge_changes: DataFrame, partition: DataFrame, previous: DataFrame
) -> DataFrame:
    """Attach the cause (edge types and sample edge keys) to each merge and split.

    Needs ``changes`` from :func:`assign_canonical_ids`, ``edge_changes`` (``src_key, dst_key,
    edge_type, change``: ``added`` or a cut reason), ``partition`` (``node_key, component``) and
    ``previous`` (``node_key, canonical_user_id``). A merge is caused by the edges added inside
    its new component; a split by the edges cut inside its old id's component.
    Returns ``old_canonical_user_id, new_canonical_user_id, change, cause``.
    """
    label = F.concat(F.col("edge_type"), F.lit(":"), F.col("src_key"), F.lit("-"), F.col("dst_key"))
    added = edge_changes.where(F.col("change") == "added").join(
        partition.select(F.col("node_key").alias("src_key"), "component"), on="src_key", how="inner"
    )
    cut = edge_changes.where(F.col("change") != "added").join(
        previous.select(F.col("node_key").alias("src_key"), F.col("canonical_user_id").alias("old_id")),
        on="src_key",
        how="inner",
    )

    def summary(frame: DataFrame, by: str) -> DataFrame:
        types = F.array_join(F.array_sort(F.collect_set(F.concat_ws(" ", "edge_type", "change"))), ", ")
        sample = F.array_join(F.slice(F.array_sort(F.collect_set(label)), 1, MERGE_CAUSE_SAMPLE_EDGES), " ")
        return frame.groupBy(by).agg(F.concat(types, F.lit(" | "), sample).alias("cause"))

    merge_causes = summary(added, "component")
    split_causes = summary(cut, "old_id").withColumnRenamed("old_id", "old_canonical_user_id")
    merges = changes.where(F.col("change") == S.MERGE).join(merge_causes, on="component", how="left")
    splits = changes.where(F.col("change") == S.SPLIT).join(split_causes, on="old_canonical_user_id", how="left")
    columns = ["old_canonical_user_id", "new_canonical_user_id", "change"]
    unknown = F.lit("unknown (no changed edge found in the component)")
    return merges.select(*columns, F.coalesce("cause", unknown).alias("cause")).unionByName(
        splits.select(*columns, F.coalesce("cause", unknown).alias("cause"))
    )


def build_identity_map(nodes: DataFrame, assignment: DataFrame, edges: DataFrame, run_id: str) -> DataFrame:
    """The identity map: every node with its canonical id, confidence and method.

    Needs ``nodes`` (``IDENTITY_NODES_SCHEMA``), ``assignment`` (``node_key, canonical_user_id,
    cap_group_id`` for every node) and the edges with their final ``status`` (``IDENTITY_EDGES_TABLE_SCHEMA``).
    A node's confidence is the best confidence of its active edges; method ``deterministic`` if
    any active edge is, ``probabilistic`` if only probabilistic ones link it, else ``singleton``.
    Returns ``IDENTITY_MAP_SCHEMA``.
    """
    active = edges.where(F.col("status") == S.ACTIVE)
    ends = active.select(F.col("src_key").alias("node_key"), "confidence", "method").unionByName(
        active.select(F.col("dst_key").alias("node_key"), "confidence", "method")
    )
    per_node = ends.groupBy("node_key").agg(
        F.max("confidence").alias("edge_confidence"),
        F.max(F.when(F.col("method") == S.DETERMINISTIC, 1).otherwise(0)).alias("has_deterministic"),
    )
    joined = nodes.join(assignment, on="node_key", how="inner").join(per_node, on="node_key", how="left")
    method = (
        F.when(F.col("has_deterministic") == 1, S.DETERMINISTIC)
        .when(F.col("has_deterministic") == 0, S.PROBABILISTIC)
        .otherwise(S.SINGLETON)
    )
    return joined.select(
        "id_type",
        "id_value",
        "node_key",
        "canonical_user_id",
        F.coalesce(F.col("edge_confidence"), F.lit(SINGLETON_CONFIDENCE)).alias("confidence"),
        method.alias("method"),
        "first_seen",
        "last_seen",
        "cap_group_id",
        F.lit(run_id).alias("updated_run_id"),
    )


# ---- 5. reports -------------------------------------------------------------------------


def graph_health(identity_map: DataFrame, edges: DataFrame, changes: DataFrame) -> dict[str, Any]:
    """Component sizes, largest component, max degree by id type, anonymous share, merges and splits.

    Needs the identity map (``IDENTITY_MAP_SCHEMA``), the edges with ``status`` and this run's
    ``changes`` (``change``). Every collect below is of a handful of aggregate rows.
    """
    sizes = identity_map.groupBy("canonical_user_id").agg(
        F.count(F.lit(1)).alias("size"),
        F.max(F.col("id_type").isin(*ANONYMOUS_TYPES_EXCLUDED).cast("int")).alias("known"),
    )
    bucket = F.lit(HEALTH_LAST_BUCKET)
    for name, low, high in reversed(HEALTH_SIZE_BUCKETS):
        bucket = F.when(F.col("size").between(low, high), F.lit(name)).otherwise(bucket)
    histogram_rows = sizes.groupBy(bucket.alias("bucket")).agg(F.count(F.lit(1)).alias("n")).collect()
    histogram = {name: 0 for name, _, _ in HEALTH_SIZE_BUCKETS} | {HEALTH_LAST_BUCKET: 0}
    histogram.update({row["bucket"]: row["n"] for row in histogram_rows})
    totals = sizes.agg(
        F.count(F.lit(1)).alias("users"), F.max("size").alias("largest"), F.sum(1 - F.col("known")).alias("anonymous")
    ).first()
    users = int(totals["users"] or 0) if totals else 0
    active = edges.where(F.col("status") == S.ACTIVE)
    ends = active.select(F.col("src_type").alias("id_type"), F.col("src_key").alias("node_key")).unionByName(
        active.select(F.col("dst_type").alias("id_type"), F.col("dst_key").alias("node_key"))
    )
    degree_rows = (
        ends.groupBy("id_type", "node_key")
        .agg(F.count(F.lit(1)).alias("degree"))
        .groupBy("id_type")
        .agg(F.max("degree").alias("max_degree"))
        .collect()
    )
    change_rows = changes.groupBy("change").agg(F.count(F.lit(1)).alias("n")).collect()
    change_counts = {row["change"]: row["n"] for row in change_rows}
    return {
        "component_sizes": histogram,
        "largest_component": int(totals["largest"] or 0) if totals else 0,
        "max_degree_by_type": {row["id_type"]: row["max_degree"] for row in sorted(degree_rows, key=lambda r: r[0])},
        "anonymous_only_share": round(float(totals["anonymous"] or 0) / users, 4) if users and totals else 0.0,
        "canonical_users": users,
        "merges": change_counts.get(S.MERGE, 0),
        "splits": change_counts.get(S.SPLIT, 0),
    }


@dataclass(frozen=True)
class PairScore:
    predicted_pairs: int
    truth_pairs: int
    true_pairs: int  # predicted pairs that are true (for precision)
    true_linkable_pairs: int  # truth pairs among linkable devices that were found (for recall)
    precision: float
    recall: float
    # Over every pair of one person's devices, linkable or not: what analysts see, bounded by
    # how many devices ever share an identifier, so it is reported but not the target.
    all_truth_pairs: int = 0
    all_found_pairs: int = 0

    def line(self) -> str:
        return f"precision={self.precision:.4f} recall={self.recall:.4f}"


def _pairs(n: Column) -> Column:
    return F.sum(n * (n - 1) / 2).cast("long")


def score_identity_pairs(truth_devices: DataFrame, identity_map: DataFrame) -> PairScore:
    """Pairwise precision and recall of "same person" decisions over devices, without listing pairs.

    Needs ``truth_devices`` (``user_pseudo_id, person_id, is_bot, linkable``) and the identity map
    (``id_type, id_value, canonical_user_id``). Bots are left out. Precision: device pairs sharing a
    canonical id that share a person, over pairs sharing a canonical id. Recall: linkable pairs of
    one person found under one canonical id, over pairs of one person among linkable devices.
    A device missing from the map shares no canonical id. With no pairs to judge, a score is 1.0.
    """
    devices = identity_map.where(F.col("id_type") == keys.DEVICE).select(
        F.col("id_value").alias("user_pseudo_id"), "canonical_user_id"
    )
    scored = (
        truth_devices.where(~F.coalesce(F.col("is_bot"), F.lit(False)))
        .select("user_pseudo_id", F.col("person_id").cast("string").alias("person_id"), "linkable")
        .join(devices, on="user_pseudo_id", how="left")
    )
    linkable = scored.where(F.coalesce(F.col("linkable"), F.lit(False)))
    with_id = scored.where(F.col("canonical_user_id").isNotNull())

    def pair_count(frame: DataFrame, *by: str) -> DataFrame:
        return frame.groupBy(*by).agg(F.count(F.lit(1)).alias("n")).agg(_pairs(F.col("n")).alias("pairs"))

    # Five one-row aggregates; only their values reach the driver.
    predicted = pair_count(with_id, "canonical_user_id").first()
    true_pairs = pair_count(with_id, "canonical_user_id", "person_id").first()
    truth = pair_count(linkable.where(F.col("person_id").isNotNull()), "person_id").first()
    found = pair_count(linkable.where(F.col("canonical_user_id").isNotNull()), "canonical_user_id", "person_id").first()
    all_truth = pair_count(scored.where(F.col("person_id").isNotNull()), "person_id").first()
    rows = (predicted, true_pairs, truth, found, all_truth)
    predicted_n, true_n, truth_n, found_n, all_truth_n = [int((row["pairs"] if row else 0) or 0) for row in rows]
    return PairScore(
        predicted_pairs=predicted_n,
        truth_pairs=truth_n,
        true_pairs=true_n,
        true_linkable_pairs=found_n,
        precision=true_n / predicted_n if predicted_n else 1.0,
        recall=found_n / truth_n if truth_n else 1.0,
        all_truth_pairs=all_truth_n,
        all_found_pairs=true_n,
    )
