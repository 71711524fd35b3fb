"""Publish the lake's gold tables (and silver identity_map and sessions) to BigQuery.

    jobs/publish_bigquery.py --lake DIR --project P --dataset D --staging-uri gs://bucket/prefix \\
        [--api-endpoint URL] [--config FILE] [--tables t1,t2] [--run-id ID]

Each flag overrides the matching [bigquery] key of the config file; the project and the
staging URI must be set one way or the other. Credentials come from Application Default
Credentials; with --api-endpoint (the local emulator) anonymous credentials are used and,
when BQEMU_GCS_LOCAL_ROOT is set, the staged files are written to that folder, where the
emulator reads gs:// URIs. Exits non-zero with a one-line reason when publishing fails.
"""

import sys

from journeylake.cli import job

parse_args, run = job("publish", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
