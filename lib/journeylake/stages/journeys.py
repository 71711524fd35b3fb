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

from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.io.delta import merge_table, read_table, read_table_or_empty, table_exists, table_path
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
    mark_abandoned_closers,
    state_transitions,
    summarize_journeys,
    summarize_users,
    visit_touches,
    with_person,
)
from journeylake.schemas.bronze import BRONZE_AD_TOUCHPOINTS_SCHEMA, BRONZE_EVENTS_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA, IDENTITY_MERGES_SCHEMA
from journeylake.schemas.journeys import (
    ABANDONED,
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    JOURNEYS_PROCESSED_SCHEMA,
    OPEN,
    SESSIONS_SCHEMA,
    STATES,
    STATUSES,
    USER_JOURNEYS_SCHEMA,
    USERS_SCHEMA,
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


def _keep_run_id_if_unchanged(new: DataFrame, existing: DataFrame, keys: list[str]) -> DataFrame:
    """A rebuilt row equal to the stored one keeps the stored updated_run_id, so MERGE leaves it untouched."""
    compared = [c for c in new.columns if c not in (*keys, "updated_run_id")]
    old = existing.select(
        *keys, *[F.col(c).alias(f"_old_{c}") for c in compared], F.col("updated_run_id").alias("_old_run_id")
    )
    same: Column = reduce(lambda a, b: a & b, [F.col(c).eqNullSafe(F.col(f"_old_{c}")) for c in compared])
    return (
        new.join(old, on=keys, how="left")
        .withColumn(
            "updated_run_id",
            F.when(F.col("_old_run_id").isNotNull() & same, F.col("_old_run_id")).otherwise(F.col("updated_run_id")),
        )
        .select(*new.columns)
    )


def _replace_scope(
    spark: SparkSession, rows: DataFrame, path: str, keys: list[str], schema: T.StructType, scope: DataFrame
) -> int:
    """MERGE ``rows`` on ``keys``, first deleting the scoped people's rows the rebuild no longer produces."""
    existing = read_table_or_empty(spark, path, schema)
    stale = (
        existing.join(scope, on="canonical_user_id", how="left_semi")
        .select(*keys)
        .join(rows.select(*keys), on=keys, how="left_anti")
        .localCheckpoint()  # materialized before the MERGE changes the table it was read from
    )
    stale_count = stale.count()
    merge_table(spark, rows, path, keys=keys, delete_keys=stale if stale_count else None)
    return stale_count


def _carry_abandonment(journeys: DataFrame, existing: DataFrame) -> DataFrame:
    """Journeys the abandonment stage closed keep its status, reason and end time when rebuilt."""
    abandoned = existing.where(F.col("status") == ABANDONED).select(
        "journey_id",
        F.col("abandon_reason").alias("_old_reason"),
        F.col("end_ts").alias("_old_end_ts"),
        F.lit(True).alias("_was_abandoned"),
    )
    was = F.coalesce(F.col("_was_abandoned"), F.lit(False))
    return (
        journeys.join(abandoned, on="journey_id", how="left")
        .withColumn("status", F.when(was, F.lit(ABANDONED)).otherwise(F.col("status")))
        .withColumn("abandon_reason", F.when(was, F.col("_old_reason")).otherwise(F.col("abandon_reason")))
        .withColumn("end_ts", F.when(was, F.col("_old_end_ts")).otherwise(F.col("end_ts")))
        .withColumn("close_reason", F.when(was, F.lit(None)).otherwise(F.col("close_reason")))
        .select(*journeys.columns)
    )


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
    existing_journeys = _read(spark, paths["journeys"], USER_JOURNEYS_SCHEMA)
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

    # ---- scope: who must be rebuilt ----
    seeds = (
        events_p.where(F.col("ingest_run_id").isin(new_runs[EVENTS_INPUT]))
        .select("canonical_user_id")
        .unionByName(resolved_ads.where(F.col("ingest_run_id").isin(new_runs[ADS_INPUT])).select("canonical_user_id"))
        .unionByName(
            merges.where(F.col("run_id").isin(new_runs[MERGES_INPUT])).select(
                F.col("old_canonical_user_id").alias("canonical_user_id")
            )
        )
        .unionByName(
            merges.where(F.col("run_id").isin(new_runs[MERGES_INPUT])).select(
                F.col("new_canonical_user_id").alias("canonical_user_id")
            )
        )
        .distinct()
    )
    seed_devices = (
        events_p.join(seeds, on="canonical_user_id", how="left_semi")
        .select("device_key")
        .unionByName(resolved_ads.join(seeds, on="canonical_user_id", how="left_semi").select("device_key"))
        .where(F.col("device_key").isNotNull())
        .distinct()
    )
    seed_ad_ids = resolved_ads.join(seeds, on="canonical_user_id", how="left_semi").select(
        F.col("touch_id").alias("touchpoint_id")
    )
    previous_owners = (
        existing_touchpoints.join(seed_devices, on="device_key", how="left_semi")
        .select("canonical_user_id")
        .unionByName(
            existing_touchpoints.join(seed_ad_ids, on="touchpoint_id", how="left_semi").select("canonical_user_id")
        )
    )
    # Checkpointed, not cached: Spark re-computes a cached frame when a table it read is written, and this run
    # writes gold.journey_touchpoints (where the previous owners came from) before it is done with the scope.
    scope = seeds.unionByName(previous_owners).distinct().localCheckpoint()
    scope_count = scope.count()
    result.details["people_rebuilt"] = scope_count

    if scope_count:
        _rebuild(
            context, result, paths, scope, events_p, resolved_ads, identity_map, existing_journeys, existing_touchpoints
        )
        result.details["ad_touches_invalid"] = ads_raw.where(~valid_ads).count()
        # Kept out of journeys (no person to give them to); a later identity run that resolves their gclid or
        # device brings them in when that person is rebuilt.
        result.details["ad_touches_unresolved"] = ads_p.where(F.col("canonical_user_id").isNull()).count()

    # ---- time moves on for everyone else ----
    if table_exists(spark, paths["journeys"]):
        current = read_table(spark, paths["journeys"]).join(scope, on="canonical_user_id", how="left_anti")
        # Materialized: it is merged into the table it was read from.
        expired = expire_journeys(current, as_of, run_id).localCheckpoint()
        result.details["journeys_expired"] = expired.count()
        if result.details["journeys_expired"]:
            merge_table(spark, expired, paths["journeys"], keys=["journey_id"])

    # ---- watermark last: a run killed before this point redoes the same scope ----
    if new_inputs:
        marks = spark.createDataFrame([(i, r, run_id) for i, r in new_inputs], JOURNEYS_PROCESSED_SCHEMA)
        merge_table(spark, marks, paths["processed"], keys=["input", "input_run_id"])

    _summarize(spark, result, paths)


def _rebuild(
    context: RunContext,
    result: StageResult,
    paths: dict[str, str],
    scope: DataFrame,
    events_p: DataFrame,
    resolved_ads: DataFrame,
    identity_map: DataFrame,
    existing_journeys: DataFrame,
    existing_touchpoints: DataFrame,
) -> None:
    spark, config, run_id, as_of = context.spark, context.config, context.run_id, context.as_of
    # One shuffle of the events, by the integer person key: sessions (per person and device) and the touches
    # built from them keep that partitioning.
    scoped_events = events_p.join(scope, on="canonical_user_id", how="left_semi").repartition("canonical_user_id")
    sessionized = sessionize_events(scoped_events, config.session).persist()
    sessions = summarize_sessions(sessionized, config.session).localCheckpoint()
    scoped_ads = resolved_ads.join(scope, on="canonical_user_id", how="left_semi")

    abandoned_ids = existing_journeys.join(scope, on="canonical_user_id", how="left_semi").where(
        F.col("status") == ABANDONED
    )
    closers = (
        existing_touchpoints.join(abandoned_ids.select("journey_id"), on="journey_id", how="left_semi")
        .groupBy("journey_id")
        .agg(F.max_by("touchpoint_id", "position").alias("touchpoint_id"))
        .select("touchpoint_id")
    )
    touches = mark_abandoned_closers(
        visit_touches(sessions, config.journey)
        .unionByName(event_touches(sessionized, sessions))
        .unionByName(ad_touches(scoped_ads)),
        closers,
    )
    assigned = assign_journeys(touches, config.journey).persist()

    # Each output is materialized (lineage cut) before any write: journeys and users read the tables they are
    # merged into, and every stale-key set is computed against the tables as they were before this run.
    touchpoints = journey_touchpoints(assigned).localCheckpoint()
    transitions = state_transitions(assigned).localCheckpoint()
    journeys = _keep_run_id_if_unchanged(
        _carry_abandonment(summarize_journeys(assigned, config.journey, as_of, run_id), existing_journeys),
        existing_journeys,
        ["journey_id"],
    ).localCheckpoint()
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
    existing_users = _read(spark, paths["users"], USERS_SCHEMA)
    users = _keep_run_id_if_unchanged(
        summarize_users(journeys, activity, identifiers, run_id), existing_users, ["canonical_user_id"]
    ).localCheckpoint()

    counts = sessionized.agg(
        F.count(F.lit(1)).alias("events"),
        F.sum(F.when(F.col("person_resolution") == "device_fallback", 1).otherwise(0)).alias("device_level"),
        F.sum(F.when((F.col("event_name") == PURCHASE_EVENT) & F.col("is_duplicate_purchase"), 1).otherwise(0)).alias(
            "duplicates"
        ),
    ).first()
    assert counts is not None  # a global aggregate has one row
    result.rows_in = {"bronze.events": int(counts["events"]), "bronze.ad_touchpoints": scoped_ads.count()}
    result.details["events_device_level_person"] = int(counts["device_level"] or 0)
    result.details["duplicate_purchases_ignored"] = int(counts["duplicates"] or 0)

    deleted = {
        "silver.sessions": _replace_scope(spark, sessions, paths["sessions"], ["session_id"], SESSIONS_SCHEMA, scope),
        "gold.journey_touchpoints": _replace_scope(
            spark, touchpoints, paths["touchpoints"], ["touchpoint_id"], JOURNEY_TOUCHPOINTS_SCHEMA, scope
        ),
        "gold.journey_state_transitions": _replace_scope(
            spark, transitions, paths["transitions"], ["journey_id", "seq"], JOURNEY_STATE_TRANSITIONS_SCHEMA, scope
        ),
        "gold.user_journeys": _replace_scope(
            spark, journeys, paths["journeys"], ["journey_id"], USER_JOURNEYS_SCHEMA, scope
        ),
        "gold.users": _replace_scope(spark, users, paths["users"], ["canonical_user_id"], USERS_SCHEMA, scope),
    }
    result.details["rows_replaced"] = deleted
    for frame in (sessionized, assigned):
        frame.unpersist()


def _summarize(spark: SparkSession, result: StageResult, paths: dict[str, str]) -> None:
    """Table sizes, and journeys by status and by state (a handful of groups: collected)."""
    tables = {
        "silver.sessions": paths["sessions"],
        "gold.journey_touchpoints": paths["touchpoints"],
        "gold.user_journeys": paths["journeys"],
        "gold.journey_state_transitions": paths["transitions"],
        "gold.users": paths["users"],
    }
    result.rows_out = {name: read_table(spark, p).count() for name, p in tables.items() if table_exists(spark, p)}
    if not table_exists(spark, paths["journeys"]):
        return
    journeys = read_table(spark, paths["journeys"])
    groups = journeys.groupBy("status", "current_state").count().collect()
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
