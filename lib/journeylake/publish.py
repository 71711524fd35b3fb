"""Publishing lake tables to BigQuery: the pure parts (schemas, registry, SQL).

What is published, and how, is declared once in :data:`PUBLISHED_TABLES`: for each
table its lake layer, key, the column BigQuery partitions it by, its clustering
fields and its write mode. Column lists and types are never declared here: they
come from the Delta table's schema at publish time, through one explicit type
mapping (:func:`bigquery_schema`), so tables built by other stages publish
without changes here when they gain columns.

Type mapping (Spark -> BigQuery standard SQL):

===============================  ==========================================================
Spark                            BigQuery
===============================  ==========================================================
string                           STRING
byte, short, int, long           INT64
float, double                    FLOAT64
boolean                          BOOL
binary                           BYTES
date                             DATE
timestamp (UTC instant)          TIMESTAMP
timestamp_ntz (wall clock)       DATETIME
decimal(p, s), s <= 9, p-s <= 29 NUMERIC(p, s)
other decimal(p, s)              BIGNUMERIC(p, s)
struct<...>                      RECORD with the same fields, mapped recursively
array<T>                         T with mode REPEATED (BigQuery has no NULL arrays: a null
                                 array reads back as []; arrays of arrays are rejected)
map<K, V>                        REPEATED RECORD<key K REQUIRED, value V> (Spark's
                                 ``map_entries`` order); :func:`publishable_frame` converts
                                 the data the same way, at any nesting depth
===============================  ==========================================================

Mode: ``nullable=False`` -> REQUIRED, otherwise NULLABLE (REPEATED for arrays and maps).
Interval, variant, null and other types have no faithful BigQuery equivalent and are
rejected with an error naming the column.

Partitioning: BigQuery partitions by DAY on a DATE column, or on a TIMESTAMP column
where the partition is the UTC date of the timestamp, which is exactly
``DATE(ts)`` (the session time zone is UTC everywhere in journeylake). So a table
that only has a timestamp (``start_ts``) is partitioned on that column directly; no
derived date column is added to the published table.

Writes: every publish sends the whole Delta table. ``merge`` tables are loaded
into a staging table and MERGEd on their key: changed rows are updated, new ones
inserted, and rows no longer in Delta are deleted (``WHEN NOT MATCHED BY SOURCE``
over the whole table, which keeps BigQuery equal to Delta, for example after
journeys were rebuilt under a surviving canonical id). ``truncate`` tables (small
aggregates recomputed in full each run) are replaced by one atomic load job.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.cloud.bigquery import SchemaField
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.config import validate_identifier


class PublishError(Exception):
    """A publish failed for a reason a user can act on; the message is one line."""


MERGE, TRUNCATE = "merge", "truncate"
WRITE_MODES = (MERGE, TRUNCATE)

REQUIRED, NULLABLE, REPEATED = "REQUIRED", "NULLABLE", "REPEATED"

# BigQuery NUMERIC holds up to 29 integer digits and 9 fractional digits; wider decimals need BIGNUMERIC.
NUMERIC_MAX_SCALE = 9
NUMERIC_MAX_INTEGER_DIGITS = 29
MAX_CLUSTERING_FIELDS = 4  # a BigQuery limit
PARTITION_TYPES = ("DATE", "TIMESTAMP", "DATETIME")
# FLOAT64, RECORD and BYTES columns cannot be clustering fields.
CLUSTERING_TYPES = ("STRING", "INT64", "NUMERIC", "BIGNUMERIC", "DATE", "DATETIME", "TIMESTAMP", "BOOL")
STAGING_TABLE_PREFIX = "_staging_"
STAGING_RUN_SUFFIX_MAX = 60  # keeps staging table names well under the identifier limit

# Map entries become records with these field names (the names Spark's map_entries uses).
MAP_KEY, MAP_VALUE = "key", "value"

# Domain-scoped ids (example.com:project) are not supported: their dot would be ambiguous in project.dataset.table.
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_STAGING_URI = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?P<prefix>(?:/[A-Za-z0-9._=-]+)*)/?$")
_NOT_IDENTIFIER_CHAR = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class PublishedTable:
    """How one lake table is published.

    ``partition``: the DAY partitioning column (a DATE, or a TIMESTAMP partitioned by
    its UTC date); None only for small lookup tables that have no date at all.
    """

    name: str
    layer: str
    keys: tuple[str, ...]
    partition: str | None
    clustering: tuple[str, ...]
    mode: str = MERGE

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"


def _table(
    layer: str,
    name: str,
    keys: Sequence[str],
    partition: str | None,
    clustering: Sequence[str],
    mode: str = MERGE,
) -> tuple[str, PublishedTable]:
    return name, PublishedTable(name, layer, tuple(keys), partition, tuple(clustering), mode)


# Keys are the Delta tables' MERGE keys. The partition column is the table's date, or the timestamp that
# dates a row when it has no date column. Clustering follows what analysts filter and join on: the person,
# then the channel, model or status. ``truncate`` is for small aggregates the stages recompute in full.
PUBLISHED_TABLES: dict[str, PublishedTable] = dict(
    [
        _table("silver", "identity_map", ["id_type", "id_value"], "first_seen", ["canonical_user_id", "id_type"]),
        _table("silver", "sessions", ["session_id"], "session_date", ["canonical_user_id", "channel"]),
        _table("gold", "user_journeys", ["journey_id"], "start_ts", ["canonical_user_id", "status"]),
        _table("gold", "journey_touchpoints", ["touchpoint_id"], "touch_date", ["canonical_user_id", "channel"]),
        _table("gold", "journey_state_transitions", ["journey_id", "seq"], "transition_ts", ["canonical_user_id"]),
        _table("gold", "users", ["canonical_user_id"], "first_seen_ts", ["canonical_user_id"]),
        _table(
            "gold", "attribution", ["conversion_id", "touchpoint_id", "model"], "conversion_date", ["model", "channel"]
        ),
        _table("gold", "channel_history", ["date", "channel", "model"], "date", ["channel", "model"], TRUNCATE),
        _table("gold", "journey_abandonments", ["journey_id"], "ended_at", ["reason", "canonical_user_id"]),
        _table("gold", "journey_scores", ["journey_id"], "scored_as_of", ["canonical_user_id", "model_state"]),
        _table(
            "gold", "funnel_daily", ["funnel_date", "channel", "step"], "funnel_date", ["channel", "step"], TRUNCATE
        ),
        _table("gold", "cart_abandonment_daily", ["funnel_date", "channel"], "funnel_date", ["channel"], TRUNCATE),
        _table("gold", "competitor_exposures", ["exposure_id"], "exposure_ts", ["canonical_user_id", "competitor"]),
        # One row per journey state / model bucket: nothing to partition by, and too small to need it.
        _table("gold", "competitor_impact", ["state"], None, ["state"], TRUNCATE),
        _table(
            "gold",
            "conversion_model",
            ["model_state", "recency_bucket", "touch_bucket"],
            None,
            ["model_state"],
            TRUNCATE,
        ),
        _table("gold", "reconciliation", ["transaction_id"], "reconciliation_date", ["match_status", "channel"]),
        _table(
            "gold",
            "reconciliation_summary",
            ["reconciliation_date", "channel"],
            "reconciliation_date",
            ["channel"],
            TRUNCATE,
        ),
        _table("gold", "rl_transitions", ["journey_id", "step"], "touch_ts", ["action_channel", "canonical_user_id"]),
        # Open journeys only, recomputed each run and without a date column: replaced in full, unpartitioned.
        _table("gold", "journey_recommendations", ["journey_id"], None, ["recommended_channel"], TRUNCATE),
    ]
)


@dataclass(frozen=True)
class TableLayout:
    """The registry entry resolved against a table's actual schema."""

    keys: tuple[str, ...]
    partition_field: str | None
    clustering: tuple[str, ...]
    mode: str


