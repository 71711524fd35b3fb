"""Stage: sessions and persistent journeys, rebuilt incrementally for the people whose data changed.

Reads bronze.events, bronze.ad_touchpoints, silver.identity_map and silver.identity_merges (absent tables read as
empty) and writes silver.sessions, gold.journey_touchpoints, gold.user_journeys, gold.journey_state_transitions,
gold.users and the watermark meta.journeys_processed.

Scope of a run: the people (canonical ids under today's identity map) with events or ad touches in a bronze batch
(``ingest_run_id``) not yet in the watermark, both sides of every identity merge/split not yet processed, and the
previous owners of those people's devices and ad touches in gold (a device-level person resolved to a real one, a
merged-away id). Each person in scope is rebuilt from *all* of their bronze history, and every row of theirs in the
output tables (including rows under merged-away ids) is replaced: MERGE on the table key, after deleting the keys
the rebuild no longer produces. Because each person is always recomputed from their full history, processing the
batches one by one ends in exactly the tables one run over everything gives. People outside the scope only see
their open journeys time out as ``as_of`` moves on (the same rule, :func:`journeylake.journeys.expire_journeys`).

Unchanged rows are never rewritten: MERGE updates only rows that differ, and a rebuilt row identical to the stored
one keeps its ``updated_run_id``. The watermark is written last, so a run killed midway redoes the same scope.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.io.delta import WriteMetrics, merge_table, read_table, read_table_or_empty, table_exists, table_path
from journeylake.journeys import (
    AD_INTERACTIONS,
    ad_touches,
    assign_journeys,
    device_persons,
    event_touches,
    expire_journeys,
    gclid_persons,
    journey_touchpoints,
    latest_ad_touches,
    rebuild_scope,
    state_transitions,
    summarize_journeys,
    summarize_users,
    visit_touches,
    with_person,
)
from journeylake.schemas.bronze import BRONZE_AD_TOUCHPOINTS_SCHEMA, BRONZE_EVENTS_SCHEMA
from journeylake.schemas.catalog import CATALOG
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA, IDENTITY_MERGES_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_TOUCHPOINTS_SCHEMA,
    JOURNEYS_PROCESSED_SCHEMA,
    OPEN,
    STATES,
    STATUSES,
)
from journeylake.sessions import PURCHASE_EVENT, sessionize_events, summarize_sessions
from journeylake.stages import RunContext, StageResult, timed

STAGE = "journeys"
EVENTS_INPUT, ADS_INPUT, MERGES_INPUT = "bronze.events", "bronze.ad_touchpoints", "silver.identity_merges"
SAMPLE_SIZE = 5  # offending keys quoted in an error message

# The bronze.events columns sessions and touches use (others stay in bronze).
EVENT_COLUMNS = (
    "event_id",
    "event_ts",
    "event_ts_micros",
    "event_name",
    "event_seq",
    "user_pseudo_id",
    "device_key",
    "ga_session_id",
    "traffic_source",
    "traffic_medium",
    "traffic_campaign",
    "channel",
    "page_location",
    "engagement_time_msec",
    "revenue",
    "transaction_id",
    "is_duplicate_purchase",
    "device_category",
    "ingest_run_id",
)


class JourneyInputError(RuntimeError):
    """An input breaks a contract the journeys stage relies on."""


def _path(context: RunContext, layer: str, table: str) -> str:
    return table_path(context.lake, layer, table)


def _read(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    return read_table_or_empty(spark, path, schema).select(*schema.fieldNames())


def _check_identity_map_keys(identity_map: DataFrame) -> None:
    # A (type, value) on two rows would duplicate every touch it resolves; fail loudly instead.
    duplicated = (
        identity_map.groupBy("id_type", "id_value").count().where(F.col("count") > 1).limit(SAMPLE_SIZE).collect()
    )
    if duplicated:
        sample = ", ".join(f"{r['id_type']}={r['id_value']}" for r in duplicated)
        raise JourneyInputError(f"silver.identity_map has more than one row per identifier (e.g. {sample})")


def _new_inputs(events: DataFrame, ads: DataFrame, merges: DataFrame, processed: DataFrame) -> list[tuple[str, str]]:
    """(input, run id) pairs not in the watermark. Collected: one row per batch or identity run, not per event."""
    seen = (
        events.select(F.lit(EVENTS_INPUT).alias("input"), F.col("ingest_run_id").alias("input_run_id"))
        .unionByName(ads.select(F.lit(ADS_INPUT).alias("input"), F.col("ingest_run_id").alias("input_run_id")))
        .unionByName(merges.select(F.lit(MERGES_INPUT).alias("input"), F.col("run_id").alias("input_run_id")))
        .distinct()
    )
    new = seen.join(processed, on=["input", "input_run_id"], how="left_anti")
    return sorted((r["input"], r["input_run_id"]) for r in new.collect())


def _write_scope(
    spark: SparkSession, name: str, rows: DataFrame, path: str, scope: DataFrame, existing: DataFrame
) -> WriteMetrics:
    """Make the scoped people's rows of the table equal ``rows``, in one MERGE: changed rows updated, new ones
    inserted, and the rows the rebuild no longer produces (a journey merged into another, a session of a device
    that moved to another person) deleted."""
    spec = CATALOG[name]
    keys = list(spec.key)
    stale = (
        existing.join(scope, on="canonical_user_id", how="left_semi")
        .select(*keys)
        .join(rows.select(*keys), on=keys, how="left_anti")
    )
    return merge_table(spark, rows, path, keys, delete_keys=stale, spec=spec)


def run(context: RunContext) -> StageResult:
    result = StageResult(stage=STAGE)
    with timed(result):
        _run(context, result)
    return result


def _run(context: RunContext, result: StageResult) -> None:
    spark, run_id, as_of = context.spark, context.run_id, context.as_of
    paths = {
        "events": _path(context, "bronze", "events"),
        "ads": _path(context, "bronze", "ad_touchpoints"),
        "map": _path(context, "silver", "identity_map"),
        "merges": _path(context, "silver", "identity_merges"),
        "sessions": _path(context, "silver", "sessions"),
        "touchpoints": _path(context, "gold", "journey_touchpoints"),
        "journeys": _path(context, "gold", "user_journeys"),
        "transitions": _path(context, "gold", "journey_state_transitions"),
        "users": _path(context, "gold", "users"),
        "processed": _path(context, "meta", "journeys_processed"),
    }
    events = _read(spark, paths["events"], BRONZE_EVENTS_SCHEMA).select(*EVENT_COLUMNS)
    ads_raw = _read(spark, paths["ads"], BRONZE_AD_TOUCHPOINTS_SCHEMA)
    identity_map = _read(spark, paths["map"], IDENTITY_MAP_SCHEMA)
    merges = _read(spark, paths["merges"], IDENTITY_MERGES_SCHEMA)
    processed = _read(spark, paths["processed"], JOURNEYS_PROCESSED_SCHEMA)
    existing_touchpoints = _read(spark, paths["touchpoints"], JOURNEY_TOUCHPOINTS_SCHEMA)
    if not table_exists(spark, paths["map"]):
        result.details["identity_map"] = "absent: every device is its own person"
    _check_identity_map_keys(identity_map)

    new_inputs = _new_inputs(events, ads_raw, merges, processed)
    new_runs = {name: [r for i, r in new_inputs if i == name] for name in (EVENTS_INPUT, ADS_INPUT, MERGES_INPUT)}
    result.details["new_inputs"] = {name: len(runs) for name, runs in new_runs.items()}

    devices, gclids = device_persons(identity_map), gclid_persons(identity_map)
    events_p = with_person(events, devices)
    valid_ads = F.coalesce(
        F.col("touch_id").isNotNull() & F.col("touch_ts").isNotNull() & F.col("interaction").isin(*AD_INTERACTIONS),
        F.lit(False),
    )
    ads_p = with_person(latest_ad_touches(ads_raw.where(valid_ads)), devices, gclids)
    resolved_ads = ads_p.where(F.col("canonical_user_id").isNotNull())

    # Checkpointed, not cached: Spark re-computes a cached frame when a table it read is written, and this run
    # writes gold.journey_touchpoints (where the previous owners came from) before it is done with the scope.
    scope = rebuild_scope(
        events_p,
        resolved_ads,
        merges,
        existing_touchpoints,
        new_event_batches=new_runs[EVENTS_INPUT],
        new_ad_batches=new_runs[ADS_INPUT],
        new_identity_runs=new_runs[MERGES_INPUT],
    ).localCheckpoint()
    scope_count = scope.count()
    result.details["people_rebuilt"] = scope_count

    # ---- time moves on for everyone else: the same status rule, without a rebuild ----
    expired = None
    if table_exists(spark, paths["journeys"]):
        current = read_table(spark, paths["journeys"]).join(scope, on="canonical_user_id", how="left_anti")
        # Materialized: it is merged into the table it was read from.
        expired = expire_journeys(current, as_of, run_id).localCheckpoint()

    written: dict[str, WriteMetrics] = {}
    if scope_count:
        written = _rebuild(
            context, result, paths, scope, events_p, resolved_ads, identity_map, existing_touchpoints, expired
        )
        result.details["ad_touches_invalid"] = ads_raw.where(~valid_ads).count()
        # Kept out of journeys (no person to give them to); a later identity run that resolves their gclid or
        # device brings them in when that person is rebuilt.
        result.details["ad_touches_unresolved"] = ads_p.where(F.col("canonical_user_id").isNull()).count()
    elif expired is not None:
        spec = CATALOG["gold.user_journeys"]
        written[spec.qualified_name] = merge_table(spark, expired, paths["journeys"], list(spec.key), spec=spec)

    # ---- watermark last: a run killed before this point redoes the same scope ----
    if new_inputs:
        marks = spark.createDataFrame([(i, r, run_id) for i, r in new_inputs], JOURNEYS_PROCESSED_SCHEMA)
        spec = CATALOG["meta.journeys_processed"]
        merge_table(spark, marks, paths["processed"], list(spec.key), spec=spec)

    result.rows_out = {name: metrics.changed for name, metrics in written.items()}
    result.details["journeys_expired"] = expired.count() if expired is not None else 0
    _summarize(spark, result, paths)


def _rebuild(
    context: RunContext,
    result: StageResult,
    paths: dict[str, str],
    scope: DataFrame,
    events_p: DataFrame,
    resolved_ads: DataFrame,
    identity_map: DataFrame,
    existing_touchpoints: DataFrame,
    expired: DataFrame | None,
) -> dict[str, WriteMetrics]:
    spark, config, run_id, as_of = context.spark, context.config, context.run_id, context.as_of
    # One shuffle of the events, by the integer person key: sessions (per person and device) and the touches
    # built from them keep that partitioning.
    scoped_events = events_p.join(scope, on="canonical_user_id", how="left_semi").repartition("canonical_user_id")
    sessionized = sessionize_events(scoped_events, config.session).localCheckpoint()
    sessions = summarize_sessions(sessionized, config.session).localCheckpoint()
    scoped_ads = resolved_ads.join(scope, on="canonical_user_id", how="left_semi")

    touches = (
        visit_touches(sessions, config.journey)
        .unionByName(event_touches(sessionized, sessions))
        .unionByName(ad_touches(scoped_ads))
    )
    assigned = assign_journeys(touches, config.journey).localCheckpoint()

    # Each output is materialized (lineage cut) before any write: every stale-key set is computed against the
    # tables as they were before this run, and users read the journeys of the same run.
    touchpoints = journey_touchpoints(assigned).localCheckpoint()
    transitions = state_transitions(assigned).localCheckpoint()
    journeys = summarize_journeys(assigned, config.journey, as_of, run_id).localCheckpoint()
    # The people outside the scope whose journeys timed out by now ride in the same MERGE (their keys are disjoint).
    journey_rows = journeys if expired is None else journeys.unionByName(expired)
    activity = sessionized.select(
        "canonical_user_id", "device_key", F.col("event_ts").alias("activity_ts"), "ingest_run_id"
    ).unionByName(
        scoped_ads.select("canonical_user_id", "device_key", F.col("touch_ts").alias("activity_ts"), "ingest_run_id")
    )
    identifiers = (
        identity_map.join(scope, on="canonical_user_id", how="left_semi")
        .groupBy("canonical_user_id")
        .agg(F.count(F.lit(1)).alias("identifiers"))
    )
    users = summarize_users(journeys, activity, identifiers, run_id).localCheckpoint()

    counts = sessionized.agg(
        F.count(F.lit(1)).alias("events"),
        F.sum(F.when(F.col("person_resolution") == "device_fallback", 1).otherwise(0)).alias("device_level"),
        F.sum(F.when((F.col("event_name") == PURCHASE_EVENT) & F.col("is_duplicate_purchase"), 1).otherwise(0)).alias(
            "duplicates"
        ),
        F.count_distinct("ingest_run_id").alias("batches"),
    ).first()
    assert counts is not None  # a global aggregate has one row
    result.rows_in = {"bronze.events": int(counts["events"])}
    result.details["events_device_level_person"] = int(counts["device_level"] or 0)
    result.details["duplicate_purchases_ignored"] = int(counts["duplicates"] or 0)

    existing = {
        name: _read(spark, paths[key], CATALOG[name].schema)
        for key, name in (
            ("sessions", "silver.sessions"),
            ("transitions", "gold.journey_state_transitions"),
            ("journeys", "gold.user_journeys"),
            ("users", "gold.users"),
        )
    }
    existing["gold.journey_touchpoints"] = existing_touchpoints
    outputs = {
        "silver.sessions": (sessions, paths["sessions"]),
        "gold.journey_touchpoints": (touchpoints, paths["touchpoints"]),
        "gold.journey_state_transitions": (transitions, paths["transitions"]),
        "gold.user_journeys": (journey_rows, paths["journeys"]),
        "gold.users": (users, paths["users"]),
    }
    written = {
        name: _write_scope(spark, name, rows, path, scope, existing[name]) for name, (rows, path) in outputs.items()
    }
    result.details["rows_deleted"] = {name: metrics.deleted for name, metrics in written.items()}
    for frame in (sessionized, assigned):
        frame.unpersist()
    return written


def _summarize(spark: SparkSession, result: StageResult, paths: dict[str, str]) -> None:
    """Journeys by status and by state (a handful of groups: collected) for the stage's one-line message."""
    if not table_exists(spark, paths["journeys"]):
        return
    groups = read_table(spark, paths["journeys"]).groupBy("status", "current_state").count().collect()
    by_status = {s: sum(int(r["count"]) for r in groups if r["status"] == s) for s in {r["status"] for r in groups}}
    by_state = {
        s: sum(int(r["count"]) for r in groups if r["current_state"] == s) for s in {r["current_state"] for r in groups}
    }
    # The message is part of the one-line summary every job and the pipeline print.
    result.message = (
        "journeys by status: "
        + " ".join(f"{s}={by_status.get(s, 0)}" for s in STATUSES)
        + "; by state: "
        + " ".join(f"{s}={by_state.get(s, 0)}" for s in STATES)
    )
    result.details["journeys_by_status"] = by_status
    result.details["journeys_by_state"] = by_state
    result.details["open_journeys"] = by_status.get(OPEN, 0)
