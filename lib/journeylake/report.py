"""The run report's numbers: gold/silver/meta tables reduced to small, bounded chart data.

Every aggregate here has a row count fixed by a vocabulary or a bucket list (states x statuses,
channels x models, abandonment reasons, histogram buckets, the stages of one run), never by the number
of events, journeys or users: histograms are bucketed in Spark with CASE expressions over fixed edges,
so no raw row ever reaches the driver. Only those aggregates are collected (:func:`collect_rows`, which
refuses anything larger than a chart can show) and handed to ``journeylake.io.report`` to draw.

Tables the report reads are optional: a table that does not exist yet, or lacks a column a chart
needs, makes its section "not available" with the reason, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.schemas.journeys import STATE_RANK, STATES
from journeylake.schemas.report import (
    ABANDONMENT_BY_REASON_SCHEMA,
    ATTRIBUTION_BY_CHANNEL_SCHEMA,
    BELOW_RANGE_BUCKET,
    BUCKETS_SCHEMA,
    FUNNEL_SCHEMA,
    HISTOGRAM_SCHEMA,
    MISSING_BUCKET,
    RUN_STAGES_SCHEMA,
    STATES_SCHEMA,
    UNKNOWN_STATE,
    UNKNOWN_STATE_RANK,
)

# Tables the report reads, as "<layer>.<table>".
USER_JOURNEYS = "gold.user_journeys"
STATE_TRANSITIONS = "gold.journey_state_transitions"
ATTRIBUTION = "gold.attribution"
ABANDONMENTS = "gold.journey_abandonments"
IDENTITY_MAP = "silver.identity_map"
META_RUNS = "meta.runs"
SOURCE_TABLES = (USER_JOURNEYS, STATE_TRANSITIONS, ATTRIBUTION, ABANDONMENTS, IDENTITY_MAP, META_RUNS)

# Section keys, in the order the report shows them.
RUN = "run"
FUNNEL = "funnel"
ATTRIBUTION_SECTION = "attribution"
TIME_TO_CONVERSION = "time_to_conversion"
JOURNEY_LENGTH = "journey_length"
ABANDONMENT = "abandonment"
IDENTITY = "identity"

PIPELINE_STAGE = "pipeline"  # the meta.runs row that records the whole run

# Histogram measures.
JOURNEY_DAYS = "journey_days"
JOURNEY_TOUCHPOINTS = "journey_touchpoints"
HOURS_TO_CONVERSION = "hours_to_conversion"
IDENTIFIERS_PER_USER = "identifiers_per_user"

MICROS_PER_HOUR = 3_600_000_000
MICROS_PER_DAY = 24 * MICROS_PER_HOUR

# A chart cannot show more than this many bars; a larger "aggregate" means a grouping key is not bounded.
MAX_CHART_ROWS = 2_000


@dataclass(frozen=True)
class Buckets:
    """Histogram buckets: bucket i holds edges[i] <= value < edges[i + 1]; the last one is open-ended."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.labels) or not self.edges:
            raise ValueError(f"need one label per edge, got {len(self.edges)} edges and {len(self.labels)} labels")
        if any(lower >= upper for lower, upper in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"bucket edges must increase strictly: {self.edges}")

    @property
    def below_range_order(self) -> int:
        return len(self.edges)

    @property
    def missing_order(self) -> int:
        return len(self.edges) + 1

    def order_of(self, value: Column) -> Column:
        """The bucket_order of ``value``: 0..n-1, below_range_order under the first edge, missing_order for null."""
        order = F.when(value.isNull(), F.lit(self.missing_order)).when(
            value < F.lit(self.edges[0]), F.lit(self.below_range_order)
        )
        for index, upper in enumerate(self.edges[1:]):
            order = order.when(value < F.lit(upper), F.lit(index))
        return order.otherwise(F.lit(len(self.edges) - 1)).cast(T.IntegerType())

    def rows(self) -> list[tuple[int, str]]:
        regular = list(enumerate(self.labels))
        return [*regular, (self.below_range_order, BELOW_RANGE_BUCKET), (self.missing_order, MISSING_BUCKET)]


