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

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from journeylake.markov import PATH_OUTPUT_COLUMNS, PathRecord, attribute_paths, split_path

PATH_COLUMN = "path"
CONVERSIONS_COLUMN = "total_conversions"
VALUE_COLUMN = "total_conversion_value"
NULL_COLUMN = "total_null"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="CSV of aggregated paths")
    parser.add_argument("--output", required=True, help="CSV to write, one row per channel")
    parser.add_argument("--sep", default=";", help="column separator of input and output (default ';')")
    parser.add_argument("--path-sep", default=">", help="channel separator inside a path (default '>')")
    parser.add_argument("--order", type=int, default=1, help="Markov chain order (default 1)")
    return parser.parse_args(argv)


def read_paths(path: Path, sep: str, path_sep: str) -> list[PathRecord]:
    """Parse the path file; raises ValueError naming the line of any bad row."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=sep)
        columns = reader.fieldnames or []
        for required in (PATH_COLUMN, CONVERSIONS_COLUMN):
            if required not in columns:
                raise ValueError(f"{path}: column {required!r} missing (found {columns}; is --sep right?)")
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                records.append(
                    PathRecord(
                        channels=split_path(row[PATH_COLUMN] or "", path_sep),
                        conversions=_number(row, CONVERSIONS_COLUMN),
                        value=_number(row, VALUE_COLUMN),
                        nulls=_number(row, NULL_COLUMN),
                    )
                )
            except ValueError as error:
                raise ValueError(f"{path}:{line}: {error}") from error
    return records


def _number(row: dict[str, str | None], column: str) -> float:
    text = (row.get(column) or "").strip()
    if not text:
        return 0.0
    number = float(text)
    if number < 0 or number != number:  # NaN never equals itself
        raise ValueError(f"{column} must be a non-negative number, got {text!r}")
    return number


def write_result(rows: list[dict[str, float | str]], path: Path, sep: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(PATH_OUTPUT_COLUMNS), delimiter=sep)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        records = read_paths(Path(args.input), args.sep, args.path_sep)
        rows = attribute_paths(records, order=args.order)
    except (OSError, ValueError) as error:
        print(f"attribute_paths: {error}", file=sys.stderr)
        return 2
    write_result(rows, Path(args.output), args.sep)
    print(f"attribute_paths: {len(records)} paths, {len(rows)} channels -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
