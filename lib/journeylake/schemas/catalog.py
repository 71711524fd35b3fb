"""The table catalog: one declaration per lake table, everything else derived from it.

Each :class:`TableSpec` says what a table is (layer, name, one-line description, schema with a description per
column), how it is keyed and laid out (key, partitioning, clustering), how the stages write it (``merge`` on the
key, or ``overwrite`` for small aggregates recomputed in full), which column names the run that wrote a row,
and whether and how it is published to BigQuery. Derived from it, never restated elsewhere:

* the Delta tables' column comments, table comment and properties (:mod:`journeylake.io.delta` creates tables
  from it);
* the BigQuery publish registry (:data:`journeylake.publish.PUBLISHED_TABLES`) and the BigQuery table and
  column descriptions;
* the generic expectations of every table (columns, types, nullability, key uniqueness;
  :func:`journeylake.io.expectations.catalog_expectations`): the suite files in ``expectations/`` keep only the
  domain rules a person wrote;
* the data dictionary ``docs/tables.md`` (``make docs``; a test fails when it is stale).

Adding a column to a table is a change here (the column in its schema, with its description) and in the code
that computes it, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pyspark.sql import types as T

from journeylake.io.runs import RUNS_SCHEMA
from journeylake.reconciliation import RECONCILIATION_SCHEMA, RECONCILIATION_SUMMARY_SCHEMA
from journeylake.schemas import abandonment as B
from journeylake.schemas import attribution as A
from journeylake.schemas import bronze as BR
from journeylake.schemas import identity as I
from journeylake.schemas import journeys as J
from journeylake.schemas.columns import COMMENT

MERGE, OVERWRITE = "merge", "overwrite"  # how the stages write a table
PUBLISH_MERGE, PUBLISH_TRUNCATE = "merge", "truncate"  # how publishing loads it into BigQuery


@dataclass(frozen=True)
class Published:
    """How a table is published to BigQuery.

    ``partition``: the DAY partitioning column (a DATE, or a TIMESTAMP partitioned by its UTC date); None only
    for small lookup tables without a date. ``clustering``: what analysts filter and join on. ``mode``: ``merge``
    (staged, MERGEd on the key) or ``truncate`` (small aggregates replaced in full).
    """

    partition: str | None
    clustering: tuple[str, ...]
    mode: str = PUBLISH_MERGE


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    description: str
    schema: T.StructType  # every column with its description (metadata "comment")
    key: tuple[str, ...]
    write: str = MERGE
    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()  # Delta clustering / Z-order columns for maintenance (OPTIMIZE)
    run_column: str | None = None  # the column naming the run (or ingest batch) that last wrote the row
    published: Published | None = None
    # Columns Delta keeps min/max statistics of (data skipping). None by default: measured on bronze.events,
    # statistics on Delta's default 32 columns cost more than the Parquet encoding itself, and the stages read
    # whole tables or prune by partition, so they would buy nothing.
    stats_columns: tuple[str, ...] = ()
    extra_properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, str]:
        """The Delta table properties the table is created with."""
        stats = (
            {"delta.dataSkippingStatsColumns": ",".join(self.stats_columns)}
            if self.stats_columns
            else {"delta.dataSkippingNumIndexedCols": "0"}
        )
        return {**stats, **self.extra_properties}

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def columns(self) -> list[str]:
        return self.schema.fieldNames()

    def description_of(self, column: str) -> str:
        return str((self.schema[column].metadata or {}).get(COMMENT, ""))

    def described_schema(self, schema: T.StructType) -> T.StructType:
        """``schema`` (a frame's) with this table's column descriptions attached where the names match."""
        known = {f.name: f for f in self.schema.fields}
        return T.StructType(
            [
                T.StructField(f.name, f.dataType, f.nullable, metadata=dict(known[f.name].metadata or {}))
                if f.name in known
                else f
                for f in schema.fields
            ]
        )


def _spec(
    layer: str,
    name: str,
    description: str,
    schema: T.StructType,
    key: tuple[str, ...],
    **kwargs: object,
) -> TableSpec:
    return TableSpec(layer, name, description, schema, key, **kwargs)  # type: ignore[arg-type]


def _published(partition: str | None, *clustering: str, mode: str = PUBLISH_MERGE) -> Published:
    return Published(partition, tuple(clustering), mode)


TABLES: tuple[TableSpec, ...] = (
    # ---- bronze: source records, flattened and checked ----
    _spec(
        "bronze",
        "events",
        "Web and app events (the GA4 export, flattened): one row per distinct source record.",
        BR.BRONZE_EVENTS_SCHEMA,
        ("event_id",),
        partition_by=("event_date",),
        stats_columns=("event_ts",),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "quarantine",
        "Rejected source records with the rule they failed; raw e-mails and phones removed.",
        BR.BRONZE_QUARANTINE_SCHEMA,
        ("source", "record_id", "reason"),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "ad_touchpoints",
        "Ad impressions and clicks with their cost, as the ad platforms reported them.",
        BR.BRONZE_AD_TOUCHPOINTS_SCHEMA,
        ("touch_id",),
        stats_columns=("touch_ts",),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "ad_cost_daily",
        "Daily spend and budget per channel and campaign.",
        BR.BRONZE_AD_COST_DAILY_SCHEMA,
        ("cost_date", "channel", "campaign"),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "competitor_exposures",
        "Sightings of a device exposed to a competitor's advertising.",
        BR.BRONZE_COMPETITOR_EXPOSURES_SCHEMA,
        ("exposure_id",),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "backend_users",
        "Shop accounts from the backend database.",
        BR.BRONZE_BACKEND_USERS_SCHEMA,
        ("user_id",),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "backend_orders",
        "Orders from the backend database, with the GA4 transaction id the shop stored.",
        BR.BRONZE_BACKEND_ORDERS_SCHEMA,
        ("order_id",),
        run_column="ingest_run_id",
    ),
    _spec(
        "bronze",
        "backend_order_items",
        "Order lines from the backend database.",
        BR.BRONZE_BACKEND_ORDER_ITEMS_SCHEMA,
        ("order_item_id",),
        run_column="ingest_run_id",
    ),
    # ---- silver: identity and sessions ----
    _spec(
        "silver",
        "identity_edges",
        "Every link seen between two identifiers, with its status after the guards and the component cap.",
        I.IDENTITY_EDGES_TABLE_SCHEMA,
        ("src_key", "dst_key", "edge_type"),
        run_column="updated_run_id",
    ),
    _spec(
        "silver",
        "identity_map",
        "Every identifier with the canonical user (person) it belongs to.",
        I.IDENTITY_MAP_SCHEMA,
        ("id_type", "id_value"),
        run_column="updated_run_id",
        published=_published("first_seen", "canonical_user_id", "id_type"),
    ),
    _spec(
        "silver",
        "identity_merges",
        "Canonical ids merged into another or split apart, with the edges that caused it.",
        I.IDENTITY_MERGES_SCHEMA,
        ("as_of", "old_canonical_user_id", "new_canonical_user_id", "change"),
        run_column="run_id",
    ),
    _spec(
        "silver",
        "identity_audit",
        "Edges cut by a guard (blocked value, degree cap, component cap), once per as-of and reason.",
        I.IDENTITY_AUDIT_SCHEMA,
        ("as_of", "src_key", "dst_key", "edge_type", "reason"),
        run_column="run_id",
    ),
    _spec(
        "silver",
        "sessions",
        "Sessions per device: events until 30 minutes of inactivity or a session_start marker.",
        J.SESSIONS_SCHEMA,
        ("session_id",),
        published=_published("session_date", "canonical_user_id", "channel"),
    ),
    # ---- gold: journeys and what is derived from them ----
    _spec(
        "gold",
        "user_journeys",
        "Journeys per person: touches until conversion or 14 days of inactivity, with status as of the run.",
        J.USER_JOURNEYS_SCHEMA,
        ("journey_id",),
        run_column="updated_run_id",
        published=_published("start_ts", "canonical_user_id", "status"),
    ),
    _spec(
        "gold",
        "journey_touchpoints",
        "Every touch of every journey (ad, visit, engagement, conversion) in journey order.",
        J.JOURNEY_TOUCHPOINTS_SCHEMA,
        ("touchpoint_id",),
        published=_published("touch_date", "canonical_user_id", "channel"),
    ),
    _spec(
        "gold",
        "journey_state_transitions",
        "Each rise of a journey through UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED, with its trigger.",
        J.JOURNEY_STATE_TRANSITIONS_SCHEMA,
        ("journey_id", "seq"),
        published=_published("transition_ts", "canonical_user_id"),
    ),
    _spec(
        "gold",
        "users",
        "One row per person: devices, identifiers, activity, journeys, conversions and revenue.",
        J.USERS_SCHEMA,
        ("canonical_user_id",),
        run_column="updated_run_id",
        published=_published("first_seen_ts", "canonical_user_id"),
    ),
    _spec(
        "gold",
        "attribution",
        "Credit of every touch of every conversion under every attribution model, with the reason.",
        A.ATTRIBUTION_SCHEMA,
        ("conversion_id", "touchpoint_id", "model"),
        write=OVERWRITE,
        published=_published("conversion_date", "model", "channel"),
    ),
    _spec(
        "gold",
        "channel_history",
        "Per day, channel and model: touches, attributed conversions and revenue, cost, ROAS and CPA.",
        A.CHANNEL_HISTORY_SCHEMA,
        ("date", "channel", "model"),
        write=OVERWRITE,
        published=_published("date", "channel", "model", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "journey_abandonments",
        "Journeys abandoned or timed out as of the run, with the reason, the penalty and the opportunity cost.",
        B.JOURNEY_ABANDONMENTS_SCHEMA,
        ("journey_id",),
        write=OVERWRITE,
        published=_published("ended_at", "reason", "canonical_user_id"),
    ),
    _spec(
        "gold",
        "journey_scores",
        "Conversion probability of every open journey as of the run.",
        B.JOURNEY_SCORES_SCHEMA,
        ("journey_id",),
        write=OVERWRITE,
        published=_published("scored_as_of", "canonical_user_id", "model_state"),
    ),
    _spec(
        "gold",
        "conversion_model",
        "Smoothed conversion rates per journey state, recency and touch count, from completed journeys.",
        B.CONVERSION_MODEL_SCHEMA,
        ("model_state", "recency_bucket", "touch_bucket"),
        write=OVERWRITE,
        published=_published(None, "model_state", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "funnel_daily",
        "Closed funnel per day and channel: sessions entering, completing and dropping each step.",
        B.FUNNEL_DAILY_SCHEMA,
        ("funnel_date", "channel", "step"),
        write=OVERWRITE,
        published=_published("funnel_date", "channel", "step", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "cart_abandonment_daily",
        "Sessions with an add_to_cart and no purchase, per day and channel.",
        B.CART_ABANDONMENT_DAILY_SCHEMA,
        ("funnel_date", "channel"),
        write=OVERWRITE,
        published=_published("funnel_date", "channel", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "competitor_exposures",
        "Competitor exposures tied to the person and journey they reached, with what happened after.",
        B.COMPETITOR_EXPOSURES_OUT_SCHEMA,
        ("exposure_id",),
        published=_published("exposure_ts", "canonical_user_id", "competitor"),
    ),
    _spec(
        "gold",
        "competitor_impact",
        "Conversion and progression rates of exposed against comparable unexposed journeys, per state.",
        B.COMPETITOR_IMPACT_SCHEMA,
        ("state",),
        write=OVERWRITE,
        published=_published(None, "state", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "reconciliation",
        "GA4 purchases matched to backend orders by transaction id, with the revenue difference.",
        RECONCILIATION_SCHEMA,
        ("transaction_id",),
        write=OVERWRITE,
        published=_published("reconciliation_date", "match_status", "channel"),
    ),
    _spec(
        "gold",
        "reconciliation_summary",
        "Match rate and revenue difference between GA4 and the backend, per day and channel.",
        RECONCILIATION_SUMMARY_SCHEMA,
        ("reconciliation_date", "channel"),
        write=OVERWRITE,
        published=_published("reconciliation_date", "channel", mode=PUBLISH_TRUNCATE),
    ),
    _spec(
        "gold",
        "rl_transitions",
        "Reinforcement-learning steps: state, action, reward and next state for every journey touch.",
        B.RL_TRANSITIONS_SCHEMA,
        ("journey_id", "step"),
        write=OVERWRITE,
        published=_published("touch_ts", "action_channel", "canonical_user_id"),
    ),
    _spec(
        "gold",
        "journey_recommendations",
        "The next channel with the highest expected reward for every open journey.",
        B.JOURNEY_RECOMMENDATIONS_SCHEMA,
        ("journey_id",),
        write=OVERWRITE,
        published=_published(None, "recommended_channel", mode=PUBLISH_TRUNCATE),
    ),
    # ---- meta: run bookkeeping ----
    _spec(
        "meta",
        "runs",
        "One row per run and stage: status, as-of, rows in and out, duration and details.",
        RUNS_SCHEMA,
        ("run_id", "stage"),
        run_column="run_id",
    ),
    _spec(
        "meta",
        "ingest_files",
        "The ingestion watermark: every input file read, with its size, time and rows.",
        BR.INGEST_FILES_SCHEMA,
        ("source", "path"),
        run_column="run_id",
    ),
    _spec(
        "meta",
        "journeys_processed",
        "The journeys watermark: ingest batches and identity runs already turned into journeys.",
        J.JOURNEYS_PROCESSED_SCHEMA,
        ("input", "input_run_id"),
        run_column="processed_run_id",
    ),
)


class Catalog(Mapping[str, TableSpec]):
    """The tables by qualified name (``"gold.user_journeys"``)."""

    def __init__(self, tables: tuple[TableSpec, ...]) -> None:
        self._tables = {t.qualified_name: t for t in tables}
        if len(self._tables) != len(tables):
            raise ValueError("two catalog entries share a name")

    def __getitem__(self, name: str) -> TableSpec:
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a catalog table; known: {', '.join(sorted(self._tables))}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def published(self) -> list[TableSpec]:
        return [t for t in self._tables.values() if t.published is not None]


CATALOG = Catalog(TABLES)


def spec(name: str) -> TableSpec:
    """The catalog entry of ``"<layer>.<table>"``."""
    return CATALOG[name]
