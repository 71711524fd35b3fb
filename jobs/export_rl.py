"""Export reinforcement-learning transitions and next-channel recommendations.

    .venv/bin/python jobs/export_rl.py [--config FILE] [--lake DIR] [--as-of TIMESTAMP] [--run-id ID]

Run after jobs/detect_abandonment.py; writes gold.rl_transitions and gold.journey_recommendations.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.stages import rl


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    context = make_context(config_from_args(args), parse_as_of(args.as_of), args.run_id)
    result = rl.run(context)
    print(result.summary_line())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
