"""Score identity resolution in a lake against a generated sample's truth.

    .venv/bin/python jobs/identity_quality.py [--config FILE] [--lake DIR] [--truth DIR]

Pairwise precision and recall of "same person" decisions over the sample's non-bot
devices (see journeylake.identity.score_identity_pairs). The last line printed is
exactly ``precision=<p> recall=<r>`` with four decimals; scripts parse it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from journeylake.cli import base_parser, config_from_args, make_context, parse_as_of
from journeylake.identity import score_identity_pairs
from journeylake.io.delta import read_table, table_exists, table_path
from journeylake.io.truth import read_truth_devices


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--truth", help="truth folder of the sample (default: <[input].sample_dir>/truth)")
    args = parser.parse_args(argv)
    config = config_from_args(args)
    context = make_context(config, parse_as_of(args.as_of), args.run_id)
    map_path = table_path(context.lake, "silver", "identity_map")
    if not table_exists(context.spark, map_path):
        print(f"silver.identity_map not found at {map_path}: run the identity stage first", file=sys.stderr)
        return 1
    truth_dir = args.truth or str(Path(config.input.sample_dir) / "truth")
    score = score_identity_pairs(read_truth_devices(context.spark, truth_dir), read_table(context.spark, map_path))
    print(
        f"pairs predicted={score.predicted_pairs} true={score.true_pairs} "
        f"truth(linkable)={score.truth_pairs} found={score.true_linkable_pairs} "
        f"truth(all devices)={score.all_truth_pairs} found={score.all_found_pairs}"
    )
    print(score.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
