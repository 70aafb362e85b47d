"""Reading the user's table (CSV, Parquet or standard input) with clear errors."""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import pandas as pd

from .segmentation import SegmentationError

# Files above this size are read in chunks with a progress bar.
STREAM_BYTES = 50 * 2**20
CHUNK_ROWS = 200_000
# Field separators a CSV may use (spreadsheets set to a locale whose decimal
# mark is a comma write semicolons), the first preferred on a tie, and how
# much of the file decides: its first lines, up to this many bytes.
SEPARATORS = (",", ";", "\t", "|")
SNIFF_LINES = 50
SNIFF_BYTES = 2**16
DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+")
DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+")
SEPARATOR_LINE = re.compile(r"sep=(.)")
# Spreadsheet workbooks: binary files, named so that the error can say what to do.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")


def read_table(source, *, progress: bool = True) -> pd.DataFrame:
    """Read ``source`` ("-" for standard input, a .csv or a .parquet path).

    A CSV's field separator (comma, semicolon, tab or bar) and decimal mark
    (point or comma) are read off its first lines (:func:`csv_dialect`).
    Raises SegmentationError for a missing file, an empty file, a file that is
    not UTF-8 text, or a Parquet file without pyarrow.
    """
    if str(source) == "-":
        text = sys.stdin.buffer.read()
        if not text.strip():
            raise SegmentationError("standard input is empty: pipe a CSV table into it.")
        return _read_csv(io.BytesIO(text), "standard input", lambda: text)
    path = Path(source)
    if not path.exists():
        raise SegmentationError(f"file {str(path)!r} does not exist.")
    if path.is_dir():
        raise SegmentationError(f"{str(path)!r} is a folder, not a data file.")
    if path.stat().st_size == 0:
        raise SegmentationError(f"file {str(path)!r} is empty.")
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise SegmentationError(f"{str(path)!r} is a spreadsheet workbook, not a table file: "
                                "save the sheet as CSV (UTF-8) and pass that.")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise SegmentationError("reading Parquet needs pyarrow: pip install "
                                    "'kmeanskit[parquet]'.") from None
        except Exception as exc:  # pyarrow raises its own types
            raise SegmentationError(f"{str(path)!r} is not a readable Parquet file ({exc}).") \
                from None
    if path.stat().st_size > STREAM_BYTES:
        return _read_csv_streaming(path, progress)
    with path.open("rb") as stream:
        return _read_csv(stream, repr(str(path)), path.read_bytes)


def csv_dialect(sample: bytes) -> dict:
    """``read_csv``'s ``sep``, ``decimal`` and ``skiprows`` for a table that
    starts with ``sample``: the separator a first line ``sep=;`` names (as
    spreadsheets write it; that line is skipped), else the one that cuts the
    header and the lines after it into the same number of fields, two or
    more (the most fields wins; a comma on a tie, and when none does); a
    decimal comma where that separator is not a comma and numbers are
    written with commas, never with points."""
    lines = sample.decode("utf-8-sig", errors="replace").splitlines()
    if len(sample) >= SNIFF_BYTES:
        lines = lines[:-1]  # the last one may be cut short
    named = SEPARATOR_LINE.fullmatch(lines[0].strip(" ")) if lines else None
    lines = [line for line in lines[bool(named):SNIFF_LINES] if line.strip()]
    if named:
        sep = named.group(1)
    else:
        sep, most = ",", 1
        for candidate in SEPARATORS:
            widths = {len(row) for row in csv.reader(lines, delimiter=candidate)}
            if len(widths) == 1 and (width := widths.pop()) > most:
                sep, most = candidate, width
    decimal = "."
    if sep != ",":
        cells = [cell.strip() for row in csv.reader(lines[1:], delimiter=sep) for cell in row]
        if (any(DECIMAL_COMMA.fullmatch(cell) for cell in cells)
                and not any(DECIMAL_POINT.fullmatch(cell) for cell in cells)):
            decimal = ","
    return {"sep": sep, "decimal": decimal, "skiprows": int(bool(named))}


def _not_utf8(name: str, raw: bytes) -> SegmentationError:
    """Locate the first byte that is not UTF-8 (the parser only knows its buffer)."""
    try:
        raw.decode("utf-8")
        where = "somewhere"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        where = f"at byte {exc.start} (line {line})"
    return SegmentationError(f"{name} is not UTF-8 text: the first undecodable byte is "
                             f"{where}; save it as UTF-8 CSV.")


def _dialect_of(stream) -> dict:
    """:func:`csv_dialect` of a binary stream's first bytes, the stream
    rewound."""
    dialect = csv_dialect(stream.read(SNIFF_BYTES))
    stream.seek(0)
    return dialect


def _read_csv(stream, name: str, raw) -> pd.DataFrame:
    dialect = _dialect_of(stream)
    try:
        frame = pd.read_csv(stream, encoding="utf-8", skipinitialspace=True, **dialect)
    except UnicodeDecodeError:
        raise _not_utf8(name, raw()) from None
    except pd.errors.EmptyDataError:
        raise SegmentationError(f"{name} holds no table (no header row).") from None
    except pd.errors.ParserError as exc:
        raise SegmentationError(f"{name} is not a well-formed CSV table "
                                f"({str(exc).strip()}).") from None
    return frame


def _read_csv_streaming(path: Path, progress: bool) -> pd.DataFrame:
    from tqdm.auto import tqdm

    size = path.stat().st_size
    parts = []
    with path.open("rb") as stream, tqdm(total=size, unit="B", unit_scale=True,
                                          desc=f"reading {path.name}",
                                          disable=not progress, leave=False) as bar:
        dialect = _dialect_of(stream)
        try:
            for part in pd.read_csv(stream, encoding="utf-8", skipinitialspace=True,
                                    chunksize=CHUNK_ROWS, **dialect):
                parts.append(part)
                bar.update(stream.tell() - bar.n)
        except UnicodeDecodeError:
            raise _not_utf8(repr(str(path)), path.read_bytes()) from None
        except pd.errors.EmptyDataError:
            raise SegmentationError(f"{str(path)!r} holds no table (no header row).") from None
    return pd.concat(parts, ignore_index=True)