# ---- names -------------------------------------------------------------------------------------------------


def validate_project(project: str) -> str:
    """A BigQuery project id; anything else could break out of a quoted name."""
    if not _PROJECT_ID.match(project or ""):
        raise PublishError(
            f"invalid BigQuery project {project!r}: expected a project id such as my-project-123 "
            "(lower-case letters, digits, hyphens)"
        )
    return project


def _identifier(value: str, what: str) -> str:
    try:
        return validate_identifier(value, what)
    except ValueError as error:
        raise PublishError(str(error)) from error


def table_reference(project: str, dataset: str, table: str) -> str:
    """``project.dataset.table`` with every part validated, ready to be quoted in SQL."""
    return f"{validate_project(project)}.{_identifier(dataset, 'dataset')}.{_identifier(table, 'table name')}"


def split_staging_uri(staging_uri: str) -> tuple[str, str]:
    """``gs://bucket/prefix`` -> (bucket, prefix without slashes at either end)."""
    match = _STAGING_URI.match(staging_uri or "")
    if not match or any(part in (".", "..") for part in match["prefix"].split("/")):
        raise PublishError(
            f"invalid staging URI {staging_uri!r}: expected gs://bucket/prefix "
            "(bucket in lower case; prefix of letters, digits, '.', '_', '-', '=')"
        )
    return match["bucket"], match["prefix"].strip("/")


