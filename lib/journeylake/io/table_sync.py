"""Two Delta writes the abandonment and RL stages need beyond ``journeylake.io.delta``.

- :func:`sync_table`: make a table equal to a recomputed frame by MERGE (only changed rows are rewritten, keys
  that are gone are deleted), so a full recompute stays cheap and idempotent.
- :func:`update_columns`: set a few columns of existing rows of another stage's table (never inserts), for
  example status and end of abandoned journeys in gold.user_journeys.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from journeylake.io.delta import merge_table, read_table, table_exists


def sync_table(
    spark: SparkSession, df: DataFrame, path: str, keys: list[str], partition_by: list[str] | None = None
) -> None:
    """Make the table at ``path`` hold exactly the rows of ``df`` (unique on ``keys``), by MERGE.

    Rows whose key is no longer in ``df`` are deleted; the others are upserted, rewriting only changed rows.
    """
    stale = None
    if table_exists(spark, path):
        stale = read_table(spark, path).select(*keys).join(df.select(*keys), on=keys, how="left_anti")
    merge_table(spark, df, path, keys=keys, partition_by=partition_by, delete_keys=stale)


def update_columns(spark: SparkSession, df: DataFrame, path: str, keys: list[str]) -> None:
    """Set ``df``'s non-key columns on the matching rows of the existing table at ``path``.

    Only rows where some of those columns differ are rewritten; rows of ``df`` without a match are ignored (the
    owner of the table decides which rows exist). Raises FileNotFoundError when the table does not exist.
    """
    if not table_exists(spark, path):
        raise FileNotFoundError(f"no Delta table at {path} to update")
    columns = [c for c in df.columns if c not in keys]
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedUpdate(condition=changed, set={f"`{c}`": f"s.`{c}`" for c in columns})
        .execute()
    )
