"""Stage runner: publish the lake's silver and gold tables to BigQuery.

Every table of :data:`journeylake.publish.PUBLISHED_TABLES` (or those in
``bigquery.tables``) that exists in the lake is published in full; absent tables are
skipped and listed in ``details["skipped"]``. The first table that fails stops the
stage with a one-line message; tables published before it stay published (each is
consistent on its own, and a rerun of the run publishes the rest).

In ``jobs/run_pipeline.py`` this is the optional last stage, after ``validate``: it runs
only when ``bigquery.enabled`` is true and no earlier stage failed (a critical expectation
failure fails ``validate``), so tables that failed validation are never published.
"""

from __future__ import annotations

from journeylake.io.bigquery import BigQueryPublisher, BigQueryTarget
from journeylake.io.delta import read_table, table_exists, table_path
from journeylake.publish import PublishError, resolve_layout, selected_tables, write_modes
from journeylake.stages import RunContext, StageResult, timed

STAGE = "publish"


def run(context: RunContext, publisher: BigQueryPublisher | None = None) -> StageResult:
    """Publish to the dataset in ``context.config.bigquery``; a no-op when ``bigquery.enabled`` is false."""
    result = StageResult(STAGE)
    config = context.config.bigquery
    with timed(result):
        if not config.enabled:
            result.details["skipped"] = "bigquery.enabled is false"
            result.message = "skipped: bigquery.enabled is false"
            return result
        published: dict[str, dict[str, object]] = {}
        skipped: list[str] = []
        result.details.update(published=published, skipped=skipped)
        try:
            specs = selected_tables(config.tables)
            modes = write_modes(config.write_modes)
            if publisher is None:
                publisher = BigQueryPublisher(BigQueryTarget.from_config(config), context.run_id)
            publisher.ensure_dataset()
            for spec in specs:
                path = table_path(context.lake, spec.layer, spec.name)
                if not table_exists(context.spark, path):
                    skipped.append(spec.qualified_name)
                    continue
                df = read_table(context.spark, path)
                layout = resolve_layout(spec, df.schema, modes[spec.name])
                outcome = publisher.publish(df, spec, layout)
                result.rows_in[spec.qualified_name] = outcome.rows
                result.rows_out[spec.name] = outcome.rows
                published[spec.name] = {
                    "mode": outcome.mode,
                    "changed_rows": outcome.changed_rows,
                    "added_columns": list(outcome.added_columns),
                    "partition_field": outcome.partition_field,
                    "clustering": list(outcome.clustering),
                }
            publisher.delete_run_staging(context.spark)
        except PublishError as error:
            result.failed = True
            result.message = str(error)
    return result