def staging_object_uri(staging_uri: str, run_id: str, table: str) -> str:
    """Where one run stages one table: ``gs://bucket/prefix/<run_id>/<table>``."""
    bucket, prefix = split_staging_uri(staging_uri)
    run_part = _safe_run_id(run_id)
    base = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"
    return f"{base}/{run_part}/{_identifier(table, 'table name')}"


def staging_table_name(table: str, run_id: str) -> str:
    """A staging table per (table, run): reruns of a run reuse it, concurrent runs do not collide."""
    suffix = _NOT_IDENTIFIER_CHAR.sub("_", run_id)[-STAGING_RUN_SUFFIX_MAX:]
    return _identifier(f"{STAGING_TABLE_PREFIX}{table}_{suffix}", "staging table name")


def _safe_run_id(run_id: str) -> str:
    if not run_id or not re.fullmatch(r"[A-Za-z0-9._=-]+", run_id) or run_id in (".", ".."):
        raise PublishError(f"invalid run id {run_id!r} for a staging path: use letters, digits, '.', '_', '-', '='")
    return run_id


def selected_tables(names: Iterable[str]) -> list[PublishedTable]:
    """The registry entries for ``names`` (all of them when empty), in registry order; unknown names fail."""
    wanted = [n.strip() for n in names if n.strip()]
    unknown = sorted(set(wanted) - set(PUBLISHED_TABLES))
    if unknown:
        raise PublishError(
            f"unknown table(s) to publish: {', '.join(unknown)}; known: {', '.join(sorted(PUBLISHED_TABLES))}"
        )
    return [spec for name, spec in PUBLISHED_TABLES.items() if not wanted or name in wanted]


