"""Check columns for the Great Expectations suites: the domain rules no generic expectation covers.

Generic rules (types, keys, allowed values, ranges) are plain expectations in
``expectations/<layer>.<table>.json``. The domain rules below need context a single
column does not have (other rows of the same conversion, the previous version of a
table, another table, the run's as-of time), so they are computed here as ``chk_*``
columns appended to the table's rows, and the suites hold ordinary expectations
over those columns (``chk_credit_sum`` between 1 - tolerance and 1 + tolerance, ...).
A check column is null where its rule does not apply (closed journeys have no idle
time), and map expectations ignore nulls, so only the rows a rule governs count.

Every function is pure (DataFrame in, DataFrame out) and keeps the input columns:
the validation frame is the table itself plus its check columns. Row-count bounds
relative to the inputs are expectation parameters (``$PARAMETER`` in the suites),
built by :func:`expectation_parameters` from row counts the stage already has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig
from journeylake.reconciliation import MATCH_STATUSES, is_usable_transaction_id

# Every table that has a suite, as "<layer>.<table>" (the suite's name and file stem).
BRONZE_EVENTS = "bronze.events"
BRONZE_QUARANTINE = "bronze.quarantine"
IDENTITY_MAP = "silver.identity_map"
IDENTITY_MERGES = "silver.identity_merges"  # an input of the stability check; no suite of its own yet
SESSIONS = "silver.sessions"
USER_JOURNEYS = "gold.user_journeys"
JOURNEY_TOUCHPOINTS = "gold.journey_touchpoints"
JOURNEY_STATE_TRANSITIONS = "gold.journey_state_transitions"
USERS = "gold.users"
ATTRIBUTION = "gold.attribution"
CHANNEL_HISTORY = "gold.channel_history"
JOURNEY_ABANDONMENTS = "gold.journey_abandonments"
FUNNEL_DAILY = "gold.funnel_daily"
RECONCILIATION = "gold.reconciliation"
RECONCILIATION_SUMMARY = "gold.reconciliation_summary"
RL_TRANSITIONS = "gold.rl_transitions"
META_RUNS = "meta.runs"
VALIDATED_TABLES = (
    BRONZE_EVENTS,
    BRONZE_QUARANTINE,
    IDENTITY_MAP,
    SESSIONS,
    USER_JOURNEYS,
    JOURNEY_TOUCHPOINTS,
    JOURNEY_STATE_TRANSITIONS,
    USERS,
    ATTRIBUTION,
    CHANNEL_HISTORY,
    JOURNEY_ABANDONMENTS,
    FUNNEL_DAILY,
    RECONCILIATION,
    RECONCILIATION_SUMMARY,
    RL_TRANSITIONS,
    META_RUNS,
)

CHECK_PREFIX = "chk_"

# Credits are doubles summed over a handful of touches; anything further from 1 than
# this is a real error, not rounding. The suite's bounds are 1 +/- this value.
CREDIT_SUM_TOLERANCE = 1e-6
SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600

# Column names of inputs whose schemas other stages declare (kept here, in one place, until they do).
ATTRIBUTION_INCLUDED = "included"  # boolean; absent means every row is an included credit
MERGE_OLD_CANONICAL = "old_canonical_user_id"
MERGE_NEW_CANONICAL = "new_canonical_user_id"
PURCHASE_EVENT = "purchase"
RECONCILIATION_NO_GA4_SIDE = "missing_in_ga4"
INGEST_STAGE = "ingest"
INGEST_ACCOUNTING_FIELDS = ("input_rows", "accepted", "duplicates_removed", "quarantined")


def parameter_name_for_rows(table: str) -> str:
    """The expectation parameter holding ``table``'s row count: ``bronze.events`` -> ``rows_bronze_events``."""
    return "rows_" + table.replace(".", "_")


