"""How a table column is declared: name, type, nullability and a one-line description.

The description is kept in the StructField's metadata under ``comment``, the key Delta Lake reads as the
column comment; the catalog (:mod:`journeylake.schemas.catalog`) also gives it to BigQuery and to the data
dictionary (``docs/tables.md``), so a column is described exactly once, where it is declared.
"""

from __future__ import annotations

from pyspark.sql import types as T

COMMENT = "comment"


def column(name: str, data_type: T.DataType, nullable: bool, description: str) -> T.StructField:
    """A StructField carrying its one-line ``description`` (metadata ``comment``)."""
    return T.StructField(name, data_type, nullable, metadata={COMMENT: description})


def description_of(field: T.StructField) -> str:
    """The field's description, or "" when it has none."""
    return str((field.metadata or {}).get(COMMENT, ""))


def without_descriptions(schema: T.StructType) -> T.StructType:
    """The same schema with every top-level field's metadata dropped (for comparing types only)."""
    return T.StructType([T.StructField(f.name, f.dataType, f.nullable) for f in schema.fields])