def write_modes(overrides: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The write mode of every registered table after the configuration's ``(table, mode)`` overrides."""
    modes = {name: spec.mode for name, spec in PUBLISHED_TABLES.items()}
    for table, mode in overrides:
        if table not in PUBLISHED_TABLES:
            raise PublishError(f"bigquery.write_modes names unknown table {table!r}")
        if mode not in WRITE_MODES:
            raise PublishError(f"bigquery.write_modes[{table!r}] = {mode!r}; expected one of {WRITE_MODES}")
        modes[table] = mode
    return modes


# ---- schema ------------------------------------------------------------------------------------------------


def bigquery_schema(struct_type: T.StructType) -> list[SchemaField]:
    """The BigQuery schema of a Spark schema, field by field, in the same order (see the module docstring)."""
    return [bigquery_field(field) for field in struct_type.fields]


def bigquery_field(field: T.StructField, path: str = "") -> SchemaField:
    name = _identifier(field.name, "column name")
    where = f"{path}{name}"
    mode = NULLABLE if field.nullable else REQUIRED
    data_type = field.dataType
    if isinstance(data_type, T.ArrayType):
        if isinstance(data_type.elementType, T.ArrayType):
            raise PublishError(f"column {where}: BigQuery has no arrays of arrays; wrap the inner array in a struct")
        data_type, mode = data_type.elementType, REPEATED
    elif isinstance(data_type, T.MapType):
        data_type, mode = _map_entry_type(data_type), REPEATED
    return _scalar_or_record(name, data_type, mode, where)


def _map_entry_type(map_type: T.MapType) -> T.StructType:
    return T.StructType(
        [
            T.StructField(MAP_KEY, map_type.keyType, False),
            T.StructField(MAP_VALUE, map_type.valueType, map_type.valueContainsNull),
        ]
    )


_SIMPLE_TYPES: dict[type[T.DataType], str] = {
    T.StringType: "STRING",
    T.ByteType: "INT64",
    T.ShortType: "INT64",
    T.IntegerType: "INT64",
    T.LongType: "INT64",
    T.FloatType: "FLOAT64",
    T.DoubleType: "FLOAT64",
    T.BooleanType: "BOOL",
    T.BinaryType: "BYTES",
    T.DateType: "DATE",
    T.TimestampType: "TIMESTAMP",
    T.TimestampNTZType: "DATETIME",
}


def _scalar_or_record(name: str, data_type: T.DataType, mode: str, where: str) -> SchemaField:
    if isinstance(data_type, T.StructType):
        fields = [bigquery_field(f, f"{where}.") for f in data_type.fields]
        return SchemaField(name, "RECORD", mode=mode, fields=fields)
    if isinstance(data_type, T.MapType | T.ArrayType):
        # An array element or map value that is itself a collection: BigQuery needs a record between them.
        raise PublishError(f"column {where}: nested collection {data_type.simpleString()} has no BigQuery type")
    if isinstance(data_type, T.DecimalType):
        integer_digits = data_type.precision - data_type.scale
        fits_numeric = data_type.scale <= NUMERIC_MAX_SCALE and integer_digits <= NUMERIC_MAX_INTEGER_DIGITS
        bq_type = "NUMERIC" if fits_numeric else "BIGNUMERIC"
        return SchemaField(name, bq_type, mode=mode, precision=data_type.precision, scale=data_type.scale)
    bq_simple = _SIMPLE_TYPES.get(type(data_type))
    if bq_simple is None:
        raise PublishError(f"column {where}: Spark type {data_type.simpleString()} has no BigQuery mapping")
    return SchemaField(name, bq_simple, mode=mode)


def relaxed(schema: Sequence[SchemaField]) -> list[SchemaField]:
    """Every REQUIRED field made NULLABLE, recursively: the staging table's schema, which any Parquet file fits."""
    return [
        SchemaField(
            f.name,
            f.field_type,
            mode=REPEATED if f.mode == REPEATED else NULLABLE,
            fields=relaxed(f.fields),
            precision=f.precision,
            scale=f.scale,
        )
        for f in schema
    ]


def evolve_schema(existing: Sequence[SchemaField], desired: Sequence[SchemaField], table: str) -> list[SchemaField]:
    """The target schema that accepts ``desired`` rows, or an error for a change BigQuery cannot apply.

    Allowed (what ``tables.patch`` accepts): new columns, appended as NULLABLE (or REPEATED),
    also inside records; REQUIRED relaxed to NULLABLE. Rejected: a changed type or
    precision, a column that turned into or out of an array, and a column dropped from
    Delta (BigQuery keeps it; drop it with ALTER TABLE ... DROP COLUMN first). The
    emulator accepts type changes, so this check is ours.
    """
    return _evolve_fields(existing, desired, table, "")


def _evolve_fields(
    existing: Sequence[SchemaField], desired: Sequence[SchemaField], table: str, path: str
) -> list[SchemaField]:
    wanted = {f.name.lower(): f for f in desired}
    dropped = [f"{path}{f.name}" for f in existing if f.name.lower() not in wanted]
    if dropped:
        raise PublishError(
            f"{table}: column(s) {', '.join(dropped)} exist in BigQuery but no longer in Delta; BigQuery cannot drop "
            "columns through a load: run ALTER TABLE ... DROP COLUMN (or drop the table) and publish again"
        )
    known = {f.name.lower() for f in existing}
    evolved = [_evolve_field(old, wanted[old.name.lower()], table, path) for old in existing]
    added = [_as_added(f) for f in desired if f.name.lower() not in known]
    return evolved + added


def _evolve_field(old: SchemaField, new: SchemaField, table: str, path: str) -> SchemaField:
    where = f"{path}{old.name}"
    # An unparameterized NUMERIC/BIGNUMERIC (as the emulator reports every decimal) holds any decimal we map to it.
    parameters_differ = old.precision is not None and (old.precision, old.scale) != (new.precision, new.scale)
    if standard_type(old.field_type) != standard_type(new.field_type) or parameters_differ:
        raise PublishError(
            f"{table}: column {where} changed type from {_type_text(old)} to {_type_text(new)}, which BigQuery "
            "cannot apply in place; recreate the table (or publish under a new column name)"
        )
    if (old.mode == REPEATED) != (new.mode == REPEATED):
        raise PublishError(f"{table}: column {where} changed between array and single value ({old.mode} -> {new.mode})")
    mode = NULLABLE if old.mode == REQUIRED and new.mode != REQUIRED else old.mode
    is_record = standard_type(old.field_type) == "RECORD"
    fields = _evolve_fields(old.fields, new.fields, table, f"{where}.") if is_record else list(old.fields)
    if mode == old.mode and fields == list(old.fields):
        return old  # unchanged: keep descriptions, policy tags and whatever else BigQuery holds for it
    resource = copy.deepcopy(old.to_api_repr())  # the client hands out its internal dict
    resource["mode"] = mode
    if is_record:
        resource["fields"] = [f.to_api_repr() for f in fields]
    return SchemaField.from_api_repr(resource)


def _as_added(field: SchemaField) -> SchemaField:
    # BigQuery only adds NULLABLE or REPEATED columns to a table that has rows.
    return SchemaField(
        field.name,
        field.field_type,
        mode=REPEATED if field.mode == REPEATED else NULLABLE,
        fields=field.fields,
        precision=field.precision,
        scale=field.scale,
    )


# The API answers with legacy SQL type names, whatever name the table was created with.
_LEGACY_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}