def expectation_parameters(
    row_counts: Mapping[str, int],
    config: PipelineConfig,
    ingest_input_rows_total: int | None,
) -> dict[str, int | float]:
    """Values for the suites' ``$PARAMETER`` references.

    ``row_counts`` holds the row count of every table present in the lake; a table that
    is absent has no parameter, and the expectations referring to it are skipped.
    ``ingest_input_rows_total`` is the sum of the ingest stage's input rows over the
    recorded runs (None before any run is recorded).
    """
    parameters: dict[str, int | float] = {parameter_name_for_rows(t): n for t, n in row_counts.items()}
    parameters["identity_max_component_size"] = config.identity.max_component_size
    parameters["journey_timeout_seconds"] = config.journey.journey_timeout_days * SECONDS_PER_DAY
    parameters["max_journey_seconds"] = config.journey.max_journey_days * SECONDS_PER_DAY
    if ingest_input_rows_total is not None:
        parameters["ingest_input_rows_total"] = ingest_input_rows_total
    return parameters


def _seconds_between(later: Column, earlier: Column) -> Column:
    return later.cast("long") - earlier.cast("long")


def event_checks(events_df: DataFrame) -> DataFrame:
    """bronze.events: the partition date must be the UTC date of the event time.

    Needs ``event_date``, ``event_ts``. Returns the input columns plus
    ``chk_event_date_matches_ts`` (boolean).
    """
    matches = F.coalesce(F.to_date("event_ts") == F.col("event_date"), F.lit(False))
    return events_df.select(*events_df.columns, matches.alias("chk_event_date_matches_ts"))


def session_overlap_checks(sessions_df: DataFrame) -> DataFrame:
    """silver.sessions: sessions of one device never overlap.

    Needs ``device_key``, ``session_id``, ``session_start_ts``, ``session_end_ts``.
    Returns the input columns plus ``chk_overlaps_earlier_session``: True when the
    session starts before some earlier session of the same device has ended (a
    running max, so a long session covering several later ones is caught too);
    null for a device's first session. Touching (start == previous end) is not an overlap.
    """
    earlier_sessions = (
        W.partitionBy("device_key")
        .orderBy("session_start_ts", "session_end_ts", "session_id")
        .rowsBetween(W.unboundedPreceding, -1)
    )
    latest_earlier_end = F.max("session_end_ts").over(earlier_sessions)
    overlaps = F.when(latest_earlier_end.isNotNull(), F.col("session_start_ts") < latest_earlier_end)
    return sessions_df.select(*sessions_df.columns, overlaps.alias("chk_overlaps_earlier_session"))


def session_event_coverage_checks(sessions_df: DataFrame, events_df: DataFrame) -> DataFrame:
    """silver.sessions: every event is in exactly one session, checked per device.

    Listing event ids per session is not part of the sessions contract, so the
    practical check is a count balance: for each device, the events in
    bronze.events equal the sum of ``event_count`` over its sessions. An event in
    two sessions makes the sum larger (negative gap), an event in none makes it
    smaller (positive gap). Needs sessions ``device_key``, ``event_count`` and events
    ``device_key``. Returns the session columns plus ``chk_device_unsessioned_events``
    (events of the device minus events counted in its sessions; 0 when balanced) and
    ``chk_unsessioned_events`` (the same over all devices, which also catches events
    of devices that have no session at all).
    """
    sessioned = sessions_df.groupBy("device_key").agg(F.sum("event_count").alias("_sessioned"))
    events = events_df.groupBy("device_key").agg(F.count(F.lit(1)).alias("_events"))
    gap = sessioned.join(events, on="device_key", how="left").select(
        "device_key", (F.coalesce("_events", F.lit(0)) - F.col("_sessioned")).alias("_gap")
    )
    # Two one-row aggregates: the cross join attaches one constant to every row.
    total_gap = (
        events_df.agg(F.count(F.lit(1)).alias("_all_events"))
        .join(sessions_df.agg(F.sum("event_count").alias("_all_sessioned")), how="cross")
        .select((F.col("_all_events") - F.coalesce("_all_sessioned", F.lit(0))).alias("chk_unsessioned_events"))
    )
    joined = sessions_df.join(gap, on="device_key", how="left").join(total_gap, how="cross")
    return joined.select(
        *sessions_df.columns,
        F.col("_gap").alias("chk_device_unsessioned_events"),
        "chk_unsessioned_events",
    )


