"""jobs/attribute_paths.py on small path files whose exact answers are computed by hand below."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from journeylake.markov import PATH_OUTPUT_COLUMNS, split_path

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT / "jobs" / "attribute_paths.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def _read(path: Path, sep: str) -> dict[str, dict[str, float]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter=sep)
        assert tuple(reader.fieldnames or ()) == PATH_OUTPUT_COLUMNS
        return {row["channel_name"]: {k: float(v) for k, v in row.items() if k != "channel_name"} for row in reader}


def test_path_file_with_punctuated_names_by_hand(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path;total_conversions;total_conversion_value;total_null\nalpha > a>b;1;10;0\nalpha;0;0;1\na>b;1;20;1\n"
    )
    out = tmp_path / "result.csv"
    completed = _run("--input", str(paths), "--output", str(out))
    assert completed.returncode == 0, completed.stderr
    result = _read(out, ";")
    # first touch: alpha gets path 1 (1 conv, 10); a>b gets path 3 (1, 20)
    # last touch: a>b gets paths 1 and 3 (2, 30); alpha nothing (path 2 did not convert)
    # linear: path 1 splits (1, 10) in halves; a>b = 0.5 + 1 = 1.5 conv, 5 + 20 = 25 value; alpha = 0.5, 5
    # Markov (see test_markov.test_removal_effects_by_hand): RE alpha = 1/3, RE a>b = 1, sum 4/3
    #   conversions: 2 * (1/3)/(4/3) = 0.5 and 2 * 1/(4/3) = 1.5; value: 30 * 1/4 = 7.5 and 30 * 3/4 = 22.5
    expected = {
        "a>b": [1, 20, 2, 30, 1.5, 25, 1.5, 22.5, 1.0],
        "alpha": [1, 10, 0, 0, 0.5, 5, 0.5, 7.5, 1 / 3],
    }
    assert list(result) == ["a>b", "alpha"]  # sorted by name, names unmangled
    for channel, values in expected.items():
        assert [result[channel][c] for c in PATH_OUTPUT_COLUMNS[1:]] == pytest.approx(values, abs=1e-12)


def test_cycle_with_other_channel_and_comma_separator_by_hand(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path,total_conversions,total_conversion_value,total_null\nalpha > <Other> > alpha,2,40,0\n<Other>,0,0,2\n"
    )
    out = tmp_path / "result.csv"
    completed = _run("--input", str(paths), "--output", str(out), "--sep", ",", "--path-sep", ">", "--order", "1")
    assert completed.returncode == 0, completed.stderr
    result = _read(out, ",")
    # first and last touch: alpha gets both conversions (2, 40)
    # linear, repeats included: each of the 3 touches gets 2/3 conv and 40/3 value; alpha has 2 touches
    #   alpha = 4/3, 80/3; <Other> = 2/3, 40/3
    # Markov with the cycle (test_markov.test_cycle_is_solved_exactly, weights doubled): RE alpha = 1,
    #   RE <Other> = 1/2, sum 3/2 -> alpha 2 * 2/3 = 4/3 conv, 40 * 2/3 = 80/3; <Other> 2/3, 40/3
    expected = {
        "<Other>": [0, 0, 0, 0, 2 / 3, 40 / 3, 2 / 3, 40 / 3, 0.5],
        "alpha": [2, 40, 2, 40, 4 / 3, 80 / 3, 4 / 3, 80 / 3, 1.0],
    }
    assert list(result) == ["<Other>", "alpha"]
    for channel, values in expected.items():
        assert [result[channel][c] for c in PATH_OUTPUT_COLUMNS[1:]] == pytest.approx(values, abs=1e-12)


def test_the_cli_does_not_start_spark(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text("path;total_conversions\nx;1\n")
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['attribute_paths', '--input', {str(paths)!r}, '--output', {str(tmp_path / 'o.csv')!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit as exit_:\n"
        "    assert exit_.code == 0\n"
        "print('pyspark' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("route;total_conversions\na;1\n", "column 'path' missing"),
        ("path;total_conversions\na > b;-1\n", ":2: total_conversions must be a non-negative number"),
        ("path;total_conversions\na;one\n", ":2: could not convert"),
        ("path;total_conversions\na >  > b;1\n", ":2: path 'a >  > b' has an empty channel name"),
        ("path;total_conversions\n;1\n", ":2: empty path"),
    ],
)
def test_bad_input_stops_with_a_message_naming_the_row(tmp_path: Path, content: str, message: str) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(content)
    completed = _run("--input", str(paths), "--output", str(tmp_path / "o.csv"))
    assert completed.returncode == 2
    assert message in completed.stderr


def test_split_path_keeps_names_exactly() -> None:
    assert split_path("<Other> > a>b > (direct)", ">") == ("<Other>", "a>b", "(direct)")
    assert split_path("x>y | z", "|") == ("x>y", "z")
    assert split_path("  solo  ", ">") == ("solo",)
