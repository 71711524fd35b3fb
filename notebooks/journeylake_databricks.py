# Databricks notebook source
# MAGIC %md
# MAGIC # journeylake on Databricks
# MAGIC Runs the whole pipeline on a configured lake, writes the run report and shows the main results: journeys
# MAGIC by state, attribution by model, abandonment reasons, identity health. All logic lives in the `journeylake`
# MAGIC library (install the wheel from `make package` on the cluster, with the Delta jar that the runtime already
# MAGIC ships); this notebook only calls it. Set the widgets (or the job's base parameters), then Run all.

# COMMAND ----------

dbutils.widgets.text("lake", "dbfs:/journeylake/lake")  # noqa: F821 (dbutils exists on Databricks)
dbutils.widgets.text("config", "")  # noqa: F821
dbutils.widgets.text("ga4", "")  # noqa: F821
dbutils.widgets.text("as_of", "")  # noqa: F821
dbutils.widgets.text("report_dir", "/dbfs/journeylake/reports/run")  # noqa: F821 (a driver-local path)

# COMMAND ----------

from journeylake.cli import make_context, parse_as_of
from journeylake.config import load_config, with_overrides
from journeylake.stages.pipeline import run_pipeline

widgets = {name: dbutils.widgets.get(name) for name in ("lake", "config", "ga4", "as_of", "report_dir")}  # noqa: F821
config = with_overrides(
    load_config(widgets["config"] or None),
    **{
        "lake.root": widgets["lake"],
        "input.ga4_dir": widgets["ga4"] or None,
        "report.out_dir": widgets["report_dir"] or None,
    },
)
context = make_context(config, parse_as_of(widgets["as_of"]), None)  # reuses the cluster's session
results = run_pipeline(context)  # logs one key=value line per stage (rows in/out, seconds)
assert not any(r.failed for r in results), [r.summary_line() for r in results if r.failed]

# COMMAND ----------

# MAGIC %md ## Run report
# MAGIC The same page as `make report`: self-contained charts of this run.

# COMMAND ----------

from journeylake.io.report import section_frames
from journeylake.stages.report import run as write_report

report = write_report(context)
assert not report.failed, report.message
frames = section_frames(report.details["summary"])  # bounded chart data, already on the driver
with open(report.details["index"], encoding="utf-8") as page:
    displayHTML(page.read())  # noqa: F821 (displayHTML exists on Databricks)

# COMMAND ----------

# MAGIC %md ## Journeys by state (reached at least each state, by status now)

# COMMAND ----------

display(frames["funnel"].pivot(index=["state_rank", "state"], columns="status", values="journeys"))  # noqa: F821

# COMMAND ----------

# MAGIC %md ## Attribution by model and channel (credited value)

# COMMAND ----------

display(frames["attribution"].pivot(index="channel", columns="model", values="credited_value").round(2))  # noqa: F821

# COMMAND ----------

# MAGIC %md ## Abandonment reasons and identity health

# COMMAND ----------

display(frames["abandonment"])  # noqa: F821
display(frames["identity"])  # noqa: F821