def journey_timing_checks(journeys_df: DataFrame, as_of: datetime) -> DataFrame:
    """gold.user_journeys: open journeys are never idle past the timeout; no journey outlives the maximum.

    Needs ``status``, ``start_ts``, ``last_activity_ts``. Returns the input columns plus
    ``chk_open_idle_seconds`` (as-of minus last activity, for open journeys only; the
    suite bounds it by the journey timeout, so exactly the timeout still passes) and
    ``chk_active_span_seconds`` (last activity minus start, bounded by the maximum
    journey duration).
    """
    as_of_ts = F.lit(as_of).cast("timestamp")
    idle = F.when(F.col("status") == "open", _seconds_between(as_of_ts, F.col("last_activity_ts")))
    span = _seconds_between(F.col("last_activity_ts"), F.col("start_ts"))
    return journeys_df.select(
        *journeys_df.columns,
        idle.alias("chk_open_idle_seconds"),
        span.alias("chk_active_span_seconds"),
    )


def attribution_credit_checks(attribution_df: DataFrame) -> DataFrame:
    """gold.attribution: included credits of every conversion and model sum to 1.

    Needs ``conversion_id``, ``model``, ``credit`` and, when present, the boolean
    ``included`` (excluded touches carry credit 0 and an explanation). Returns the
    input columns plus ``chk_credit_sum``: the sum of included credits of the row's
    (conversion_id, model), on every included row; null on excluded rows.
    """
    included = (
        F.coalesce(F.col(ATTRIBUTION_INCLUDED), F.lit(False))
        if ATTRIBUTION_INCLUDED in attribution_df.columns
        else F.lit(True)
    )
    per_conversion = (
        W.partitionBy("conversion_id", "model")
        .orderBy("touchpoint_id")
        .rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    )
    credit_sum = F.sum(F.when(included, F.col("credit")).otherwise(F.lit(0.0))).over(per_conversion)
    return attribution_df.select(*attribution_df.columns, F.when(included, credit_sum).alias("chk_credit_sum"))


def identity_component_checks(identity_map_df: DataFrame) -> DataFrame:
    """silver.identity_map: no canonical id gathers more identifiers than the configured cap.

    Needs ``canonical_user_id``, ``id_type``, ``id_value``. Returns the input columns plus
    ``chk_component_size``: identifiers sharing the row's canonical id.
    """
    component = (
        W.partitionBy("canonical_user_id")
        .orderBy("id_type", "id_value")
        .rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    )
    size = F.count(F.lit(1)).over(component)
    return identity_map_df.select(*identity_map_df.columns, size.alias("chk_component_size"))


