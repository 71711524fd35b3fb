"""Publish the lake's gold tables (and silver identity_map and sessions) to BigQuery.

    .venv/bin/python jobs/publish_bigquery.py --lake DIR --project P --dataset D --staging-uri gs://bucket/prefix \\
        [--api-endpoint URL] [--config FILE] [--tables t1,t2] [--run-id ID]

Each flag overrides the matching [bigquery] key of the config file; the project and the
staging URI must be set one way or the other. Credentials come from Application Default
Credentials; with --api-endpoint (the local emulator) anonymous credentials are used and,
when BQEMU_GCS_LOCAL_ROOT is set, the staged files are written to that folder, where the
emulator reads gs:// URIs. Exits non-zero with a one-line reason when publishing fails.
"""

from __future__ import annotations

import os
import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.config import with_overrides
from journeylake.stages.publish import run

EMULATOR_GCS_ROOT_ENV = "BQEMU_GCS_LOCAL_ROOT"


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--project", help="BigQuery project id; overrides [bigquery].project")
    parser.add_argument("--dataset", help="BigQuery dataset, created if missing; overrides [bigquery].dataset")
    parser.add_argument(
        "--staging-uri", help="gs://bucket/prefix for the staged Parquet; overrides [bigquery].staging_uri"
    )
    parser.add_argument("--api-endpoint", help="BigQuery API endpoint override, e.g. http://127.0.0.1:9050 (emulator)")
    parser.add_argument("--tables", help="comma-separated tables to publish (default: all found in the lake)")
    args = parser.parse_args(argv)
    local_root = os.environ.get(EMULATOR_GCS_ROOT_ENV) if args.api_endpoint else None
    config = with_overrides(
        config_from_args(args),
        **{
            "bigquery.enabled": True,
            "bigquery.project": args.project,
            "bigquery.dataset": args.dataset,
            "bigquery.staging_uri": args.staging_uri,
            "bigquery.api_endpoint": args.api_endpoint,
            "bigquery.staging_local_root": os.path.abspath(local_root) if local_root else None,
            "bigquery.tables": tuple(t.strip() for t in args.tables.split(",")) if args.tables else None,
        },
    )
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    result = run(context)
    for table, detail in result.details.get("published", {}).items():
        changed = "replaced" if detail["changed_rows"] is None else f"{detail['changed_rows']} rows changed"
        print(f"  {table}: {result.rows_out.get(table, 0)} rows ({detail['mode']}: {changed})")
    skipped = result.details.get("skipped")
    if skipped:
        print(f"not in the lake (skipped): {', '.join(skipped) if isinstance(skipped, list) else skipped}")
    print(result.summary_line())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
