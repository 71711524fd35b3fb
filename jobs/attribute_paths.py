"""Attribute aggregated conversion paths (the ChannelAttribution input format), without Spark.

    jobs/attribute_paths.py --input PATHS.csv --output RESULT.csv [--sep ';'] [--path-sep '>'] [--order 1]

The input has a header with the columns path, total_conversions, total_conversion_value
and total_null (the last two default to 0 when absent); a path reads like
``alpha > beta > alpha``. Channels are split on the path separator surrounded by single
spaces, so names such as ``<Other>`` or ``a>b`` are kept intact. The output has one row
per channel: first, last and linear touch conversions and value (ChannelAttribution's
definitions), exact Markov conversions and value (total x removal effect / sum of removal
effects) and the removal effect. Bad input stops with a message naming the row.
"""

import sys

from journeylake.cli import job

parse_args, run = job("attribute-paths", __doc__)

if __name__ == "__main__":
    sys.exit(run(None, parse_args()))
