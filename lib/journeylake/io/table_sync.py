"""Two Delta writes the abandonment and RL stages need beyond ``journeylake.io.delta``.

- :func:`sync_table`: make a table equal to a recomputed frame by one MERGE (only changed rows are rewritten,
  keys that are gone are deleted), so a full recompute stays cheap and idempotent.
- :func:`update_columns`: set a few columns of existing rows of another stage's table (never inserts), for
  example status and end of abandoned journeys in gold.user_journeys.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from journeylake.io.delta import table_exists


def sync_table(
    spark: SparkSession, df: DataFrame, path: str, keys: list[str], partition_by: list[str] | None = None
) -> None:
    """Make the table at ``path`` hold exactly the rows of ``df`` (unique on ``keys``), by one MERGE.

    Changed rows are updated, new ones inserted, rows whose key is no longer in ``df`` deleted; unchanged rows
    are not rewritten. The first write creates the table.
    """
    if not table_exists(spark, path):
        writer = df.write.format("delta").mode("overwrite")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(path)
        return
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in df.columns if c not in keys)
    merge = DeltaTable.forPath(spark, path).alias("t").merge(df.alias("s"), on)
    if changed:
        merge = merge.whenMatchedUpdateAll(condition=changed)
    merge.whenNotMatchedInsertAll().whenNotMatchedBySourceDelete().execute()


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
