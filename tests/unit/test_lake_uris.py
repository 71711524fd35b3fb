"""Lake locations are URIs: joined as strings, never through pathlib (which turns gs://b into gs:/b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeylake.io.delta import table_path
from journeylake.io.lake import is_local, join_uri, local_path, relative_href, report_location, scheme_of, table_uri

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("lake", "expected"),
    [
        ("gs://bucket/lake", "gs://bucket/lake/bronze/events"),
        ("gs://bucket/lake/", "gs://bucket/lake/bronze/events"),
        ("gs://bucket", "gs://bucket/bronze/events"),
        ("s3a://bucket/a/b", "s3a://bucket/a/b/bronze/events"),
        (
            "abfss://container@account.dfs.core.windows.net/lake",
            "abfss://container@account.dfs.core.windows.net/lake/bronze/events",
        ),
        ("dbfs:/journeylake/lake", "dbfs:/journeylake/lake/bronze/events"),
        ("file:///tmp/lake", "file:///tmp/lake/bronze/events"),
        ("/tmp/lake", "/tmp/lake/bronze/events"),
        ("lakehouse", "lakehouse/bronze/events"),
        ("/", "/bronze/events"),
    ],
)
def test_table_locations_keep_the_scheme_and_authority(lake: str, expected: str) -> None:
    assert table_uri(lake, "bronze", "events") == expected
    assert table_path(lake, "bronze", "events") == expected


def test_table_path_accepts_path_objects() -> None:
    assert table_path(Path("/tmp/lake"), "gold", "users") == "/tmp/lake/gold/users"


@pytest.mark.parametrize("bad", ["../events", "Events", "a/b", "", "x" * 129])
def test_table_names_cannot_point_outside_the_lake(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        table_uri("gs://b/lake", "bronze", bad)


def test_unknown_layers_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown layer"):
        table_uri("/tmp/lake", "platinum", "events")


def test_schemes_and_locality() -> None:
    assert scheme_of("gs://b/x") == "gs" and scheme_of("GS://b/x") == "gs"
    assert scheme_of("/tmp/x") == "" and scheme_of("C:\\lake") == ""
    assert is_local("/tmp/x") and is_local("file:///tmp/x") and is_local("rel/x")
    assert not is_local("gs://b/x") and not is_local("dbfs:/x") and not is_local("s3a://b/x")
    assert local_path("file:///tmp/a%20b") == "/tmp/a b"


def test_join_uri_never_doubles_or_drops_slashes() -> None:
    assert join_uri("gs://b/lake/", "/reports/", "run") == "gs://b/lake/reports/run"
    assert join_uri("gs://b", "x") == "gs://b/x"
    assert join_uri("/tmp/lake", "") == "/tmp/lake"


def test_reports_default_to_the_lake_and_keep_configured_folders(tmp_path: Path) -> None:
    assert report_location("", "gs://b/lake", "run") == "gs://b/lake/reports/run"
    assert report_location("", str(tmp_path / "lake"), "run") == str(tmp_path / "lake" / "reports" / "run")
    assert report_location("gs://other/reports", "gs://b/lake", "run") == "gs://other/reports"
    assert report_location("rel/reports", "gs://b/lake", "run") == str(Path("rel/reports").resolve())


def test_links_between_reports_are_relative_on_one_store() -> None:
    assert relative_href("gs://b/lake/reports/expectations/index.html", "gs://b/lake/reports/run") == (
        "../expectations/index.html"
    )
    assert relative_href("/tmp/l/reports/expectations/index.html", "/tmp/l/reports/run") == "../expectations/index.html"
    assert relative_href("gs://other/x.html", "gs://b/lake/reports/run") == "gs://other/x.html"