def identity_stability_checks(
    identity_map_df: DataFrame,
    previous_map_df: DataFrame,
    merges_df: DataFrame,
) -> DataFrame:
    """silver.identity_map: canonical ids stay stable unless a merge or split was recorded.

    ``previous_map_df`` is the table's previous Delta version (``id_type``, ``id_value``,
    ``canonical_user_id``); ``merges_df`` is silver.identity_merges (``old_canonical_user_id``,
    ``new_canonical_user_id``). Returns the current columns plus
    ``chk_canonical_changed_without_merge``: True when the identifier had another
    canonical id before and no recorded merge maps that old id to the new one;
    null for identifiers that are new in this version.
    """
    previous = previous_map_df.select("id_type", "id_value", F.col("canonical_user_id").alias("_previous_canonical"))
    recorded = merges_df.select(
        F.col(MERGE_OLD_CANONICAL).alias("_previous_canonical"),
        F.col(MERGE_NEW_CANONICAL).alias("canonical_user_id"),
        F.lit(True).alias("_recorded"),
    ).dropDuplicates(["_previous_canonical", "canonical_user_id"])  # a merge recorded in several runs counts once
    compared = identity_map_df.join(previous, on=["id_type", "id_value"], how="left").join(
        recorded, on=["_previous_canonical", "canonical_user_id"], how="left"
    )
    changed = F.col("_previous_canonical") != F.col("canonical_user_id")
    unexplained = F.when(F.col("_previous_canonical").isNotNull(), changed & F.col("_recorded").isNull())
    return compared.select(*identity_map_df.columns, unexplained.alias("chk_canonical_changed_without_merge"))


def ingest_accounting_checks(runs_df: DataFrame) -> DataFrame:
    """meta.runs: every ingest run accounts for its input: input = accepted + duplicates + quarantined.

    Needs ``stage`` and ``details_json`` (the ingest StageResult details with
    ``input_rows``, ``accepted``, ``duplicates_removed``, ``quarantined``). Returns the
    input columns plus, on ingest rows only, ``chk_ingest_accounting_recorded`` (all
    four numbers present) and ``chk_ingest_unaccounted_rows`` (input minus the three parts).
    """
    is_ingest = F.col("stage") == INGEST_STAGE
    fields = {name: F.get_json_object("details_json", f"$.{name}").cast("long") for name in INGEST_ACCOUNTING_FIELDS}
    recorded = F.coalesce(*(F.when(c.isNull(), F.lit(False)) for c in fields.values()), F.lit(True))
    unaccounted = fields["input_rows"] - fields["accepted"] - fields["duplicates_removed"] - fields["quarantined"]
    return runs_df.select(
        *runs_df.columns,
        F.when(is_ingest, recorded).alias("chk_ingest_accounting_recorded"),
        F.when(is_ingest, unaccounted).alias("chk_ingest_unaccounted_rows"),
    )


def ingest_input_rows_total(runs_df: DataFrame) -> DataFrame:
    """One row, ``input_rows_total``: the ingest input rows summed over the recorded runs (null if none).

    Needs ``stage``, ``details_json``.
    """
    input_rows = F.get_json_object("details_json", "$.input_rows").cast("long")
    return (
        runs_df.where(F.col("stage") == INGEST_STAGE)
        .agg(F.sum(input_rows).alias("input_rows_total"))
        .select("input_rows_total")
    )


def reconciliation_checks(reconciliation_df: DataFrame, events_df: DataFrame) -> DataFrame:
    """gold.reconciliation: the GA4 side of the reconciliation adds up to GA4's purchases.

    Every distinct usable GA4 purchase transaction id in bronze.events (placeholders
    excluded, as the reconcile stage does) must appear exactly once among the rows
    that have a GA4 side (every status but ``missing_in_ga4``). Needs reconciliation
    ``match_status`` and events ``event_name``, ``transaction_id``. Returns the
    reconciliation columns plus ``chk_ga4_transactions_unreconciled`` (GA4 purchase
    transactions minus reconciliation rows with a GA4 side; 0 when they add up).
    """
    usable_purchase = (F.col("event_name") == PURCHASE_EVENT) & is_usable_transaction_id(F.col("transaction_id"))
    ga4_transactions = events_df.where(usable_purchase).agg(F.countDistinct("transaction_id").alias("_ga4"))
    with_ga4_side = reconciliation_df.agg(
        F.count(F.when(F.col("match_status") != RECONCILIATION_NO_GA4_SIDE, F.lit(1))).alias("_reconciled")
    )
    # Two one-row aggregates: the cross join attaches one constant to every row.
    balance = ga4_transactions.join(with_ga4_side, how="cross").select(
        (F.col("_ga4") - F.col("_reconciled")).alias("chk_ga4_transactions_unreconciled")
    )
    return reconciliation_df.join(balance, how="cross").select(
        *reconciliation_df.columns, "chk_ga4_transactions_unreconciled"
    )


