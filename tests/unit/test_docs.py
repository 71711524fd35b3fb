"""docs/tables.md is generated from the table catalog: the committed page says what the catalog says."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeylake.docs import data_dictionary
from journeylake.schemas.catalog import CATALOG

pytestmark = pytest.mark.unit

PAGE = Path(__file__).resolve().parents[2] / "docs" / "tables.md"


def test_the_committed_data_dictionary_is_the_catalog_s() -> None:
    assert PAGE.read_text() == data_dictionary(), "docs/tables.md is stale: run `make docs` and commit it"


def test_every_table_and_column_is_on_the_page_with_a_description() -> None:
    page = data_dictionary()
    for name, spec in CATALOG.items():
        assert f"## {name}\n" in page, name
        for field in spec.schema.fields:
            assert field.metadata.get("comment"), f"{name}.{field.name} has no description"
            assert f"| `{field.name}` |" in page, f"{name}.{field.name}"
