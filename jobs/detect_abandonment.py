"""Detect abandoned journeys and write penalties, conversion scores, funnels and competitor impact.

    .venv/bin/python jobs/detect_abandonment.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Reads the journey tables written by the journeys stage; writes gold.journey_abandonments, gold.journey_scores,
gold.conversion_model, gold.funnel_daily, gold.cart_abandonment_daily, gold.competitor_exposures,
gold.competitor_impact and updates abandoned journeys in gold.user_journeys. Rerunning with the same --as-of
changes nothing.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.stages import abandonment


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    context = make_context(config_from_args(args), parse_as_of(args.as_of), args.run_id)
    result = abandonment.run(context)
    print(result.summary_line())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
