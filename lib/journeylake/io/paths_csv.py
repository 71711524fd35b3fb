"""The CSV files of ``journeylake attribute-paths``: aggregated ChannelAttribution paths in, channel totals out.

Columns of the input (ChannelAttribution's ``path``/``total_conversions``/``total_conversion_value``/``total_null``
names, separator ``--sep``) and of the output are documented in :mod:`journeylake.markov`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from journeylake.markov import PATH_OUTPUT_COLUMNS, PathRecord, split_path

PATH_COLUMN = "path"
CONVERSIONS_COLUMN = "total_conversions"
VALUE_COLUMN = "total_conversion_value"
NULL_COLUMN = "total_null"


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
