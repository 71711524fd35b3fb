"""The backend source: users, orders and order_items, from PostgreSQL over JDBC or from files.

Production reads PostgreSQL with Spark's JDBC reader, partitioned by the id
range so large tables are read by several tasks at once. Without a configured
``jdbc_url`` the same tables are read from the generated sample files
(``<sample_dir>/backend/<table>/``), so ``make run`` needs no database.

The password is read only from the environment variable named by
``BackendConfig.password_env``; it is never logged, and never part of the URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.config import BackendConfig, validate_identifier
from journeylake.io.lake import join_uri, list_files
from journeylake.io.secrets import read_secret
from journeylake.schemas.sources import (
    BACKEND_ORDER_ITEMS_SCHEMA,
    BACKEND_ORDERS_SCHEMA,
    BACKEND_USERS_SCHEMA,
)

JDBC_DRIVER = "org.postgresql.Driver"


@dataclass(frozen=True)
class BackendTable:
    name: str  # table name in PostgreSQL and folder name in the sample
    id_column: str  # integer primary key, used to split JDBC reads into ranges
    schema: T.StructType


BACKEND_TABLES = (
    BackendTable("users", "user_id", BACKEND_USERS_SCHEMA),
    BackendTable("orders", "order_id", BACKEND_ORDERS_SCHEMA),
    BackendTable("order_items", "order_item_id", BACKEND_ORDER_ITEMS_SCHEMA),
)


class BackendConfigError(RuntimeError):
    """The backend connection is configured incompletely."""


def jdbc_properties(config: BackendConfig, spark: SparkSession | None = None) -> dict[str, str]:
    password, _ = read_secret(spark, config.password_env, config.password_secret)
    if password is None:
        raise BackendConfigError(
            f"backend.jdbc_url is set but the password is neither in the variable {config.password_env} nor "
            f"under the alias {config.password_secret} of a Hadoop credential provider (the password is never "
            "read from config files)"
        )
    return {
        "user": config.user,
        "password": password,
        "driver": JDBC_DRIVER,
        "fetchsize": str(config.fetch_size),
    }


def _conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    """Select the contract columns in contract order, cast to the contract types."""
    return frame.select(*[frame[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def read_backend_table_jdbc(spark: SparkSession, config: BackendConfig, table: BackendTable) -> DataFrame:
    """Read one table with ``num_partitions`` parallel range reads on its integer id."""
    name = validate_identifier(table.name, "backend table")
    id_column = validate_identifier(table.id_column, "backend id column")
    properties = jdbc_properties(config, spark)
    bounds = spark.read.jdbc(
        config.jdbc_url,
        f"(SELECT MIN({id_column}) AS lo, MAX({id_column}) AS hi FROM {name}) AS bounds",
        properties=properties,
    ).first()
    if bounds is None or bounds["lo"] is None:  # empty table: one plain read
        frame = spark.read.jdbc(config.jdbc_url, name, properties=properties)
    else:
        frame = spark.read.jdbc(
            config.jdbc_url,
            name,
            column=id_column,
            lowerBound=int(bounds["lo"]),
            upperBound=int(bounds["hi"]) + 1,
            numPartitions=max(1, config.num_partitions),
            properties=properties,
        )
    return _conform(frame, table.schema)


def read_backend_table_files(spark: SparkSession, sample_dir: str, table: BackendTable) -> DataFrame | None:
    """The generated backend table, or None when the folder is absent (real GA4 runs have no backend)."""
    files = [uri for uri, _, _ in list_files(spark, join_uri(sample_dir, "backend", table.name), (".parquet",))]
    if not files:
        return None
    return _conform(spark.read.schema(table.schema).parquet(*files), table.schema)


def read_backend(spark: SparkSession, config: BackendConfig, sample_dir: str) -> dict[str, DataFrame]:
    """All backend tables that exist, by name: over JDBC when configured, else from the sample files."""
    frames: dict[str, DataFrame] = {}
    for table in BACKEND_TABLES:
        if config.jdbc_url:
            frames[table.name] = read_backend_table_jdbc(spark, config, table)
        else:
            frame = read_backend_table_files(spark, sample_dir, table)
            if frame is not None:
                frames[table.name] = frame
    return frames
