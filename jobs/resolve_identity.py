"""Resolve identity across devices into silver.identity_map (+ _edges, _merges, _audit).

    jobs/resolve_identity.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads bronze.events and, where present, bronze.ad_touchpoints, bronze.backend_orders and
bronze.backend_users. Prints the stage summary and the graph health as JSON.
"""

import sys

from journeylake.cli import job

parse_args, run = job("identity", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
