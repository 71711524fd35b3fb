"""The single-node reference: sessionization, journey boundaries and last-touch / linear attribution, once with
the journeylake Spark functions and once as DuckDB SQL, over the same input files, each timed on its own.

Input (written by :func:`export_core_input`, untimed): ``events/`` = bronze.events (the Delta table's current
snapshot, read through Delta, the columns the journeys stage reads) and ``devices/`` = silver.identity_map's
device rows. Both engines read those Parquet files, resolve each event's person (identity map, else the device
itself, as :func:`journeylake.journeys.with_person`) and compute:

- sessions per device: a new session after a gap of more than 30 minutes or at a ``session_start`` event;
- touches: one visit per session (at its start, with the session's channel), the first product view / add to
  cart / checkout / sign up of each session, and every non-duplicate purchase. Ad touches are left out on both
  sides (they need the gclid resolution of the stage), so journey counts here are not gold.user_journeys';
- journeys per person: a new journey after a conversion, after a gap of 14 days or more, or 90 days into a run of
  activity; ids as in :func:`journeylake.journeys.assign_journeys` (sha2 of person and first touch);
- last-touch and linear credits of every converted journey's touches (30-day lookback, the conversion event
  itself excluded), as :func:`journeylake.attribution.last_touch_credits` / ``linear_credits``.

Each engine writes three Parquet outputs (sessions, journeys, credits); :func:`compare_outputs` then checks that
both produced the same session ids, journey ids and credits per channel.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.attribution import conversions_from_journeys, label_touches, last_touch_credits, linear_credits
from journeylake.config import PipelineConfig
from journeylake.io.delta import read_table, table_path
from journeylake.journeys import (
    assign_journeys,
    device_persons,
    event_touches,
    journey_touchpoints,
    summarize_journeys,
    visit_touches,
    with_person,
)
from journeylake.sessions import sessionize_events, summarize_sessions
from journeylake.stages.journeys import EVENT_COLUMNS

OUTPUTS = ("sessions", "journeys", "credits")
CREDIT_DIGITS = 6  # credits per channel are compared rounded (sums of doubles differ in the last bits)


def export_core_input(spark: SparkSession, lake: str, core_dir: Path) -> dict[str, int]:
    """Write the reference's input files (bronze.events, identity map device rows) and return their row counts."""
    events = read_table(spark, table_path(lake, "bronze", "events")).select(*EVENT_COLUMNS)
    devices = (
        read_table(spark, table_path(lake, "silver", "identity_map"))
        .where(F.col("id_type") == "device")
        .select("id_type", "id_value", "canonical_user_id")
    )
    events.write.mode("overwrite").parquet(str(core_dir / "events"))
    devices.write.mode("overwrite").parquet(str(core_dir / "devices"))
    return {
        "events": spark.read.parquet(str(core_dir / "events")).count(),
        "devices": spark.read.parquet(str(core_dir / "devices")).count(),
    }


def run_spark_core(
    spark: SparkSession, config: PipelineConfig, core_dir: Path, out_dir: Path, as_of: datetime
) -> float:
    """The journeylake functions over the core input; returns wall seconds (read to the three written outputs).

    Shaped like the journeys stage: one shuffle by person, the sessionized events and assigned touches persisted,
    the sessions materialized (local checkpoint) because touches and the output both read them.
    """
    start = time.perf_counter()
    events = spark.read.parquet(str(core_dir / "events"))
    devices = device_persons(spark.read.parquet(str(core_dir / "devices")))
    events_p = with_person(events, devices).repartition("canonical_user_id")
    sessionized = sessionize_events(events_p, config.session).persist()
    sessions = summarize_sessions(sessionized, config.session).localCheckpoint()
    touches = visit_touches(sessions, config.journey).unionByName(event_touches(sessionized, sessions))
    assigned = assign_journeys(touches, config.journey).persist()
    journeys = summarize_journeys(assigned, config.journey, as_of, "bench").localCheckpoint()
    touchpoints = journey_touchpoints(assigned)
    labelled = label_touches(conversions_from_journeys(journeys, touchpoints), touchpoints, config.attribution)
    credits = last_touch_credits(labelled).unionByName(linear_credits(labelled))
    sessions.write.mode("overwrite").parquet(str(out_dir / "sessions"))
    journeys.write.mode("overwrite").parquet(str(out_dir / "journeys"))
    credits.write.mode("overwrite").parquet(str(out_dir / "credits"))
    seconds = time.perf_counter() - start
    sessionized.unpersist()
    assigned.unpersist()
    return seconds


