"""Generate the seeded sample world (GA4 export, ad sources, backend, ground truth).

    .venv/bin/python jobs/generate_sample.py --out data/sample --seed 42 --scale 1.0

Defaults come from the [input] section of the config. Always regenerates (the
output is identical for the same seed and scale). Prints a one-line summary and
exits non-zero on failure.
"""

from __future__ import annotations

import sys

from journeylake.cli import base_parser
from journeylake.config import load_config
from journeylake.stages.sample import generate


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--out", help="output folder (default: [input] sample_dir)")
    parser.add_argument("--seed", type=int, help="random seed (default: [input] sample_seed)")
    parser.add_argument("--scale", type=float, help="1.0 is about 3,000 persons (default: [input] sample_scale)")
    args = parser.parse_args(argv)
    inputs = load_config(args.config).input
    result = generate(
        args.out or inputs.sample_dir,
        inputs.sample_seed if args.seed is None else args.seed,
        inputs.sample_scale if args.scale is None else args.scale,
        reuse=False,
    )
    print(f"{result.summary_line()}; out={result.details.get('out_dir', args.out)}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
