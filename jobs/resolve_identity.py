"""Resolve identity across devices into silver.identity_map (+ _edges, _merges, _audit).

    .venv/bin/python jobs/resolve_identity.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads bronze.events and, where present, bronze.ad_touchpoints, bronze.backend_orders and
bronze.backend_users. Prints the stage summary and the graph health as JSON.
"""

from __future__ import annotations

import json
import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.stages import identity


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    context = make_context(config_from_args(args), parse_as_of(args.as_of), args.run_id)
    result = identity.run(context)
    print(json.dumps(result.details, sort_keys=True, default=str))
    print(result.summary_line())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
