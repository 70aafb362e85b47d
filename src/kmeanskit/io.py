"""Reading the user's table (CSV, Parquet or standard input) with clear errors."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd

from .segmentation import SegmentationError

# Files above this size are read in chunks with a progress bar.
STREAM_BYTES = 50 * 2**20
CHUNK_ROWS = 200_000


def read_table(source, *, progress: bool = True) -> pd.DataFrame:
    """Read ``source`` ("-" for standard input, a .csv or a .parquet path).

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


def _read_csv(stream, name: str, raw) -> pd.DataFrame:
    try:
        frame = pd.read_csv(stream, encoding="utf-8", skipinitialspace=True)
    except UnicodeDecodeError:
        raise _not_utf8(name, raw()) from None
    except pd.errors.EmptyDataError:
        raise SegmentationError(f"{name} holds no table (no header row).") from None
    except pd.errors.ParserError as exc:
        raise SegmentationError(f"{name} is not a well-formed CSV table ({exc}).") from None
    return frame


def _read_csv_streaming(path: Path, progress: bool) -> pd.DataFrame:
    from tqdm.auto import tqdm

    size = path.stat().st_size
    parts = []
    with path.open("rb") as stream, tqdm(total=size, unit="B", unit_scale=True,
                                          desc=f"reading {path.name}",
                                          disable=not progress, leave=False) as bar:
        try:
            for part in pd.read_csv(stream, encoding="utf-8", skipinitialspace=True,
                                    chunksize=CHUNK_ROWS):
                parts.append(part)
                bar.update(stream.tell() - bar.n)
        except UnicodeDecodeError:
            raise _not_utf8(repr(str(path)), path.read_bytes()) from None
        except pd.errors.EmptyDataError:
            raise SegmentationError(f"{str(path)!r} holds no table (no header row).") from None
    return pd.concat(parts, ignore_index=True)