def standard_type(type_name: str) -> str:
    """The standard SQL name of a BigQuery type (``INTEGER`` -> ``INT64``)."""
    upper = type_name.upper()
    return _LEGACY_TYPE_NAMES.get(upper, upper)


def _type_text(field: SchemaField) -> str:
    if field.precision is None:
        return standard_type(field.field_type)
    return f"{standard_type(field.field_type)}({field.precision}, {field.scale})"


def resolve_layout(spec: PublishedTable, schema: T.StructType, mode: str | None = None) -> TableLayout:
    """Check the registry entry against the table's actual columns and pick the partition column.

    Every key, partition and clustering column must be a top-level column of a type
    BigQuery accepts for that role; otherwise a :class:`PublishError` names the table and column.
    """
    by_name = {f.name: f for f in schema.fields}
    bq_types = {f.name: bigquery_field(f) for f in schema.fields}
    table = spec.qualified_name

    missing_keys = [k for k in spec.keys if k not in by_name]
    if missing_keys:
        raise PublishError(f"{table}: key column(s) {', '.join(missing_keys)} not in the table ({_columns(schema)})")
    for key in spec.keys:
        if bq_types[key].mode == REPEATED or bq_types[key].field_type in ("RECORD", "FLOAT64"):
            raise PublishError(f"{table}: key column {key} is {_type_text(bq_types[key])}; keys must be scalar")

    partition = spec.partition
    if partition is not None:
        if partition not in by_name:
            raise PublishError(f"{table}: partition column {partition} not in the table ({_columns(schema)})")
        field = bq_types[partition]
        if field.field_type not in PARTITION_TYPES or field.mode == REPEATED:
            raise PublishError(f"{table}: partition column {partition} is {_type_text(field)}; need DATE or TIMESTAMP")

    missing_clusters = [c for c in spec.clustering if c not in by_name]
    if missing_clusters:
        raise PublishError(
            f"{table}: clustering column(s) {', '.join(missing_clusters)} not in the table ({_columns(schema)})"
        )
    if len(spec.clustering) > MAX_CLUSTERING_FIELDS:
        raise PublishError(f"{table}: at most {MAX_CLUSTERING_FIELDS} clustering fields are allowed")
    for column in spec.clustering:
        if bq_types[column].field_type not in CLUSTERING_TYPES or bq_types[column].mode == REPEATED:
            raise PublishError(
                f"{table}: column {column} ({_type_text(bq_types[column])}) cannot be a clustering field"
            )

    effective_mode = mode or spec.mode
    if effective_mode not in WRITE_MODES:
        raise PublishError(f"{table}: write mode {effective_mode!r} is not one of {WRITE_MODES}")
    return TableLayout(spec.keys, partition, spec.clustering, effective_mode)


