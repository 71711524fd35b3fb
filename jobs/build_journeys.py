"""Build sessions and persistent journeys for the people with new data into silver/gold.

    .venv/bin/python jobs/build_journeys.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads bronze.events, bronze.ad_touchpoints, silver.identity_map and silver.identity_merges; writes
silver.sessions, gold.journey_touchpoints, gold.user_journeys, gold.journey_state_transitions and gold.users.
Prints the summary line (journeys by status and state included) and the details as JSON.
"""

from __future__ import annotations

import json
import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.stages import journeys


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    context = make_context(config_from_args(args), parse_as_of(args.as_of), args.run_id)
    result = journeys.run(context)
    print(result.summary_line())
    print(json.dumps(result.details, sort_keys=True, default=str))
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
