"""Stage: resolve identity across devices into silver.identity_edges, _map, _merges and _audit.

Reads bronze.events (required) and, where present, bronze.ad_touchpoints,
bronze.backend_orders and bronze.backend_users (a GA4-only run has none of them).
Edges are rebuilt from bronze by one aggregation and merged into the persisted edge
table; only the components touched by edges whose status changed, plus new nodes,
are solved again (see ``journeylake.identity.touched_scope``).

Write order makes a killed run safe to rerun: merges and audit first, then the map,
and the edge table last. The edge table is what tells the next run which edges are
new, so until it is written a rerun re-solves the same scope and finds the same ids.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import identity
from journeylake.ingest import hash_pii, normalize_email
from journeylake.io.delta import merge_table, read_table, read_table_or_empty, table_exists, table_path
from journeylake.schemas import identity as S
from journeylake.schemas.catalog import CATALOG, TableSpec
from journeylake.schemas.sources import AD_TOUCHPOINTS_SCHEMA, BACKEND_ORDERS_SCHEMA, BACKEND_USERS_SCHEMA
from journeylake.stages import RunContext, StageResult, timed
from journeylake.stages.ingest import pii_salt

STAGE = "identity"
EVENT_COLUMNS = [
    "user_pseudo_id",
    "user_id",
    "hashed_email",
    "hashed_phone",
    "device_fingerprint",
    "gclid",
    "transaction_id",
    "event_ts",
]
TOUCH_COLUMNS = ["user_pseudo_id", "gclid", "touch_ts"]
ORDER_COLUMNS = ["order_id", "user_id", "ga_transaction_id", "order_ts"]
USER_COLUMNS = ["user_id", "login_id", "created_at"]
MAP_KEYS = ["id_type", "id_value"]
# Merge events and cuts are keyed by the run's as-of, not its run id: a run killed after writing them and its rerun
# (same input, same as-of) record the same events once. The first writer's run_id is kept.
MERGES_KEYS = ["as_of", "old_canonical_user_id", "new_canonical_user_id", "change"]
AUDIT_KEYS = ["as_of", *identity.EDGE_KEY, "reason"]
EVENT_RUN_COLUMNS = ("run_id",)


class IdentityInputError(RuntimeError):
    """A required input of the identity stage is missing."""


def _columns(schema: T.StructType) -> list[str]:
    return schema.fieldNames()


def _optional(
    spark: SparkSession, lake: str, table: str, schema: T.StructType, columns: list[str], absent: list[str]
) -> DataFrame:
    """The columns identity needs from an optional bronze table; empty (and noted) when it is absent."""
    path = table_path(lake, "bronze", table)
    if not table_exists(spark, path):
        absent.append(f"bronze.{table}")
    return read_table_or_empty(spark, path, schema).select(*columns)


def blocked_email_hashes(spark: SparkSession, blocked_values: tuple[str, ...], salt: str) -> list[str]:
    """Salted hashes (as ingestion computes them) of the blocked values that look like e-mails."""
    emails = sorted({v for v in blocked_values if "@" in v})
    if not emails:
        return []
    frame = spark.createDataFrame([(e,) for e in emails], "email string")
    # A handful of configured values, not data.
    return [row[0] for row in frame.select(hash_pii(normalize_email(F.col("email")), salt)).collect()]


def run(context: RunContext) -> StageResult:
    result = StageResult(stage=STAGE)
    with timed(result):
        spark, lake, config = context.spark, context.lake, context.config.identity
        events_path = table_path(lake, "bronze", "events")
        if not table_exists(spark, events_path):
            raise IdentityInputError(f"bronze.events not found at {events_path}: run ingestion first")
        absent: list[str] = []
        events = read_table(spark, events_path).select(*EVENT_COLUMNS)
        touchpoints = _optional(spark, lake, "ad_touchpoints", AD_TOUCHPOINTS_SCHEMA, TOUCH_COLUMNS, absent)
        orders = _optional(spark, lake, "backend_orders", BACKEND_ORDERS_SCHEMA, ORDER_COLUMNS, absent)
        users = _optional(spark, lake, "backend_users", BACKEND_USERS_SCHEMA, USER_COLUMNS, absent)

        edges_path = table_path(lake, "silver", "identity_edges")
        map_path = table_path(lake, "silver", "identity_map")
        merges_path = table_path(lake, "silver", "identity_merges")
        audit_path = table_path(lake, "silver", "identity_audit")
        previous_edges = read_table_or_empty(spark, edges_path, S.IDENTITY_EDGES_TABLE_SCHEMA)
        previous_map = _cut(read_table_or_empty(spark, map_path, S.IDENTITY_MAP_SCHEMA))
        previous_merges = read_table_or_empty(spark, merges_path, S.IDENTITY_MERGES_SCHEMA)

        observations = identity.identity_observations(
            events, touchpoints, orders, users, include_fingerprints=config.use_fingerprint_edges
        )
        observations = _cut(observations)
        nodes = _cut(identity.combine_nodes(previous_map, identity.build_identity_nodes(observations)))
        identity.check_key_collisions(nodes)
        salt, _ = pii_salt(context.config, context.spark)
        guarded = identity.guard_edges(
            identity.combine_edges(previous_edges, identity.build_identity_edges(observations)),
            config,
            blocked_email_hashes(spark, config.blocked_values, salt),
        )
        guarded = _cut(guarded)
        edge_changes = _cut(identity.changed_edges(guarded))
        scope = _cut(identity.touched_scope(nodes, previous_map, edge_changes))
        scope_size = scope.count()

        kept = guarded.where(F.col("cut_reason").isNull())
        scope_edges = kept.join(scope.select(F.col("node_key").alias("src_key")), on="src_key", how="left_semi").select(
            *identity.EDGE_COLUMNS
        )
        if scope_size:
            partition, cap_cut = identity.solve_components(scope, scope_edges, config)
        else:  # nothing changed: no solve (a rerun of the same input ends here)
            partition = spark.createDataFrame([], S.PARTITION_SCHEMA)
            cap_cut = spark.createDataFrame([], T.StructType([*S.IDENTITY_EDGES_SCHEMA.fields, _reason_field()]))
        partition = _cut(partition)
        cap_cut = _cut(cap_cut)

        previous_ids = previous_map.select("node_key", "canonical_user_id", "first_seen")
        issued = previous_map.select("canonical_user_id").unionByName(
            previous_merges.select(F.col("old_canonical_user_id").alias("canonical_user_id"))
        )
        scope_previous = previous_ids.join(scope, on="node_key", how="left_semi")
        assignment, changes = identity.assign_canonical_ids(partition, scope_previous, issued)
        changes = _cut(changes)
        cap_changes = cap_cut.select(*identity.EDGE_KEY, F.col("reason").alias("change"))
        described = identity.describe_changes(changes, edge_changes.unionByName(cap_changes), partition, previous_ids)

        final_edges = _keep_unchanged_run_ids(
            _final_edges(guarded, cap_cut, scope, context.run_id),
            previous_edges,
            identity.EDGE_KEY,
            S.IDENTITY_EDGES_TABLE_SCHEMA,
        )
        final_edges = _cut(final_edges)
        full_assignment = assignment.unionByName(
            previous_map.join(scope, on="node_key", how="left_anti").select(
                "node_key", "canonical_user_id", "cap_group_id"
            )
        )
        identity_map = identity.build_identity_map(nodes, full_assignment, final_edges, context.run_id)
        identity_map = _cut(_keep_unchanged_run_ids(identity_map, previous_map, MAP_KEYS, S.IDENTITY_MAP_SCHEMA))
        audit = _audit_rows(final_edges, context)

        merges = described.select(
            F.lit(context.run_id).alias("run_id"),
            "old_canonical_user_id",
            "new_canonical_user_id",
            "change",
            "cause",
            F.lit(context.as_of).cast("timestamp").alias("as_of"),
        )
        written = {
            "silver.identity_merges": merge_table(
                spark, merges, merges_path, MERGES_KEYS, ignore_changes_in=EVENT_RUN_COLUMNS, spec=_spec("merges")
            ),
            "silver.identity_audit": merge_table(
                spark, audit, audit_path, AUDIT_KEYS, ignore_changes_in=EVENT_RUN_COLUMNS, spec=_spec("audit")
            ),
            "silver.identity_map": merge_table(spark, identity_map, map_path, MAP_KEYS, spec=_spec("map")),
            "silver.identity_edges": merge_table(
                spark,
                final_edges.select(*_columns(S.IDENTITY_EDGES_TABLE_SCHEMA)),
                edges_path,
                identity.EDGE_KEY,
                spec=_spec("edges"),
            ),
        }

        health = identity.graph_health(identity_map, final_edges, changes)
        result.rows_in = {"scope_nodes": scope_size}
        result.rows_out = {name: metrics.changed for name, metrics in written.items()}
        result.details.update(health)
        result.details["absent_inputs"] = absent
        result.details["edges_by_status"] = _status_counts(final_edges)
    return result


def _spec(table: str) -> TableSpec:
    return CATALOG[f"silver.identity_{table}"]


def _cut(frame: DataFrame) -> DataFrame:
    """Materialize ``frame`` and drop its lineage.

    ``persist`` is not enough here: a cached plan still carries its whole lineage, and this
    stage chains a dozen steps plus the component loop, so the final MERGE plans grew until
    rendering them exhausted the driver. Local checkpoints keep executor-local copies (memory
    and disk); losing an executor fails the stage, and the run lock makes the rerun safe.
    """
    return frame.localCheckpoint(eager=True)


def _reason_field() -> T.StructField:
    return T.StructField("reason", T.StringType(), False)


def _final_edges(guarded: DataFrame, cap_cut: DataFrame, scope: DataFrame, run_id: str) -> DataFrame:
    """Every edge with its status after this run: ``IDENTITY_EDGES_TABLE_SCHEMA`` plus ``newly_cut``.

    Guard cuts apply everywhere; component-cap cuts are decided for the solved scope only,
    and edges outside it keep last run's status.
    """
    capped = cap_cut.select(*identity.EDGE_KEY, F.lit(True).alias("_capped"))
    in_scope = scope.select(F.col("node_key").alias("src_key"), F.lit(True).alias("_in_scope"))
    joined = guarded.join(capped, on=identity.EDGE_KEY, how="left").join(in_scope, on="src_key", how="left")
    reason = (
        F.when(F.col("cut_reason").isNotNull(), F.col("cut_reason"))
        .when(F.col("_capped").isNotNull(), F.lit(S.COMPONENT_CAP))
        .when(F.col("_in_scope").isNotNull(), F.lit(None).cast("string"))
        .when(F.col("prev_status") == S.CUT, F.col("prev_cut_reason"))
    )
    status = F.when(reason.isNull(), F.lit(S.ACTIVE)).otherwise(F.lit(S.CUT))
    newly_cut = (status == S.CUT) & ~((F.col("prev_status") == S.CUT) & F.col("prev_cut_reason").eqNullSafe(reason))
    return joined.select(
        *identity.EDGE_COLUMNS,
        status.alias("status"),
        reason.alias("cut_reason"),
        F.lit(run_id).alias("updated_run_id"),
        F.coalesce(newly_cut, F.lit(True)).alias("newly_cut"),
    )


def _keep_unchanged_run_ids(
    current: DataFrame, previous: DataFrame, keys: list[str], schema: T.StructType
) -> DataFrame:
    """Rows equal to last run's keep last run's ``updated_run_id``, so a MERGE rewrites only changes.

    Returns ``schema`` columns plus any extra columns of ``current``.
    """
    compared = [c for c in schema.fieldNames() if c not in ("updated_run_id", *keys)]
    old = previous.select(
        *keys, *[F.col(c).alias(f"_prev_{c}") for c in compared], F.col("updated_run_id").alias("_prev_run")
    )
    joined = current.join(old, on=keys, how="left")
    same = F.lit(True)
    for column in compared:
        same = same & F.col(column).eqNullSafe(F.col(f"_prev_{column}"))
    run_id = F.when(F.col("_prev_run").isNotNull() & same, F.col("_prev_run")).otherwise(F.col("updated_run_id"))
    return joined.select(*[run_id.alias(c) if c == "updated_run_id" else F.col(c) for c in current.columns])


def _audit_rows(final_edges: DataFrame, context: RunContext) -> DataFrame:
    """Edges cut in this run that were not cut for the same reason before (``IDENTITY_AUDIT_SCHEMA``)."""
    return final_edges.where(F.col("newly_cut")).select(
        F.lit(context.run_id).alias("run_id"),
        "src_type",
        "src_value",
        "src_key",
        "dst_type",
        "dst_value",
        "dst_key",
        "edge_type",
        F.col("cut_reason").alias("reason"),
        F.lit(context.as_of).cast("timestamp").alias("as_of"),
    )


def _status_counts(edges: DataFrame) -> dict[str, int]:
    # One row per (status, reason): a handful.
    rows = edges.groupBy(F.coalesce(F.col("cut_reason"), F.col("status")).alias("k")).count().collect()
    return {row["k"]: int(row["count"]) for row in rows}