def _columns(schema: T.StructType) -> str:
    return ", ".join(schema.fieldNames())


# ---- frames ------------------------------------------------------------------------------------------------


def publishable_frame(df: DataFrame, column_order: Sequence[str]) -> DataFrame:
    """``df`` shaped for a BigQuery load: maps turned into arrays of key/value records, columns in ``column_order``.

    Input: any frame whose top-level columns are exactly ``column_order`` (in any order).
    Returns: the same rows and columns, ordered as ``column_order`` (the emulator, and
    positional loads generally, match Parquet columns by position).
    """
    missing = [c for c in column_order if c not in df.columns]
    extra = [c for c in df.columns if c not in column_order]
    if missing or extra:
        raise PublishError(f"publish columns do not match the table: missing {missing}, unexpected {extra}")
    types = {f.name: f.dataType for f in df.schema.fields}
    return df.select(*[_bigquery_value(F.col(c), types[c]).alias(c) for c in column_order])


def _bigquery_value(column: Column, data_type: T.DataType) -> Column:
    """``column`` with every map inside it replaced by its entries; unchanged when it holds no map."""
    if not _contains_map(data_type):
        return column
    if isinstance(data_type, T.MapType):
        value_type = data_type.valueType
        return F.transform(
            F.map_entries(column),
            lambda entry: F.struct(
                entry[MAP_KEY].alias(MAP_KEY), _bigquery_value(entry[MAP_VALUE], value_type).alias(MAP_VALUE)
            ),
        )
    if isinstance(data_type, T.ArrayType):
        element_type = data_type.elementType
        return F.transform(column, lambda element: _bigquery_value(element, element_type))
    assert isinstance(data_type, T.StructType)
    rebuilt = F.struct(*[_bigquery_value(column[f.name], f.dataType).alias(f.name) for f in data_type.fields])
    # A null struct stays null rather than becoming a struct of nulls.
    return F.when(column.isNull(), F.lit(None)).otherwise(rebuilt)


def _contains_map(data_type: T.DataType) -> bool:
    if isinstance(data_type, T.MapType):
        return True
    if isinstance(data_type, T.ArrayType):
        return _contains_map(data_type.elementType)
    if isinstance(data_type, T.StructType):
        return any(_contains_map(f.dataType) for f in data_type.fields)
    return False