def duckdb_sql(config: PipelineConfig, core_dir: Path, out_dir: Path) -> list[str]:
    """The reference as DuckDB statements (thresholds from ``config``, as the Spark functions take them)."""
    session_timeout = config.session.session_timeout_minutes * 60 * 1_000_000
    journey_timeout = config.journey.journey_timeout_days * 86_400 * 1_000_000
    max_span = config.journey.max_journey_days * 86_400 * 1_000_000
    lookback = config.attribution.lookback_days * 86_400 * 1_000_000
    if config.attribution.lookback_days_by_conversion:
        raise ValueError("the DuckDB reference implements one lookback window only")
    device_order = (
        "PARTITION BY canonical_user_id, device_key "
        "ORDER BY event_ts_micros, marker_rank, event_seq NULLS LAST, event_id"
    )
    person_order = "PARTITION BY canonical_user_id ORDER BY touch_micros, interaction_order, touchpoint_id"
    running = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    non_direct = (
        "NOT (traffic_source IS NULL OR lower(trim(traffic_source)) = '(direct)' "
        "OR lower(trim(traffic_medium)) = '(none)')"
    )
    return [
        f"""
CREATE TEMP TABLE ev AS
SELECT e.*, coalesce(d.canonical_user_id, e.device_key) AS canonical_user_id,
       CASE WHEN e.event_name = 'session_start' THEN 0 ELSE 1 END AS marker_rank
FROM read_parquet('{core_dir}/events/*.parquet') e
LEFT JOIN (SELECT id_value AS user_pseudo_id, canonical_user_id
           FROM read_parquet('{core_dir}/devices/*.parquet') WHERE id_type = 'device') d USING (user_pseudo_id)""",
        f"""
CREATE TEMP TABLE sz AS
WITH gaps AS (
  SELECT *, row_number() OVER w AS device_rank,
         (lag(event_ts_micros) OVER w IS NULL
          OR event_ts_micros - lag(event_ts_micros) OVER w > {session_timeout}
          OR event_name = 'session_start') AS is_session_start
  FROM ev WINDOW w AS ({device_order})
)
SELECT *,
       sha256(concat_ws('|', user_pseudo_id,
              last_value(CASE WHEN is_session_start THEN event_id END IGNORE NULLS) OVER (w {running}))) AS session_id,
       max(CASE WHEN is_session_start THEN event_ts_micros END) OVER (w {running}) AS session_start_micros
FROM gaps WINDOW w AS ({device_order})""",
        f"""
CREATE TEMP TABLE sessions AS
WITH agg AS (
  SELECT canonical_user_id, device_key, session_id,
         min(event_ts) AS session_start_ts, min(session_start_micros) AS session_start_micros,
         count(*) AS event_count,
         arg_min({{'channel': coalesce(channel, 'Unassigned'), 'traffic_source': traffic_source,
                   'traffic_medium': traffic_medium, 'campaign': traffic_campaign}},
                 CASE WHEN {non_direct} THEN device_rank END) AS campaign
  FROM sz GROUP BY ALL
)
SELECT canonical_user_id, device_key, session_id, session_start_ts, session_start_micros, event_count,
       CASE WHEN campaign IS NOT NULL THEN campaign.channel ELSE 'Direct' END AS channel
FROM agg""",
        """
CREATE TEMP TABLE touches AS
SELECT session_id AS touchpoint_id, canonical_user_id, session_start_micros AS touch_micros,
       session_start_ts AS touch_ts, channel, 'visit' AS interaction_type, 2 AS interaction_order,
       false AS is_conversion, CAST(NULL AS DOUBLE) AS conversion_value
FROM sessions
UNION ALL
SELECT e.event_id, e.canonical_user_id, e.event_ts_micros, e.event_ts, s.channel, e.interaction_type,
       e.interaction_order, e.is_conversion, e.conversion_value
FROM (
  SELECT arg_min(event_id, device_rank) AS event_id, canonical_user_id, session_id,
         arg_min(event_ts_micros, device_rank) AS event_ts_micros, arg_min(event_ts, device_rank) AS event_ts,
         'engagement' AS interaction_type, 3 AS interaction_order, false AS is_conversion,
         CAST(NULL AS DOUBLE) AS conversion_value
  FROM sz WHERE event_name IN ('view_item', 'add_to_cart', 'begin_checkout', 'sign_up')
  GROUP BY canonical_user_id, device_key, session_id, event_name
  UNION ALL
  SELECT event_id, canonical_user_id, session_id, event_ts_micros, event_ts, 'conversion', 4, true, revenue
  FROM sz WHERE event_name = 'purchase' AND NOT coalesce(is_duplicate_purchase, false)
) e
-- an equi-join, as Spark's: a null person matches nothing
JOIN sessions s ON s.canonical_user_id = e.canonical_user_id AND s.session_id = e.session_id""",
        f"""
CREATE TEMP TABLE assigned AS
WITH runs AS (
  SELECT *,
         (lag(touch_micros) OVER w IS NULL OR lag(is_conversion) OVER w
          OR touch_micros - lag(touch_micros) OVER w >= {journey_timeout}) AS new_run
  FROM touches WINDOW w AS ({person_order})
), segments AS (
  SELECT *, max(CASE WHEN new_run THEN touch_micros END) OVER (w {running}) AS segment_start_micros
  FROM runs WINDOW w AS ({person_order})
), slices AS (
  SELECT *, CAST(floor((touch_micros - segment_start_micros) / {max_span}.0) AS BIGINT) AS slice_no FROM segments
), starts AS (
  SELECT *, (new_run OR slice_no > lag(slice_no) OVER w) AS new_journey, row_number() OVER w AS row_no
  FROM slices WINDOW w AS ({person_order})
)
SELECT *,
       sum(CAST(new_journey AS INTEGER)) OVER (w {running}) AS journey_no,
       sha256(concat_ws('|', CAST(canonical_user_id AS VARCHAR),
              last_value(CASE WHEN new_journey THEN touchpoint_id END IGNORE NULLS) OVER (w {running}))) AS journey_id,
       row_no - max(CASE WHEN new_journey THEN row_no END) OVER (w {running}) + 1 AS position
FROM starts WINDOW w AS ({person_order})""",
        """
CREATE TEMP TABLE journeys AS
SELECT canonical_user_id, journey_no, any_value(journey_id) AS journey_id,
       max(CAST(is_conversion AS INTEGER)) AS converted,
       max(CASE WHEN is_conversion THEN touch_ts END) AS conversion_ts,
       max(CASE WHEN is_conversion THEN conversion_value END) AS conversion_value,
       max(touch_ts) AS last_activity_ts
FROM assigned GROUP BY canonical_user_id, journey_no""",
        f"""
CREATE TEMP TABLE credits AS
WITH conversions AS (
  SELECT journey_id AS conversion_id, journey_id, conversion_ts, coalesce(conversion_value, 0.0) AS conversion_value
  FROM journeys WHERE converted = 1
), labelled AS (
  SELECT c.*, a.touchpoint_id, a.touch_ts, a.position, coalesce(a.channel, '(not set)') AS channel,
         CASE WHEN a.interaction_type = 'conversion' OR a.is_conversion THEN 'conversion_event'
              WHEN epoch_us(c.conversion_ts) - epoch_us(a.touch_ts) < 0 THEN 'after_conversion'
              WHEN epoch_us(c.conversion_ts) - epoch_us(a.touch_ts) > {lookback} THEN 'outside_lookback'
              ELSE 'included' END AS exclusion_reason
  FROM conversions c JOIN assigned a USING (journey_id)
), ranked AS (
  SELECT *, exclusion_reason = 'included' AS eligible,
         row_number() OVER (PARTITION BY conversion_id, exclusion_reason = 'included'
                            ORDER BY position, touch_ts, touchpoint_id) AS rank_asc,
         count(*) OVER (PARTITION BY conversion_id, exclusion_reason = 'included') AS eligible_count
  FROM labelled
)
SELECT conversion_id, touchpoint_id, channel, 'last_touch' AS model,
       CASE WHEN eligible AND rank_asc = eligible_count THEN 1.0 ELSE 0.0 END AS credit,
       CASE WHEN NOT eligible THEN exclusion_reason WHEN rank_asc = eligible_count THEN 'included'
            ELSE 'not_last' END AS reason
FROM ranked
UNION ALL
SELECT conversion_id, touchpoint_id, channel, 'linear', CASE WHEN eligible THEN 1.0 / eligible_count ELSE 0.0 END,
       exclusion_reason
FROM ranked""",
        f"COPY sessions TO '{out_dir}/sessions.parquet' (FORMAT parquet)",
        f"COPY journeys TO '{out_dir}/journeys.parquet' (FORMAT parquet)",
        f"COPY credits TO '{out_dir}/credits.parquet' (FORMAT parquet)",
    ]