# Active journey length, in days: the first week day by day matters most for the 14-day timeout.
JOURNEY_DAYS_BUCKETS = Buckets(
    edges=(0.0, 1.0, 2.0, 4.0, 7.0, 14.0, 30.0, 60.0, 90.0),
    labels=("<1d", "1-2d", "2-4d", "4-7d", "7-14d", "14-30d", "30-60d", "60-90d", "90d+"),
)
JOURNEY_TOUCHPOINTS_BUCKETS = Buckets(
    edges=(0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0),
    labels=("0", "1", "2", "3-4", "5-9", "10-19", "20-49", "50+"),
)
HOURS_TO_CONVERSION_BUCKETS = Buckets(
    edges=(0.0, 1.0, 6.0, 24.0, 72.0, 168.0, 336.0, 720.0),
    labels=("<1h", "1-6h", "6-24h", "1-3d", "3-7d", "7-14d", "14-30d", "30d+"),
)
# Identifiers (identity-map rows) per canonical user; above 50 breaks [identity].max_component_size's default.
IDENTIFIERS_PER_USER_BUCKETS = Buckets(
    edges=(1.0, 2.0, 3.0, 6.0, 11.0, 51.0),
    labels=("1", "2", "3-5", "6-10", "11-50", ">50"),
)


def _conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """End every aggregate in a select of its contract."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def histogram(values: DataFrame, value: Column, buckets: Buckets, measure: str) -> DataFrame:
    """Count the rows of ``values`` per bucket of ``value``.

    Needs whatever columns ``value`` reads. Returns HISTOGRAM_SCHEMA: every regular bucket (zero-filled, so
    charts keep their x axis), plus the below-range and missing buckets only when they hold rows.
    """
    counts = (
        values.select(buckets.order_of(value).alias("bucket_order"))
        .groupBy("bucket_order")
        .agg(F.count(F.lit(1)).alias("count"))
    )
    all_buckets = values.sparkSession.createDataFrame(buckets.rows(), BUCKETS_SCHEMA)
    regular = F.col("bucket_order") < F.lit(len(buckets.edges))
    return _conform(
        all_buckets.join(counts, on="bucket_order", how="left")
        .where(regular | F.col("count").isNotNull())
        .withColumn("count", F.coalesce(F.col("count"), F.lit(0)))
        .withColumn("measure", F.lit(measure)),
        HISTOGRAM_SCHEMA,
    )


def state_rank(state: Column) -> Column:
    """Rank of a journey state in STATES (UNAWARE = 0); null for anything else."""
    rank: Column | None = None
    for name, position in STATE_RANK.items():
        rank = F.when(state == F.lit(name), F.lit(position)) if rank is None else rank.when(state == name, position)
    assert rank is not None  # STATES is never empty
    return rank.cast(T.IntegerType())


def reached_states(journeys: DataFrame, transitions: DataFrame | None) -> DataFrame:
    """The furthest state each journey reached.

    Needs journeys (journey_id, status, current_state) and optionally transitions (journey_id, to_state).
    A transition can record a state the journey later left (it never does today, but the transition log is
    the evidence), so the furthest of the current state and every transition target counts.
    Returns journey_id, status, reached_rank (null when no state is known).
    """
    current = journeys.select("journey_id", "status", state_rank(F.col("current_state")).alias("current_rank"))
    if transitions is None:
        return current.select("journey_id", "status", F.col("current_rank").alias("reached_rank"))
    furthest = transitions.groupBy("journey_id").agg(F.max(state_rank(F.col("to_state"))).alias("transition_rank"))
    return current.join(furthest, on="journey_id", how="left").select(
        "journey_id", "status", F.greatest("current_rank", "transition_rank").alias("reached_rank")
    )


def funnel_by_state(journeys: DataFrame, transitions: DataFrame | None = None) -> DataFrame:
    """Journeys that reached at least each state, per status.

    Needs journeys (journey_id, status, current_state), optionally transitions (journey_id, to_state).
    Returns FUNNEL_SCHEMA: one row per state x status present (zero-filled), plus an UNKNOWN_STATE row per
    status whose journeys have no recognised state, so bad states are shown rather than dropped.
    """
    counts = (
        reached_states(journeys, transitions).groupBy("status", "reached_rank").agg(F.count(F.lit(1)).alias("journeys"))
    )
    states = journeys.sparkSession.createDataFrame(list(STATE_RANK.items()), STATES_SCHEMA)
    grid = states.crossJoin(counts.select("status").distinct())
    reached = counts.select(
        F.col("status").alias("counted_status"), F.col("reached_rank"), F.col("journeys").alias("counted")
    )
    known = (
        grid.join(
            reached,
            on=(F.col("status") == F.col("counted_status")) & (F.col("reached_rank") >= F.col("state_rank")),
            how="left",
        )
        .groupBy("state", "state_rank", "status")
        .agg(F.sum(F.coalesce(F.col("counted"), F.lit(0))).alias("journeys"))
    )
    unknown = counts.where(F.col("reached_rank").isNull()).select(
        F.lit(UNKNOWN_STATE).alias("state"),
        F.lit(UNKNOWN_STATE_RANK).alias("state_rank"),
        "status",
        "journeys",
    )
    return _conform(known.unionByName(unknown), FUNNEL_SCHEMA)


def _micros_between(start: str, end: str) -> Column:
    return F.unix_micros(F.col(end)) - F.unix_micros(F.col(start))


def journey_length_histograms(journeys: DataFrame) -> DataFrame:
    """Journey length as active days (start to last activity) and as touchpoints.

    Needs start_ts, last_activity_ts, touchpoints. Last activity rather than end_ts, because a timed-out
    journey ends a whole timeout after its last touch, which would measure the timeout, not the journey.
    Returns HISTOGRAM_SCHEMA rows for measures journey_days and journey_touchpoints.
    """
    days = _micros_between("start_ts", "last_activity_ts") / F.lit(MICROS_PER_DAY)
    return histogram(journeys, days, JOURNEY_DAYS_BUCKETS, JOURNEY_DAYS).unionByName(
        histogram(journeys, F.col("touchpoints"), JOURNEY_TOUCHPOINTS_BUCKETS, JOURNEY_TOUCHPOINTS)
    )


def time_to_conversion_histogram(journeys: DataFrame) -> DataFrame:
    """Hours from journey start to conversion, for journeys with a conversion_ts.

    Needs start_ts, conversion_ts. A conversion before the start (bad upstream data) lands in the
    below-range bucket. Returns HISTOGRAM_SCHEMA rows for measure hours_to_conversion.
    """
    converted = journeys.where(F.col("conversion_ts").isNotNull())
    hours = _micros_between("start_ts", "conversion_ts") / F.lit(MICROS_PER_HOUR)
    return histogram(converted, hours, HOURS_TO_CONVERSION_BUCKETS, HOURS_TO_CONVERSION)


def attribution_by_channel(attribution: DataFrame) -> DataFrame:
    """Credit per channel and model, from the included rows only (excluded rows carry no credit).

    Needs channel, model, credit, credited_value, included. Returns ATTRIBUTION_BY_CHANNEL_SCHEMA.
    """
    return _conform(
        attribution.where(F.coalesce(F.col("included"), F.lit(False)))
        .groupBy("channel", "model")
        .agg(
            F.coalesce(F.sum("credit"), F.lit(0.0)).alias("credited_conversions"),
            F.coalesce(F.sum("credited_value"), F.lit(0.0)).alias("credited_value"),
        ),
        ATTRIBUTION_BY_CHANNEL_SCHEMA,
    )


def abandonment_by_reason(abandonments: DataFrame) -> DataFrame:
    """Abandoned journeys, their penalty, opportunity cost and spend per primary reason.

    Needs reason, penalty_amount, opportunity_cost, spend. Returns ABANDONMENT_BY_REASON_SCHEMA.
    """
    return _conform(
        abandonments.groupBy("reason").agg(
            F.count(F.lit(1)).alias("journeys"),
            F.coalesce(F.sum("penalty_amount"), F.lit(0.0)).alias("penalty_amount"),
            F.coalesce(F.sum("opportunity_cost"), F.lit(0.0)).alias("opportunity_cost"),
            F.coalesce(F.sum("spend"), F.lit(0.0)).alias("spend"),
        ),
        ABANDONMENT_BY_REASON_SCHEMA,
    )


def identity_component_sizes(identity_map: DataFrame) -> DataFrame:
    """Canonical users per component size (identifiers mapped to the user).

    Needs canonical_user_id. Returns HISTOGRAM_SCHEMA rows for measure identifiers_per_user.
    """
    sizes = identity_map.groupBy("canonical_user_id").agg(F.count(F.lit(1)).alias("identifiers"))
    return histogram(sizes, F.col("identifiers"), IDENTIFIERS_PER_USER_BUCKETS, IDENTIFIERS_PER_USER)


def _map_total(column: str) -> Column:
    return F.aggregate(F.map_values(F.col(column)), F.lit(0).cast(T.LongType()), lambda total, n: total + n)


def latest_run_stages(runs: DataFrame) -> DataFrame:
    """The stage records of the latest run in meta.runs.

    Needs meta.runs (RUNS_SCHEMA). The latest run is the one recorded last, ties broken by run_id so the
    choice is deterministic. Returns RUN_STAGES_SCHEMA with rows_in/rows_out summed over tables.
    """
    latest = (
        runs.groupBy("run_id")
        .agg(F.max("recorded_at").alias("last_recorded_at"))
        .orderBy(F.col("last_recorded_at").desc(), F.col("run_id").desc())
        .limit(1)
        .select("run_id")
    )
    return _conform(
        runs.join(latest, on="run_id", how="left_semi")
        .withColumn("rows_in", _map_total("rows_in"))
        .withColumn("rows_out", _map_total("rows_out")),
        RUN_STAGES_SCHEMA,
    )


def collect_rows(
    aggregate: DataFrame, order_by: tuple[str, ...], max_rows: int = MAX_CHART_ROWS
) -> list[dict[str, Any]]:
    """Collect a bounded aggregate as plain dicts, in ``order_by`` order.

    Raises ValueError when it holds more than ``max_rows`` rows: that is raw data, not chart data.
    """
    rows = aggregate.orderBy(*order_by).limit(max_rows + 1).collect()
    if len(rows) > max_rows:
        raise ValueError(f"chart data has more than {max_rows} rows; grouping by {order_by} is not bounded")
    return [row.asDict() for row in rows]


@dataclass(frozen=True)
class ReportSection:
    """One block of the report: its chart data (already collected) or why it is not available."""

    key: str
    title: str
    sources: tuple[str, ...]
    rows: tuple[dict[str, Any], ...] = ()
    totals: dict[str, Any] = field(default_factory=dict)
    unavailable: str = ""  # why the section cannot be shown; empty when it can

    @property
    def available(self) -> bool:
        return not self.unavailable


Tables = Mapping[str, DataFrame]


@dataclass(frozen=True)
class _SectionSpec:
    key: str
    title: str
    required: Mapping[str, tuple[str, ...]]  # table -> columns the section cannot do without
    optional: Mapping[str, tuple[str, ...]]  # table -> columns; used when present and complete
    build: Callable[[Tables], DataFrame]
    order_by: tuple[str, ...]
    totals: Callable[[list[dict[str, Any]]], dict[str, Any]]


def _histogram_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["measure"]] = totals.get(row["measure"], 0) + int(row["count"])
    return totals


def funnel_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Journeys (all statuses) that reached at least each state, in state order, and those with no known state."""
    reached = {state: 0 for state in STATES}
    unknown = 0
    for row in rows:
        if row["state"] == UNKNOWN_STATE:
            unknown += int(row["journeys"])
        else:
            reached[row["state"]] += int(row["journeys"])
    return {"reached": reached, "unknown_state": unknown}


