"""The kmeanskit command: every command, and every input error's exact line."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kmeanskit.cli import app
from kmeanskit.datasets import load_mall_customers

pytest.importorskip("jinja2", reason="the report needs the optional [report] extra")
pytest.importorskip("matplotlib", reason="the report needs the optional [report] extra")

runner = CliRunner()
FEATURES = ["-c", "Annual Income (k$)", "-c", "Spending Score (1-100)"]
OUTPUTS = {"segments.csv", "profiles.csv", "report.html", "model.kmk"}


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def customers_csv(tmp_path):
    path = tmp_path / "customers.csv"
    load_mall_customers().to_csv(path, index=False)
    return path


def error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- every command -------------------------------------------------------------

def test_help_and_version():
    assert run("--version").stdout == "kmeanskit 0.1.0\n"
    top = run("--help")
    assert top.exit_code == 0
    for command in ["demo", "segment", "choose-k", "predict", "report"]:
        assert command in top.stdout
        text = run(command, "--help").stdout
        assert "Example: kmeanskit " + command in " ".join(text.split())


def test_demo_writes_every_output(tmp_path):
    result = run("demo", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in (tmp_path / "demo").iterdir()} == OUTPUTS
    assert "Report: " in result.stdout and "high annual income, low spending score" in \
        result.stdout
    segments = pd.read_csv(tmp_path / "demo" / "segments.csv")
    assert len(segments) == 200 and segments.segment.between(1, 5).all()


def test_segment_csv_with_fixed_k(customers_csv, tmp_path):
    out = tmp_path / "out"
    result = run("segment", customers_csv, *FEATURES, "--k", "5", "--out", out, "--quiet")
    assert result.exit_code == 0 and result.stdout == ""
    segments = pd.read_csv(out / "segments.csv")
    assert list(segments.columns[-2:]) == ["segment", "distance"]
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles["size"].sum() == 200 and profiles.segment.tolist() == [1, 2, 3, 4, 5]
    assert "Annual Income (k$) mean" in profiles.columns
    # Categorical columns are kept in the output.
    assert set(segments.Gender) == {"Female", "Male"}


def test_segment_k_range_gmm_and_probabilities(customers_csv, tmp_path):
    out = tmp_path / "gmm"
    result = run("segment", customers_csv, *FEATURES, "--k", "3-6", "--method", "gmm",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.stderr
    segments = pd.read_csv(out / "segments.csv")
    probabilities = segments.filter(like="p_segment_")
    assert probabilities.shape[1] == segments.segment.max()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_segment_from_stdin_and_parquet(customers_csv, tmp_path):
    text = customers_csv.read_text()
    result = run("segment", "-", *FEATURES, "--k", "4", "--out", tmp_path / "a", "-q",
                 input=text)
    assert result.exit_code == 0, result.stderr
    parquet = tmp_path / "customers.parquet"
    load_mall_customers().to_parquet(parquet)
    result = run("segment", parquet, *FEATURES, "--k", "4", "--out", tmp_path / "b", "-q")
    assert result.exit_code == 0, result.stderr
    a = pd.read_csv(tmp_path / "a" / "segments.csv")
    b = pd.read_csv(tmp_path / "b" / "segments.csv")
    assert a.segment.tolist() == b.segment.tolist()


def _customers_with_fractions():
    frame = load_mall_customers()
    frame["Score per k$"] = frame["Spending Score (1-100)"] / frame["Annual Income (k$)"]
    frame["Notes"] = np.where(frame["Age"] > 40, "over 40; loyal, keen", "under 41")
    return frame


@pytest.mark.parametrize("sep, decimal", [(",", "."), (";", ","), (";", "."), ("\t", "."),
                                          ("\t", ","), ("|", ",")])
def test_separator_and_decimal_mark_are_read_off_the_file(tmp_path, monkeypatch, sep, decimal):
    """Spreadsheets in a decimal-comma locale write semicolons and decimal
    commas: the table reads the same whatever the two marks (text cells
    holding the other separators included)."""
    import kmeanskit.io as kio

    frame = _customers_with_fractions()
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False, sep=sep, decimal=decimal)
    assert kio.csv_dialect(path.read_bytes()) == {"sep": sep, "decimal": decimal, "skiprows": 0}
    pd.testing.assert_frame_equal(kio.read_table(path), frame, check_exact=False, rtol=1e-12)
    with monkeypatch.context() as patch:  # read in chunks, as a large file is
        patch.setattr(kio, "STREAM_BYTES", 10)
        patch.setattr(kio, "CHUNK_ROWS", 37)
        pd.testing.assert_frame_equal(kio.read_table(path, progress=False), frame,
                                      check_exact=False, rtol=1e-12)
    result = run("segment", path, *FEATURES, "-c", "Score per k$", "--k", "4",
                 "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.stderr
    segments = pd.read_csv(tmp_path / "out" / "segments.csv")
    comma = tmp_path / "comma.csv"
    frame.to_csv(comma, index=False)
    run("segment", comma, *FEATURES, "-c", "Score per k$", "--k", "4", "--out", tmp_path / "c",
        "-q")
    expected = pd.read_csv(tmp_path / "c" / "segments.csv")
    assert segments.segment.tolist() == expected.segment.tolist()


def test_dialect_of_a_sample_cut_mid_line_and_of_one_column():
    from kmeanskit.io import SNIFF_BYTES, csv_dialect

    columns = 400  # long lines: the sample ends within the lines looked at
    header = ";".join(f"c{j}" for j in range(columns)) + "\n"
    rows = "".join(";".join(f"{i},{j}" for j in range(columns)) + "\n" for i in range(99))
    sample = (header + rows).encode()
    assert sample.count(b"\n", 0, SNIFF_BYTES) < 40 and sample[SNIFF_BYTES - 1:SNIFF_BYTES] != b"\n"
    sample = sample[:SNIFF_BYTES]  # the last line cut in two
    assert csv_dialect(sample) == {"sep": ";", "decimal": ",", "skiprows": 0}
    assert csv_dialect(b"value\n1.5\n2,5\n") == {"sep": ",", "decimal": ".", "skiprows": 0}


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_a_first_line_naming_the_separator_is_obeyed_and_skipped(tmp_path, sep):
    """Spreadsheets may write "sep=;" above the header (here after a byte
    order mark, as "CSV UTF-8" files have one)."""
    import kmeanskit.io as kio

    frame = _customers_with_fractions()
    path = tmp_path / "customers.csv"
    decimal = "." if sep == "," else ","
    text = f"sep={sep}\n" + frame.to_csv(index=False, sep=sep, decimal=decimal)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert kio.csv_dialect(path.read_bytes()) == {"sep": sep, "decimal": decimal, "skiprows": 1}
    pd.testing.assert_frame_equal(kio.read_table(path), frame, check_exact=False, rtol=1e-12)


def test_segment_scalings_and_inits(customers_csv, tmp_path):
    for scale in ["minmax", "robust", "none"]:
        for init in ["sharding", "k-means||"]:
            out = tmp_path / f"{scale}-{init}"
            result = run("segment", customers_csv, *FEATURES, "--k", "5", "--scale", scale,
                         "--init", init, "--out", out, "-q")
            assert result.exit_code == 0, result.stderr


def test_choose_k_formats(customers_csv):
    table = run("choose-k", customers_csv, *FEATURES, "--k", "2-8", "-q")
    assert table.exit_code == 0 and "Recommended K = 5" in table.stdout
    payload = json.loads(run("choose-k", customers_csv, *FEATURES, "--k", "2-8",
                             "--format", "json").stdout)
    assert payload["k"] == 5 and payload["recommendations"]["silhouette"] == 5
    assert set(payload["scores"]) == {str(k) for k in range(2, 9)}
    csv = run("choose-k", customers_csv, *FEATURES, "--k", "2-8", "--format", "csv").stdout
    assert csv.splitlines()[0].startswith("k,inertia,distortion,silhouette")
    assert len(csv.splitlines()) == 8


def test_predict_and_report_from_a_saved_model(customers_csv, tmp_path):
    out = tmp_path / "out"
    run("segment", customers_csv, *FEATURES, "--k", "5", "--out", out, "-q")
    to_stdout = run("predict", out / "model.kmk", customers_csv)
    assert to_stdout.exit_code == 0
    fitted = pd.read_csv(out / "segments.csv")
    labelled = pd.read_csv(pd.io.common.StringIO(to_stdout.stdout))
    assert labelled.segment.tolist() == fitted.segment.tolist()
    result = run("predict", out / "model.kmk", customers_csv, "--out", tmp_path / "l.csv")
    assert result.exit_code == 0 and (tmp_path / "l.csv").exists()
    result = run("report", out / "model.kmk", customers_csv, "--out", tmp_path / "r.html")
    assert result.exit_code == 0
    page = (tmp_path / "r.html").read_text()
    assert "saved model with K = 5" in page and 'id="profiles"' in page


# -- every input error: one exact line, exit 1, nothing left behind -------------

def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("name, content, args, message", [
    ("missing", None, [], "Error: file '{path}' does not exist."),
    ("empty", "", [], "Error: file '{path}' is empty."),
    ("header", "a,b\n", [], "Error: the table has a header but no rows."),
    ("column", "a,b\n1,2\n3,4\n", ["-c", "z"],
     "Error: column 'z' does not exist; the columns are: a, b."),
    ("text", "a,b\n1,2\n3,abc\n5,6\n", ["-c", "a", "-c", "b"],
     "Error: column 'b' has a non-numeric value 'abc' in row 2 (the first data row is row "
     "1); fix the value or choose other columns."),
    ("nan", "a,b\n1,\n3,4\n,6\n5,5\n", [],
     "Error: 2 missing values in columns a (1), b (1); use --missing drop to leave those "
     "rows out or --missing mean to fill them with the column mean."),
    ("few", "a,b\n1,2\n3,4\n5,7\n", ["--k", "5"],
     "Error: 3 rows but 5 segments were asked for: ask for at most as many segments as "
     "rows."),
    ("constant", "a,b\n1,1\n1,1\n", [], "Error: every chosen column is constant: nothing "
                                        "to cluster on."),
    ("badk", "a,b\n1,2\n", ["--k", "many"], "Error: --k must be 'auto', a number such as 5, "
                                            "or a range such as 3-8; got 'many'."),
    ("scale", "a,b\n1,2\n", ["--scale", "log"], "Error: --scale must be one of standard, "
                                               "minmax, robust, none; got 'log'."),
    ("words", "name,city\nx,y\nz,w\n", [], "Error: the table has no numeric columns to "
                                           "cluster on; choose columns with --columns (they "
                                           "must hold numbers)."),
])
def test_segment_errors(tmp_path, name, content, args, message):
    path = tmp_path / f"{name}.csv"
    if content is not None:
        _write(path, content)
    out = tmp_path / "out"
    result = run("segment", path, *args, "--out", out, "-q")
    assert result.exit_code == 1
    assert error_line(result) == message.format(path=path)
    assert not out.exists()


def test_bad_encoding(tmp_path):
    path = _write(tmp_path / "latin.csv", "name,x\nJosé,1\nZoë,2\n", encoding="latin-1")
    result = run("segment", path, "-q", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert error_line(result) == (f"Error: '{path}' is not UTF-8 text: the first "
                                  "undecodable byte is at byte 10 (line 2); save it as UTF-8 "
                                  "CSV.")


def test_workbook_and_ragged_rows(tmp_path):
    workbook = tmp_path / "book.xlsx"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe")
    result = run("segment", workbook, "-q", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert error_line(result) == (f"Error: '{workbook}' is a spreadsheet workbook, not a table "
                                  "file: save the sheet as CSV (UTF-8) and pass that.")
    ragged = _write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5\n")
    result = run("segment", ragged, "-q", "--out", tmp_path / "out")
    assert result.exit_code == 1
    line = error_line(result)  # pandas' own words inside the parentheses, on one line
    assert line.startswith(f"Error: '{ragged}' is not a well-formed CSV table (")
    assert line.endswith("Expected 2 fields in line 3, saw 3).")
    assert not (tmp_path / "out").exists()


def test_missing_values_can_be_dropped_or_filled(tmp_path):
    path = _write(tmp_path / "gaps.csv", "a,b\n1,\n3,4\n,6\n5,5\n8,8\n9,9\n1,1\n2,2\n")
    dropped = run("segment", path, "--k", "2", "--missing", "drop", "--out", tmp_path / "d")
    assert dropped.exit_code == 0
    assert "2 rows with missing values (a (1), b (1)) were left out" in dropped.stdout
    segments = pd.read_csv(tmp_path / "d" / "segments.csv")
    assert segments.segment.isna().sum() == 2 and len(segments) == 8
    filled = run("segment", path, "--k", "2", "--missing", "mean", "--out", tmp_path / "m")
    assert filled.exit_code == 0 and "filled with the column means" in filled.stdout


def test_constant_column_is_dropped_with_a_note(tmp_path):
    path = _write(tmp_path / "c.csv", "a,b,c\n1,2,7\n3,4,7\n5,9,7\n8,1,7\n")
    result = run("segment", path, "--k", "2", "--out", tmp_path / "o")
    assert result.exit_code == 0
    assert "note: Column 'c' is constant and was dropped." in result.stdout


def test_identifier_column_is_skipped_with_a_note(customers_csv, tmp_path):
    result = run("segment", customers_csv, "--k", "4", "--out", tmp_path / "o")
    assert "note: Column 'CustomerID' looks like an identifier" in result.stdout


def test_output_never_overwrites_the_input(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    path = _write(folder / "segments.csv", "a,b\n1,2\n3,4\n5,6\n7,9\n")
    result = run("segment", path, "--k", "2", "--out", folder)
    assert result.exit_code == 1
    assert error_line(result) == (f"Error: the output '{path}' would overwrite the input "
                                  "file; choose another --out folder.")
    assert path.read_text() == "a,b\n1,2\n3,4\n5,6\n7,9\n"


def test_model_errors(tmp_path, customers_csv):
    bad = _write(tmp_path / "bad.kmk", "not a model")
    result = run("predict", bad, customers_csv)
    assert result.exit_code == 1
    assert error_line(result).startswith(f"Error: {bad} is corrupt or truncated and cannot "
                                         "be read")
    result = run("predict", tmp_path / "none.kmk", customers_csv)
    assert error_line(result) == f"Error: model file '{tmp_path / 'none.kmk'}' does not exist."


def test_predict_names_missing_columns(tmp_path, customers_csv):
    run("segment", customers_csv, *FEATURES, "--k", "3", "--out", tmp_path / "o", "-q")
    other = _write(tmp_path / "other.csv", "x,y\n1,2\n")
    result = run("predict", tmp_path / "o" / "model.kmk", other)
    assert error_line(result) == ("Error: column 'Annual Income (k$)', used by the model, "
                                  "does not exist in the data; the columns are: x, y.")


def test_usage_errors_exit_2(tmp_path):
    assert run("segment").exit_code == 2
    assert run("segment", "x.csv", "--bogus").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_large_file_is_streamed_with_the_same_result(tmp_path, monkeypatch, customers_csv):
    import kmeanskit.io as kio

    normal = kio.read_table(customers_csv)
    monkeypatch.setattr(kio, "STREAM_BYTES", 10)
    monkeypatch.setattr(kio, "CHUNK_ROWS", 37)
    streamed = kio.read_table(customers_csv, progress=False)
    pd.testing.assert_frame_equal(normal, streamed)