def run_duckdb_core(config: PipelineConfig, core_dir: Path, out_dir: Path, threads: int) -> float:
    """Run the DuckDB reference in a new in-memory database with ``threads`` threads; returns wall seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    statements = duckdb_sql(config, core_dir, out_dir)
    start = time.perf_counter()
    with duckdb.connect(":memory:", config={"threads": threads}) as con:
        for statement in statements:
            con.execute(statement)
    return time.perf_counter() - start


def compare_outputs(spark_dir: Path, duck_dir: Path) -> dict[str, Any]:
    """Counts on each side and the differences: session ids, journey ids, converted journeys, credits per channel."""
    with duckdb.connect(":memory:") as con:
        con.execute(f"CREATE VIEW s_sessions AS SELECT * FROM read_parquet('{spark_dir}/sessions/*.parquet')")
        con.execute(f"CREATE VIEW s_journeys AS SELECT * FROM read_parquet('{spark_dir}/journeys/*.parquet')")
        con.execute(f"CREATE VIEW s_credits AS SELECT * FROM read_parquet('{spark_dir}/credits/*.parquet')")
        con.execute(f"CREATE VIEW d_sessions AS SELECT * FROM read_parquet('{duck_dir}/sessions.parquet')")
        con.execute(f"CREATE VIEW d_journeys AS SELECT * FROM read_parquet('{duck_dir}/journeys.parquet')")
        con.execute(f"CREATE VIEW d_credits AS SELECT * FROM read_parquet('{duck_dir}/credits.parquet')")

        def one(sql: str) -> Any:
            row = con.execute(sql).fetchone()
            assert row is not None
            return row[0]

        def sym_diff(left: str, right: str) -> int:
            return int(one(f"SELECT count(*) FROM (({left} EXCEPT {right}) UNION ALL ({right} EXCEPT {left}))"))

        credits_by_channel = """SELECT model, channel, round(sum(credit), {d}) AS credit, count(*) AS touches
                                FROM {t}_credits WHERE model IN ('last_touch', 'linear') GROUP BY ALL"""
        return {
            "sessions_spark": one("SELECT count(*) FROM s_sessions"),
            "sessions_duckdb": one("SELECT count(*) FROM d_sessions"),
            "session_ids_differing": sym_diff("SELECT session_id FROM s_sessions", "SELECT session_id FROM d_sessions"),
            "journeys_spark": one("SELECT count(*) FROM s_journeys"),
            "journeys_duckdb": one("SELECT count(*) FROM d_journeys"),
            "journey_ids_differing": sym_diff("SELECT journey_id FROM s_journeys", "SELECT journey_id FROM d_journeys"),
            "conversions_spark": one("SELECT count(*) FROM s_journeys WHERE status = 'converted'"),
            "conversions_duckdb": one("SELECT count(*) FROM d_journeys WHERE converted = 1"),
            "credit_rows_spark": one("SELECT count(*) FROM s_credits"),
            "credit_rows_duckdb": one("SELECT count(*) FROM d_credits"),
            "credit_groups_differing": sym_diff(
                credits_by_channel.format(d=CREDIT_DIGITS, t="s"), credits_by_channel.format(d=CREDIT_DIGITS, t="d")
            ),
        }