def reconciliation_summary_checks(summary_df: DataFrame) -> DataFrame:
    """gold.reconciliation_summary: per date and channel, the status counts add up to the transactions.

    Needs ``transactions`` and one count column per match status. Returns the input
    columns plus ``chk_status_counts_unbalanced`` (transactions minus the sum of the
    status counts; 0 when they add up).
    """
    status_total = sum((F.col(status) for status in MATCH_STATUSES), F.lit(0))
    unbalanced = F.col("transactions") - status_total
    return summary_df.select(*summary_df.columns, unbalanced.alias("chk_status_counts_unbalanced"))


def funnel_checks(funnel_df: DataFrame) -> DataFrame:
    """gold.funnel_daily: of those who entered a step, each either completed or dropped.

    Needs ``entered``, ``completed``, ``dropped``. Returns the input columns plus
    ``chk_funnel_unbalanced`` (entered - completed - dropped; 0 when balanced).
    """
    unbalanced = F.col("entered") - F.col("completed") - F.col("dropped")
    return funnel_df.select(*funnel_df.columns, unbalanced.alias("chk_funnel_unbalanced"))


def build_validation_frames(
    tables: Mapping[str, DataFrame],
    *,
    as_of: datetime,
    previous_identity_map: DataFrame | None,
) -> dict[str, DataFrame]:
    """The frame each suite validates: every present table with the check columns its inputs allow.

    ``tables`` maps "<layer>.<table>" to the table's current rows (absent tables are
    simply missing). A check whose inputs are absent is not added; the suite's
    expectation on that column is then reported as skipped, not failed.
    """
    frames: dict[str, DataFrame] = {}
    for name in VALIDATED_TABLES:
        if name in tables:
            frames[name] = tables[name]

    if BRONZE_EVENTS in frames:
        frames[BRONZE_EVENTS] = event_checks(frames[BRONZE_EVENTS])
    if SESSIONS in frames:
        frames[SESSIONS] = session_overlap_checks(frames[SESSIONS])
        if BRONZE_EVENTS in tables:
            frames[SESSIONS] = session_event_coverage_checks(frames[SESSIONS], tables[BRONZE_EVENTS])
    if USER_JOURNEYS in frames:
        frames[USER_JOURNEYS] = journey_timing_checks(frames[USER_JOURNEYS], as_of)
    if ATTRIBUTION in frames:
        frames[ATTRIBUTION] = attribution_credit_checks(frames[ATTRIBUTION])
    if IDENTITY_MAP in frames:
        frames[IDENTITY_MAP] = identity_component_checks(frames[IDENTITY_MAP])
        if previous_identity_map is not None and IDENTITY_MERGES in tables:
            frames[IDENTITY_MAP] = identity_stability_checks(
                frames[IDENTITY_MAP], previous_identity_map, tables[IDENTITY_MERGES]
            )
    if META_RUNS in frames:
        frames[META_RUNS] = ingest_accounting_checks(frames[META_RUNS])
    if RECONCILIATION in frames and BRONZE_EVENTS in tables:
        frames[RECONCILIATION] = reconciliation_checks(frames[RECONCILIATION], tables[BRONZE_EVENTS])
    if RECONCILIATION_SUMMARY in frames:
        frames[RECONCILIATION_SUMMARY] = reconciliation_summary_checks(frames[RECONCILIATION_SUMMARY])
    funnel_columns = {"entered", "completed", "dropped"}
    if FUNNEL_DAILY in frames and funnel_columns <= set(frames[FUNNEL_DAILY].columns):
        frames[FUNNEL_DAILY] = funnel_checks(frames[FUNNEL_DAILY])
    return frames