def bad_keys(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Keys that would make a MERGE ambiguous or unmatched: duplicated, or with a null part.

    Input: ``df`` with the ``keys`` columns. Returns: ``keys`` + ``rows`` (how many rows share
    the key) + ``problem`` ("duplicate key" or "null key"), one row per bad key.
    BigQuery fails an ambiguous MERGE but the emulator does not, and a null key never
    matches, so it would be inserted again on every publish: both are checked here.
    """
    key_columns = [F.col(k) for k in keys]
    has_null = F.lit(False)
    for key in key_columns:
        has_null = has_null | key.isNull()
    counted = df.groupBy(*key_columns).agg(F.count(F.lit(1)).alias("rows"))
    problem = F.when(has_null, F.lit("null key")).when(F.col("rows") > 1, F.lit("duplicate key"))
    return (
        counted.withColumn("problem", problem)
        .where(F.col("problem").isNotNull())
        .select(*[F.col(k) for k in keys], F.col("rows"), F.col("problem"))
    )


# ---- SQL ---------------------------------------------------------------------------------------------------


def merge_sql(target: str, staging: str, schema: Sequence[SchemaField], keys: Sequence[str]) -> str:
    """MERGE ``staging`` into ``target`` on ``keys`` so that ``target`` ends equal to ``staging``.

    ``target`` and ``staging`` are references from :func:`table_reference`. Rows are updated
    only when some column differs (arrays and records compared through their JSON text,
    since BigQuery has no equality on them), so a rerun updates nothing; target rows
    whose key is not in staging are deleted.
    """
    target_parts = target.split(".")
    staging_parts = staging.split(".")
    if len(target_parts) != len(staging_parts) or len(target_parts) != len(("project", "dataset", "table")):
        raise PublishError(f"expected project.dataset.table references, got {target!r} and {staging!r}")
    table_reference(*target_parts)
    table_reference(*staging_parts)
    columns = [_identifier(f.name, "column name") for f in schema]
    missing_keys = [k for k in keys if k not in columns]
    if not keys or missing_keys:
        raise PublishError(f"MERGE into {target}: key column(s) {missing_keys or '(none)'} not in the schema")
    values = [f for f in schema if f.name not in keys]

    on = " AND ".join(f"T.`{k}` = S.`{k}`" for k in keys)
    lines = [f"MERGE `{target}` AS T", f"USING `{staging}` AS S", f"ON {on}"]
    if values:
        changed = " OR ".join(_differs(f) for f in values)
        assignments = ", ".join(f"`{f.name}` = S.`{f.name}`" for f in values)
        lines.append(f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {assignments}")
    column_list = ", ".join(f"`{c}`" for c in columns)
    source_list = ", ".join(f"S.`{c}`" for c in columns)
    lines.append(f"WHEN NOT MATCHED BY TARGET THEN INSERT ({column_list}) VALUES ({source_list})")
    lines.append("WHEN NOT MATCHED BY SOURCE THEN DELETE")
    return "\n".join(lines)


def _differs(field: SchemaField) -> str:
    if field.mode == REPEATED or standard_type(field.field_type) == "RECORD":
        return f"TO_JSON_STRING(T.`{field.name}`) IS DISTINCT FROM TO_JSON_STRING(S.`{field.name}`)"
    return f"T.`{field.name}` IS DISTINCT FROM S.`{field.name}`"


def ddl_type(field: SchemaField) -> str:
    """The GoogleSQL DDL type of ``field``: ``ARRAY<STRUCT<`a` INT64>>``, ``NUMERIC(12, 2)``, ...

    Nested fields are written without ``NOT NULL``: the DDL is only used to add columns
    (:func:`add_column_sql`), whose authoritative schema is set through ``tables.patch``.
    """
    base = standard_type(field.field_type)
    if base == "RECORD":
        members = ", ".join(f"`{_identifier(f.name, 'column name')}` {ddl_type(f)}" for f in field.fields)
        base = f"STRUCT<{members}>"
    elif field.precision is not None:
        base = f"{base}({field.precision}, {field.scale or 0})"
    return f"ARRAY<{base}>" if field.mode == REPEATED else base


def add_column_sql(target: str, field: SchemaField) -> str:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` for one top-level column of ``target`` (a validated reference).

    BigQuery adds the column with ``tables.patch`` already, so this is a no-op there. The
    emulator applies a patch to its metadata only, not to the table it queries, and
    accepts one ALTER per statement: hence one statement per added column.
    """
    parts = target.split(".")
    if len(parts) != len(("project", "dataset", "table")):
        raise PublishError(f"expected a project.dataset.table reference, got {target!r}")
    table_reference(*parts)
    name = _identifier(field.name, "column name")
    return f"ALTER TABLE `{target}` ADD COLUMN IF NOT EXISTS `{name}` {ddl_type(field)}"