def attribution_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Credited value per model (over channels): every model should credit the same total."""
    by_model: dict[str, float] = {}
    for row in rows:
        by_model[row["model"]] = by_model.get(row["model"], 0.0) + float(row["credited_value"])
    return {"credited_value_by_model": by_model}


def abandonment_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "journeys": sum(int(r["journeys"]) for r in rows),
        "penalty_amount": sum(float(r["penalty_amount"]) for r in rows),
        "opportunity_cost": sum(float(r["opportunity_cost"]) for r in rows),
    }


def run_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run header: id, as-of, status and duration, from the pipeline row when the run has one."""
    if not rows:
        return {}
    pipeline = next((r for r in rows if r["stage"] == PIPELINE_STAGE), None)
    stages = [r for r in rows if r["stage"] != PIPELINE_STAGE]
    failed = any(r["status"] != "ok" for r in rows)
    return {
        "run_id": rows[0]["run_id"],
        "as_of": rows[0]["as_of"],
        "status": "failed" if failed else "ok",
        "seconds": float(pipeline["seconds"]) if pipeline else sum(float(r["seconds"]) for r in stages),
        "stages": len(stages),
    }


def order_run_stages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stages in the order the pipeline ran them (its row lists them), the pipeline row last."""
    pipeline = next((r for r in rows if r["stage"] == PIPELINE_STAGE), None)
    try:
        ran = json.loads(pipeline["details_json"]).get("stages", []) if pipeline else []
    except (ValueError, AttributeError):
        ran = []  # a malformed details_json only loses the ordering, never the rows
    position = {stage: index for index, stage in enumerate(ran)}
    return sorted(rows, key=lambda r: (r["stage"] == PIPELINE_STAGE, position.get(r["stage"], len(ran)), r["stage"]))


_JOURNEY_STATE_COLUMNS = ("journey_id", "status", "current_state")

SECTION_SPECS: tuple[_SectionSpec, ...] = (
    _SectionSpec(
        key=RUN,
        title="Latest run",
        required={META_RUNS: tuple(f.name for f in RUN_STAGES_SCHEMA.fields)},
        optional={},
        build=lambda t: latest_run_stages(t[META_RUNS]),
        order_by=("stage",),
        totals=run_totals,
    ),
    _SectionSpec(
        key=FUNNEL,
        title="Journey funnel by state",
        required={USER_JOURNEYS: _JOURNEY_STATE_COLUMNS},
        optional={STATE_TRANSITIONS: ("journey_id", "to_state")},
        build=lambda t: funnel_by_state(t[USER_JOURNEYS], t.get(STATE_TRANSITIONS)),
        order_by=("state_rank", "status"),
        totals=funnel_totals,
    ),
    _SectionSpec(
        key=ATTRIBUTION_SECTION,
        title="Attribution by channel, every model side by side",
        required={ATTRIBUTION: ("channel", "model", "credit", "credited_value", "included")},
        optional={},
        build=lambda t: attribution_by_channel(t[ATTRIBUTION]),
        order_by=("channel", "model"),
        totals=attribution_totals,
    ),
    _SectionSpec(
        key=TIME_TO_CONVERSION,
        title="Time to conversion",
        required={USER_JOURNEYS: ("start_ts", "conversion_ts")},
        optional={},
        build=lambda t: time_to_conversion_histogram(t[USER_JOURNEYS]),
        order_by=("measure", "bucket_order"),
        totals=_histogram_totals,
    ),
    _SectionSpec(
        key=JOURNEY_LENGTH,
        title="Journey length",
        required={USER_JOURNEYS: ("start_ts", "last_activity_ts", "touchpoints")},
        optional={},
        build=lambda t: journey_length_histograms(t[USER_JOURNEYS]),
        order_by=("measure", "bucket_order"),
        totals=_histogram_totals,
    ),
    _SectionSpec(
        key=ABANDONMENT,
        title="Abandonment by reason and penalty",
        required={ABANDONMENTS: ("reason", "penalty_amount", "opportunity_cost", "spend")},
        optional={},
        build=lambda t: abandonment_by_reason(t[ABANDONMENTS]),
        order_by=("reason",),
        totals=abandonment_totals,
    ),
    _SectionSpec(
        key=IDENTITY,
        title="Identity component sizes",
        required={IDENTITY_MAP: ("canonical_user_id",)},
        optional={},
        build=lambda t: identity_component_sizes(t[IDENTITY_MAP]),
        order_by=("measure", "bucket_order"),
        totals=_histogram_totals,
    ),
)


def _missing_columns(table: DataFrame, columns: tuple[str, ...]) -> list[str]:
    present = set(table.columns)
    return [c for c in columns if c not in present]


def _unavailable_reason(spec: _SectionSpec, tables: Tables) -> str:
    for name, columns in spec.required.items():
        if name not in tables:
            return f"{name} not found in the lake"
        missing = _missing_columns(tables[name], columns)
        if missing:
            return f"{name} lacks column(s) {', '.join(missing)}"
    return ""


def _usable_tables(spec: _SectionSpec, tables: Tables) -> dict[str, DataFrame]:
    """The required tables and those optional ones that have every column the section reads."""
    usable = {name: tables[name] for name in spec.required}
    for name, columns in spec.optional.items():
        if name in tables and not _missing_columns(tables[name], columns):
            usable[name] = tables[name]
    return usable


def build_sections(tables: Tables, max_rows: int = MAX_CHART_ROWS) -> list[ReportSection]:
    """Every report section from the tables at hand (keys "<layer>.<table>"; absent tables are simply missing).

    Collects one bounded aggregate per available section (see :func:`collect_rows`).
    """
    sections: list[ReportSection] = []
    for spec in SECTION_SPECS:
        sources = (*spec.required, *spec.optional)
        reason = _unavailable_reason(spec, tables)
        if reason:
            sections.append(ReportSection(spec.key, spec.title, sources, unavailable=reason))
            continue
        rows = collect_rows(spec.build(_usable_tables(spec, tables)), spec.order_by, max_rows)
        if spec.key == RUN:
            rows = order_run_stages(rows)
        sections.append(ReportSection(spec.key, spec.title, sources, tuple(rows), spec.totals(rows)))
    return sections
