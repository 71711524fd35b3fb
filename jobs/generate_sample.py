"""Generate the seeded sample world (GA4 export, ad sources, backend, ground truth).

    jobs/generate_sample.py --out data/sample --seed 42 --scale 1.0

Defaults come from the [input] section of the config. Always regenerates (the
output is identical for the same seed and scale). Prints a one-line summary and
exits non-zero on failure.
"""

import sys

from journeylake.cli import job

parse_args, run = job("sample", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
