"""The pure side of BigQuery publishing: type mapping, registry, names, schema evolution, MERGE SQL, guards."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud.bigquery import SchemaField
from publish_contracts import CONTRACT_SCHEMAS, UNPARTITIONED  # tests/publish_contracts.py
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from journeylake.io.bigquery import BigQueryPublisher, BigQueryTarget, local_staging_path
from journeylake.publish import (
    MAX_CLUSTERING_FIELDS,
    MERGE,
    PUBLISHED_TABLES,
    TRUNCATE,
    WRITE_MODES,
    PublishedTable,
    PublishError,
    add_column_sql,
    bad_keys,
    bigquery_schema,
    ddl_type,
    evolve_schema,
    merge_sql,
    publishable_frame,
    relaxed,
    resolve_layout,
    selected_tables,
    split_staging_uri,
    staging_object_uri,
    staging_table_name,
    table_reference,
    write_modes,
)

pytestmark = pytest.mark.unit

F_ = SchemaField


# ---- type mapping ------------------------------------------------------------------------------------------


def test_every_supported_spark_type_maps_to_its_bigquery_type() -> None:
    spark_schema = T.StructType(
        [
            T.StructField("id", T.StringType(), False),
            T.StructField("b", T.ByteType()),
            T.StructField("s", T.ShortType()),
            T.StructField("i", T.IntegerType()),
            T.StructField("l", T.LongType()),
            T.StructField("f", T.FloatType()),
            T.StructField("d", T.DoubleType()),
            T.StructField("flag", T.BooleanType()),
            T.StructField("raw", T.BinaryType()),
            T.StructField("day", T.DateType()),
            T.StructField("ts", T.TimestampType(), False),
            T.StructField("local_ts", T.TimestampNTZType()),
            T.StructField("amount", T.DecimalType(12, 2)),
        ]
    )
    assert bigquery_schema(spark_schema) == [
        F_("id", "STRING", mode="REQUIRED"),
        F_("b", "INT64"),
        F_("s", "INT64"),
        F_("i", "INT64"),
        F_("l", "INT64"),
        F_("f", "FLOAT64"),
        F_("d", "FLOAT64"),
        F_("flag", "BOOL"),
        F_("raw", "BYTES"),
        F_("day", "DATE"),
        F_("ts", "TIMESTAMP", mode="REQUIRED"),
        F_("local_ts", "DATETIME"),
        F_("amount", "NUMERIC", precision=12, scale=2),
    ]


@pytest.mark.parametrize(
    ("precision", "scale", "expected"),
    [
        (38, 9, "NUMERIC"),  # exactly 29 integer digits and 9 fractional: the NUMERIC limit
        (38, 10, "BIGNUMERIC"),  # one fractional digit too many
        (30, 0, "BIGNUMERIC"),  # 30 integer digits
        (29, 0, "NUMERIC"),
        (10, 0, "NUMERIC"),
    ],
)
def test_decimals_become_numeric_until_they_exceed_its_range(precision: int, scale: int, expected: str) -> None:
    (field,) = bigquery_schema(T.StructType([T.StructField("x", T.DecimalType(precision, scale))]))
    assert field == F_("x", expected, precision=precision, scale=scale)


def test_arrays_structs_and_maps_map_to_repeated_and_record_fields() -> None:
    item = T.StructType([T.StructField("sku", T.StringType(), False), T.StructField("qty", T.LongType())])
    spark_schema = T.StructType(
        [
            T.StructField("tags", T.ArrayType(T.StringType())),
            T.StructField("items", T.ArrayType(item)),
            T.StructField(
                "device",
                T.StructType(
                    [
                        T.StructField("category", T.StringType()),
                        T.StructField("web", T.StructType([T.StructField("browser", T.StringType())])),
                    ]
                ),
                False,
            ),
            T.StructField("attrs", T.MapType(T.StringType(), T.LongType())),
            T.StructField("strict_attrs", T.MapType(T.StringType(), T.DoubleType(), valueContainsNull=False)),
            T.StructField("map_of_items", T.MapType(T.StringType(), item)),
            # A repeated field inside a repeated record is fine in BigQuery.
            T.StructField("map_of_lists", T.MapType(T.StringType(), T.ArrayType(T.LongType()))),
        ]
    )
    sku_qty = (F_("sku", "STRING", mode="REQUIRED"), F_("qty", "INT64"))
    assert bigquery_schema(spark_schema) == [
        F_("tags", "STRING", mode="REPEATED"),
        F_("items", "RECORD", mode="REPEATED", fields=sku_qty),
        F_(
            "device",
            "RECORD",
            mode="REQUIRED",
            fields=(F_("category", "STRING"), F_("web", "RECORD", fields=(F_("browser", "STRING"),))),
        ),
        F_("attrs", "RECORD", mode="REPEATED", fields=(F_("key", "STRING", mode="REQUIRED"), F_("value", "INT64"))),
        F_(
            "strict_attrs",
            "RECORD",
            mode="REPEATED",
            fields=(F_("key", "STRING", mode="REQUIRED"), F_("value", "FLOAT64", mode="REQUIRED")),
        ),
        F_(
            "map_of_items",
            "RECORD",
            mode="REPEATED",
            fields=(F_("key", "STRING", mode="REQUIRED"), F_("value", "RECORD", fields=sku_qty)),
        ),
        F_(
            "map_of_lists",
            "RECORD",
            mode="REPEATED",
            fields=(F_("key", "STRING", mode="REQUIRED"), F_("value", "INT64", mode="REPEATED")),
        ),
    ]


@pytest.mark.parametrize(
    ("data_type", "message"),
    [
        (T.ArrayType(T.ArrayType(T.LongType())), "arrays of arrays"),
        (T.ArrayType(T.MapType(T.StringType(), T.LongType())), "nested collection"),
        (T.DayTimeIntervalType(), "no BigQuery mapping"),
        (T.NullType(), "no BigQuery mapping"),
    ],
)
def test_types_without_a_bigquery_equivalent_are_rejected_naming_the_column(
    data_type: T.DataType, message: str
) -> None:
    schema = T.StructType([T.StructField("ok", T.LongType()), T.StructField("bad_col", data_type)])
    with pytest.raises(PublishError, match=f"bad_col.*{message}|{message}.*bad_col|column bad_col"):
        bigquery_schema(schema)


def test_nested_column_names_are_validated() -> None:
    schema = T.StructType([T.StructField("rec", T.StructType([T.StructField("bad-name", T.LongType())]))])
    with pytest.raises(PublishError, match="invalid column name 'bad-name'"):
        bigquery_schema(schema)


def test_relaxed_makes_required_fields_nullable_at_every_depth() -> None:
    schema = [
        F_("id", "STRING", mode="REQUIRED"),
        F_("tags", "STRING", mode="REPEATED"),
        F_("rec", "RECORD", mode="REQUIRED", fields=(F_("x", "INT64", mode="REQUIRED"),)),
    ]
    assert relaxed(schema) == [
        F_("id", "STRING"),
        F_("tags", "STRING", mode="REPEATED"),
        F_("rec", "RECORD", fields=(F_("x", "INT64"),)),
    ]


# ---- names -------------------------------------------------------------------------------------------------


def test_table_reference_accepts_plain_names() -> None:
    assert table_reference("test-project", "journeylake", "user_journeys") == "test-project.journeylake.user_journeys"


@pytest.mark.parametrize(
    ("project", "dataset", "table", "message"),
    [
        ("test-project", "ds; DROP TABLE x", "t", "invalid dataset"),
        ("test-project", "ds", "t`--", "invalid table name"),
        ("test-project", "ds", "a.b", "invalid table name"),
        ("Test_Project", "ds", "t", "invalid BigQuery project"),
        ("proj`.x", "ds", "t", "invalid BigQuery project"),
        ("", "ds", "t", "invalid BigQuery project"),
        ("abc", "ds", "t", "invalid BigQuery project"),  # shorter than 6 characters
    ],
)
def test_table_reference_rejects_injection(project: str, dataset: str, table: str, message: str) -> None:
    with pytest.raises(PublishError, match=message):
        table_reference(project, dataset, table)


def test_staging_uri_is_split_and_run_paths_built_under_it() -> None:
    assert split_staging_uri("gs://journeylake-staging/runs") == ("journeylake-staging", "runs")
    assert split_staging_uri("gs://journeylake-staging/") == ("journeylake-staging", "")
    assert staging_object_uri("gs://b-1/a/b/", "run-1", "users") == "gs://b-1/a/b/run-1/users"
    assert staging_object_uri("gs://b-1", "run-1", "users") == "gs://b-1/run-1/users"


@pytest.mark.parametrize(
    "uri", ["", "s3://bucket/x", "gs://Bucket/x", "gs://bucket/../x", "gs://bucket/a b", "gs://b'/x", "/local/path"]
)
def test_bad_staging_uris_are_rejected(uri: str) -> None:
    with pytest.raises(PublishError, match="invalid staging URI"):
        split_staging_uri(uri)


@pytest.mark.parametrize("run_id", ["", "..", "run/1", "run 1"])
def test_run_ids_that_would_escape_the_staging_prefix_are_rejected(run_id: str) -> None:
    with pytest.raises(PublishError, match="invalid run id"):
        staging_object_uri("gs://bucket/x", run_id, "users")


def test_staging_table_name_is_an_identifier_per_table_and_run() -> None:
    assert staging_table_name("users", "run-2024.01:x") == "_staging_users_run_2024_01_x"
    long_name = staging_table_name("users", "r" * 500)
    assert long_name == "_staging_users_" + "r" * 60


def test_local_staging_path_maps_gs_uris_under_the_root_only(tmp_path: Any) -> None:
    assert local_staging_path("gs://bucket/runs/r1/users", str(tmp_path)) == str(tmp_path / "bucket/runs/r1/users")
    with pytest.raises(PublishError, match="escapes"):
        local_staging_path("gs://bucket/../../etc", str(tmp_path))


# ---- registry and layout -----------------------------------------------------------------------------------


def test_registry_entries_are_well_formed() -> None:
    assert {spec.layer for spec in PUBLISHED_TABLES.values()} == {"silver", "gold"}
    for name, spec in PUBLISHED_TABLES.items():
        assert spec.name == name
        assert spec.keys, name
        assert 0 < len(spec.clustering) <= MAX_CLUSTERING_FIELDS, name
        assert spec.mode in WRITE_MODES, name


def test_every_gold_table_and_the_silver_identity_map_and_sessions_are_registered() -> None:
    assert set(PUBLISHED_TABLES) == set(CONTRACT_SCHEMAS)
    assert {(s.layer, s.name) for s in PUBLISHED_TABLES.values() if s.layer == "silver"} == {
        ("silver", "identity_map"),
        ("silver", "sessions"),
    }


@pytest.mark.parametrize("name", sorted(CONTRACT_SCHEMAS))
def test_registry_fits_the_contract_schema_the_stage_writes(name: str) -> None:
    schema = CONTRACT_SCHEMAS[name]
    layout = resolve_layout(PUBLISHED_TABLES[name], schema)
    bq_types = {f.name: f for f in bigquery_schema(schema)}
    assert len(bq_types) == len(schema.fields)
    if name in UNPARTITIONED:
        assert layout.partition_field is None
    else:
        assert layout.partition_field is not None
        assert bq_types[layout.partition_field].field_type in ("DATE", "TIMESTAMP")
    assert layout.clustering


def test_selected_tables_keeps_registry_order_and_rejects_unknown_names() -> None:
    assert [s.name for s in selected_tables(["users", " sessions", ""])] == ["sessions", "users"]
    assert len(selected_tables([])) == len(PUBLISHED_TABLES)
    with pytest.raises(PublishError, match=r"unknown table.*nope"):
        selected_tables(["users", "nope"])


def test_write_mode_overrides_are_validated() -> None:
    modes = write_modes([("users", TRUNCATE)])
    assert modes["users"] == TRUNCATE
    assert modes["user_journeys"] == MERGE
    with pytest.raises(PublishError, match="unknown table"):
        write_modes([("nope", MERGE)])
    with pytest.raises(PublishError, match="expected one of"):
        write_modes([("users", "append")])


SPEC = PublishedTable(
    name="things",
    layer="gold",
    keys=("thing_id",),
    partition="thing_date",
    clustering=("owner", "kind"),
)
THINGS = T.StructType(
    [
        T.StructField("thing_id", T.StringType(), False),
        T.StructField("owner", T.LongType()),
        T.StructField("kind", T.StringType()),
        T.StructField("thing_date", T.DateType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("tags", T.ArrayType(T.StringType())),
    ]
)


def test_layout_takes_keys_partition_clustering_and_mode_from_the_registry() -> None:
    layout = resolve_layout(SPEC, THINGS)
    assert (layout.keys, layout.partition_field, layout.clustering, layout.mode) == (
        ("thing_id",),
        "thing_date",
        ("owner", "kind"),
        MERGE,
    )
    assert resolve_layout(SPEC, THINGS, TRUNCATE).mode == TRUNCATE
    with_ts = T.StructType([*THINGS.fields, T.StructField("thing_ts", T.TimestampType())])
    assert resolve_layout(replace(SPEC, partition="thing_ts"), with_ts).partition_field == "thing_ts"
    assert resolve_layout(replace(SPEC, partition=None), THINGS).partition_field is None


def test_a_missing_partition_column_is_an_error_naming_the_table() -> None:
    without_dates = T.StructType([f for f in THINGS.fields if f.name != "thing_date"])
    with pytest.raises(PublishError, match=r"gold\.things: partition column thing_date not in the table"):
        resolve_layout(SPEC, without_dates)


@pytest.mark.parametrize(
    ("spec_change", "message"),
    [
        ({"keys": ("thing_id", "missing_key")}, r"key column\(s\) missing_key not in the table"),
        ({"keys": ("score",)}, "key column score is FLOAT64"),
        ({"keys": ("tags",)}, "key column tags"),
        ({"clustering": ("owner", "nope")}, r"clustering column\(s\) nope not in the table"),
        ({"clustering": ("score",)}, "score .FLOAT64. cannot be a clustering field"),
        ({"clustering": ("tags",)}, "tags .STRING. cannot be a clustering field"),
        ({"clustering": ("owner", "kind", "thing_id", "thing_date", "owner")}, "at most 4"),
        ({"partition": "owner"}, "partition column owner is INT64"),
        ({"partition": "tags"}, "partition column tags is STRING"),
        ({"mode": "append"}, "write mode 'append'"),
    ],
)
def test_layout_errors_name_the_table_and_column(spec_change: dict[str, Any], message: str) -> None:
    spec = PublishedTable(**{**SPEC.__dict__, **spec_change})
    with pytest.raises(PublishError, match=message):
        resolve_layout(spec, THINGS)


# ---- schema evolution --------------------------------------------------------------------------------------

BASE = [
    F_("id", "STRING", mode="REQUIRED"),
    F_("n", "INT64", mode="REQUIRED"),
    F_("rec", "RECORD", fields=(F_("a", "STRING"),)),
]


def test_unchanged_schema_evolves_to_itself() -> None:
    assert evolve_schema(BASE, list(BASE), "t") == BASE


def test_new_columns_are_appended_nullable_and_required_ones_relaxed() -> None:
    # Delta put the new column first and made n nullable; BigQuery keeps its order and appends.
    desired = [
        F_("added", "DATE", mode="REQUIRED"),
        F_("id", "STRING", mode="REQUIRED"),
        F_("n", "INT64"),
        F_("rec", "RECORD", fields=(F_("a", "STRING"), F_("b", "INT64", mode="REQUIRED"))),
        F_("more_tags", "STRING", mode="REPEATED"),
    ]
    assert evolve_schema(BASE, desired, "t") == [
        F_("id", "STRING", mode="REQUIRED"),
        F_("n", "INT64"),
        F_("rec", "RECORD", fields=(F_("a", "STRING"), F_("b", "INT64"))),
        F_("added", "DATE"),
        F_("more_tags", "STRING", mode="REPEATED"),
    ]


def test_legacy_type_names_from_the_api_are_the_same_types_and_descriptions_survive() -> None:
    # get_table answers INTEGER/FLOAT/BOOLEAN whatever the table was created with.
    from_api = [
        SchemaField.from_api_repr({"name": "id", "type": "INTEGER", "mode": "REQUIRED", "description": "the key"}),
        SchemaField.from_api_repr({"name": "x", "type": "FLOAT"}),
        SchemaField.from_api_repr({"name": "ok", "type": "BOOLEAN"}),
        SchemaField.from_api_repr({"name": "r", "type": "RECORD", "fields": [{"name": "a", "type": "INTEGER"}]}),
    ]
    desired = [
        F_("id", "INT64"),
        F_("x", "FLOAT64"),
        F_("ok", "BOOL"),
        F_("r", "RECORD", fields=(F_("a", "INT64"),)),
    ]
    evolved = evolve_schema(from_api, desired, "t")
    assert evolved[1:] == from_api[1:]
    assert (evolved[0].mode, evolved[0].description, evolved[0].field_type) == ("NULLABLE", "the key", "INTEGER")


def test_unparameterized_numeric_accepts_any_mapped_decimal_but_parameters_must_match() -> None:
    desired = [F_("amount", "NUMERIC", precision=12, scale=2)]
    assert evolve_schema([F_("amount", "NUMERIC")], desired, "t") == [F_("amount", "NUMERIC")]
    with pytest.raises(PublishError, match=r"NUMERIC\(10, 2\) to NUMERIC\(12, 2\)"):
        evolve_schema([F_("amount", "NUMERIC", precision=10, scale=2)], desired, "t")


def test_nullable_column_that_became_required_in_delta_stays_nullable() -> None:
    existing = [F_("id", "STRING")]
    assert evolve_schema(existing, [F_("id", "STRING", mode="REQUIRED")], "t") == existing


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        ([F_("id", "STRING", mode="REQUIRED"), F_("n", "STRING"), BASE[2]], "column n changed type from INT64 to"),
        ([BASE[0], BASE[1]], r"column\(s\) rec exist in BigQuery but no longer in Delta"),
        ([BASE[0], F_("n", "INT64", mode="REPEATED"), BASE[2]], "between array and single value"),
        ([BASE[0], BASE[1], F_("rec", "RECORD", fields=(F_("a", "INT64"),))], r"rec\.a changed type"),
        ([BASE[0], F_("n", "NUMERIC", precision=10, scale=2), BASE[2]], r"INT64 to NUMERIC\(10, 2\)"),
    ],
)
def test_changes_bigquery_cannot_apply_are_rejected(desired: list[SchemaField], message: str) -> None:
    with pytest.raises(PublishError, match=message):
        evolve_schema(BASE, desired, "t")


# ---- MERGE SQL ---------------------------------------------------------------------------------------------


def test_merge_sql_matches_on_keys_updates_changed_rows_and_deletes_missing_ones() -> None:
    schema = [
        F_("journey_id", "STRING"),
        F_("seq", "INT64"),
        F_("status", "STRING"),
        F_("tags", "STRING", mode="REPEATED"),
        F_("info", "RECORD", fields=(F_("a", "INT64"),)),
    ]
    sql = merge_sql("p-roject.ds.t", "p-roject.ds._staging_t_r1", schema, ["journey_id", "seq"])
    assert sql == (
        "MERGE `p-roject.ds.t` AS T\n"
        "USING `p-roject.ds._staging_t_r1` AS S\n"
        "ON T.`journey_id` = S.`journey_id` AND T.`seq` = S.`seq`\n"
        "WHEN MATCHED AND (T.`status` IS DISTINCT FROM S.`status`"
        " OR TO_JSON_STRING(T.`tags`) IS DISTINCT FROM TO_JSON_STRING(S.`tags`)"
        " OR TO_JSON_STRING(T.`info`) IS DISTINCT FROM TO_JSON_STRING(S.`info`))"
        " THEN UPDATE SET `status` = S.`status`, `tags` = S.`tags`, `info` = S.`info`\n"
        "WHEN NOT MATCHED BY TARGET THEN INSERT (`journey_id`, `seq`, `status`, `tags`, `info`)"
        " VALUES (S.`journey_id`, S.`seq`, S.`status`, S.`tags`, S.`info`)\n"
        "WHEN NOT MATCHED BY SOURCE THEN DELETE"
    )


def test_merge_sql_of_a_key_only_table_has_no_update_clause() -> None:
    sql = merge_sql("p-roject.ds.t", "p-roject.ds.s", [F_("k", "STRING")], ["k"])
    assert "WHEN MATCHED" not in sql
    assert "WHEN NOT MATCHED BY SOURCE THEN DELETE" in sql


@pytest.mark.parametrize(
    ("target", "staging", "schema", "keys", "message"),
    [
        ("p-roject.ds.t`; DROP", "p-roject.ds.s", [F_("k", "STRING")], ["k"], "invalid table name"),
        ("p-roject.ds.t", "p-roject.d s.s", [F_("k", "STRING")], ["k"], "invalid dataset"),
        ("ds.t", "p-roject.ds.s", [F_("k", "STRING")], ["k"], "project.dataset.table"),
        ("p-roject.ds.t", "p-roject.ds.s", [F_("k`) OR (1", "STRING")], ["k"], "invalid column name"),
        ("p-roject.ds.t", "p-roject.ds.s", [F_("k", "STRING")], ["other"], "key column"),
        ("p-roject.ds.t", "p-roject.ds.s", [F_("k", "STRING")], [], "key column"),
    ],
)
def test_merge_sql_rejects_unsafe_or_inconsistent_input(
    target: str, staging: str, schema: list[SchemaField], keys: list[str], message: str
) -> None:
    with pytest.raises(PublishError, match=message):
        merge_sql(target, staging, schema, keys)


def test_ddl_types_spell_arrays_records_and_decimal_parameters() -> None:
    assert ddl_type(F_("n", "INTEGER")) == "INT64"
    assert ddl_type(F_("tags", "STRING", mode="REPEATED")) == "ARRAY<STRING>"
    assert ddl_type(F_("amount", "NUMERIC", precision=12, scale=2)) == "NUMERIC(12, 2)"
    assert ddl_type(F_("big", "BIGNUMERIC", precision=40, scale=0)) == "BIGNUMERIC(40, 0)"
    steps = F_(
        "steps",
        "RECORD",
        mode="REPEATED",
        fields=(F_("channel", "STRING", mode="REQUIRED"), F_("costs", "FLOAT", mode="REPEATED")),
    )
    # REQUIRED nested fields lose NOT NULL: the emulator cannot parse it, and the patch sets the real mode.
    assert ddl_type(steps) == "ARRAY<STRUCT<`channel` STRING, `costs` ARRAY<FLOAT64>>>"


def test_add_column_sql_quotes_validated_names_only() -> None:
    sql = add_column_sql("p-roject.ds.t", F_("note", "STRING"))
    assert sql == "ALTER TABLE `p-roject.ds.t` ADD COLUMN IF NOT EXISTS `note` STRING"
    with pytest.raises(PublishError, match="invalid column name"):
        add_column_sql("p-roject.ds.t", F_("x` STRING; DROP TABLE t; --", "STRING"))
    with pytest.raises(PublishError, match="invalid column name"):
        add_column_sql("p-roject.ds.t", F_("r", "RECORD", fields=(F_("a`>", "INT64"),)))
    with pytest.raises(PublishError, match="invalid table name"):
        add_column_sql("p-roject.ds.t`x", F_("note", "STRING"))
    with pytest.raises(PublishError, match=r"project\.dataset\.table"):
        add_column_sql("ds.t", F_("note", "STRING"))


# ---- frames ------------------------------------------------------------------------------------------------


def test_publishable_frame_orders_columns_and_turns_maps_into_entries(spark: SparkSession) -> None:
    inner = T.StructType([T.StructField("m", T.MapType(T.StringType(), T.LongType()))])
    schema = T.StructType(
        [
            T.StructField("attrs", T.MapType(T.StringType(), T.LongType())),
            T.StructField("id", T.StringType(), False),
            T.StructField("rec", inner),
            T.StructField("recs", T.ArrayType(inner)),
            T.StructField("tags", T.ArrayType(T.StringType())),
        ]
    )
    rows = [
        ({"a": 1}, "x", ({"b": 2},), [({"c": 3},), (None,)], ["t"]),
        (None, "y", None, None, None),  # nulls stay nulls (a null struct does not become a struct of nulls)
    ]
    out = publishable_frame(spark.createDataFrame(rows, schema), ["id", "attrs", "rec", "recs", "tags"])

    assert out.columns == ["id", "attrs", "rec", "recs", "tags"]
    got = sorted((r.asDict(recursive=True) for r in out.collect()), key=lambda r: r["id"])
    assert got == [
        {
            "id": "x",
            "attrs": [{"key": "a", "value": 1}],
            "rec": {"m": [{"key": "b", "value": 2}]},
            "recs": [{"m": [{"key": "c", "value": 3}]}, {"m": None}],
            "tags": ["t"],
        },
        {"id": "y", "attrs": None, "rec": None, "recs": None, "tags": None},
    ]


def test_publishable_frame_schema_maps_like_the_source_schema(spark: SparkSession) -> None:
    schema = T.StructType(
        [
            T.StructField("id", T.StringType(), False),
            T.StructField("attrs", T.MapType(T.StringType(), T.LongType())),
            T.StructField("rec", T.StructType([T.StructField("m", T.MapType(T.StringType(), T.DoubleType()))])),
        ]
    )
    out = publishable_frame(spark.createDataFrame([], schema), ["id", "attrs", "rec"])
    # Modes aside (Spark may loosen nullability through transform), the types agree field by field.
    assert relaxed(bigquery_schema(out.schema)) == relaxed(bigquery_schema(schema))


def test_publishable_frame_requires_exactly_the_table_columns(spark: SparkSession) -> None:
    df = spark.createDataFrame([("x", 1)], "id string, n long")
    with pytest.raises(PublishError, match=r"missing \['extra'\], unexpected \['n'\]"):
        publishable_frame(df, ["id", "extra"])


def test_bad_keys_finds_duplicates_and_null_parts_only(spark: SparkSession) -> None:
    rows = [
        ("j1", 1, "a"),
        ("j1", 1, "b"),  # duplicate of (j1, 1)
        ("j1", 2, "c"),  # same journey, other seq: fine
        ("j2", None, "d"),  # null key part
        ("j3", 1, "e"),
        ("j3", 1, "e"),  # exact duplicate row is still a duplicate key
    ]
    df = spark.createDataFrame(rows, "journey_id string, seq int, v string")
    got = sorted(tuple(r) for r in bad_keys(df, ["journey_id", "seq"]).collect())
    assert got == [("j1", 1, 2, "duplicate key"), ("j2", None, 1, "null key"), ("j3", 1, 2, "duplicate key")]


def test_bad_keys_of_clean_keys_is_empty(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a", 1), ("b", 1)], "k string, v int")
    assert bad_keys(df, ["k"]).collect() == []


# ---- error translation (a fake client stands in for BigQuery) ----------------------------------------------

TARGET = BigQueryTarget(project="test-project", dataset="ds", location="US", staging_uri="gs://bucket/x")


class RaisingClient:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_dataset(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    def get_table(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (gexc.Forbidden("Access Denied: Dataset test-project:ds"), "permission denied reading dataset.*Data Editor"),
        (gexc.BadRequest("Invalid dataset\nsecond line"), "BigQuery rejected reading dataset.*Invalid dataset$"),
        (gexc.ServiceUnavailable("backend down"), "BigQuery error reading dataset"),
    ],
)
def test_api_errors_become_one_line_publish_errors(error: Exception, message: str) -> None:
    publisher = BigQueryPublisher(TARGET, "run-1", client=RaisingClient(error))  # type: ignore[arg-type]
    with pytest.raises(PublishError, match=message) as caught:
        publisher.ensure_dataset()
    assert "\n" not in str(caught.value)


class DatasetIn:
    def __init__(self, location: str) -> None:
        self.location = location

    def get_dataset(self, *args: Any, **kwargs: Any) -> Any:
        return self


def test_dataset_in_another_location_is_refused() -> None:
    publisher = BigQueryPublisher(TARGET, "run-1", client=DatasetIn("EU"))  # type: ignore[arg-type]
    with pytest.raises(PublishError, match=r"is in EU, but bigquery\.location is US"):
        publisher.ensure_dataset()
