# Databricks notebook source
# MAGIC %md
# MAGIC # journeylake on Databricks
# MAGIC Runs the whole pipeline on a configured lake and shows the main results. All logic lives in the
# MAGIC `journeylake` library (install the wheel from `make package` on the cluster, with the Delta jar that the
# MAGIC runtime already ships); this notebook only calls it. Set the widgets, then Run all.

# COMMAND ----------

dbutils.widgets.text("lake", "dbfs:/journeylake/lake")  # noqa: F821 (dbutils exists on Databricks)
dbutils.widgets.text("config", "")  # noqa: F821
dbutils.widgets.text("ga4", "")  # noqa: F821
dbutils.widgets.text("as_of", "")  # noqa: F821

# COMMAND ----------

from journeylake.cli import make_context, parse_as_of
from journeylake.config import load_config, with_overrides
from journeylake.stages.pipeline import run_pipeline

widgets = {name: dbutils.widgets.get(name) for name in ("lake", "config", "ga4", "as_of")}  # noqa: F821
config = with_overrides(
    load_config(widgets["config"] or None),
    **{"lake.root": widgets["lake"], "input.ga4_dir": widgets["ga4"] or None},
)
context = make_context(config, parse_as_of(widgets["as_of"]), None)  # reuses the cluster's session
results = run_pipeline(context)
assert not any(r.failed for r in results), [r.summary_line() for r in results if r.failed]

# COMMAND ----------

# MAGIC %md ## Journeys by state and status

# COMMAND ----------

lake = widgets["lake"]
display(  # noqa: F821
    spark.read.format("delta").load(f"{lake}/gold/user_journeys").groupBy("status", "current_state").count()  # noqa: F821
)

# COMMAND ----------

# MAGIC %md ## Attribution by model and channel

# COMMAND ----------

display(  # noqa: F821
    spark.read.format("delta").load(f"{lake}/gold/attribution")  # noqa: F821
    .groupBy("model", "channel").sum("credited_value")
)

# COMMAND ----------

# MAGIC %md ## Abandonment reasons and identity health

# COMMAND ----------

display(spark.read.format("delta").load(f"{lake}/gold/journey_abandonments").groupBy("reason").count())  # noqa: F821
display(  # noqa: F821
    spark.read.format("delta").load(f"{lake}/silver/identity_map")  # noqa: F821
    .groupBy("canonical_user_id").count().groupBy("count").count().orderBy("count")
)
