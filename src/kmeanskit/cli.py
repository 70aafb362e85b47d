"""The ``kmeanskit`` command: segment a table, choose K, label new rows.

The CLI only parses, calls the library and formats.  A problem with the
input or the request is one ``Error: ...`` line on standard error and exit
status 1; a usage mistake (unknown option, missing argument) exits with 2.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from . import __version__

app = typer.Typer(
    name="kmeanskit", add_completion=False, no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Customer segmentation with k-means: a CSV in; segments, profiles, a report and "
         "a reusable model out.\n\nExample: kmeanskit demo --out my-demo",
)

Columns = Annotated[list[str] | None, typer.Option(
    "--columns", "-c", help="Feature column to cluster on (repeat for several); default: "
                            "every numeric column except identifiers.")]
K = Annotated[str, typer.Option("--k", help="Segments: auto, a number (5) or a range to "
                                            "search (3-8).")]
Scale = Annotated[str, typer.Option("--scale", help="standard, minmax, robust or none.")]
Method = Annotated[str, typer.Option("--method", help="kmeans or gmm (Gaussian mixture).")]
Init = Annotated[str, typer.Option("--init", help="k-means||, local-search++, k-means++, "
                                                  "random or sharding.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same "
                                                  "segments.")]
Missing = Annotated[str, typer.Option("--missing", help="Rows with missing values: error, "
                                                        "drop, or fill with the column mean.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
Noun = Annotated[str, typer.Option("--noun", help="What a row is, for the descriptions.")]


def _version(value: bool):
    if value:
        typer.echo(f"kmeanskit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
):
    """Customer segmentation with k-means."""


def _fail(message: str):
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _guarded(function):
    """Turn library errors into one ``Error:`` line and exit 1."""
    import functools

    from .persistence import ModelFileError
    from .segmentation import SegmentationError

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return function(*args, **kwargs)
        except (SegmentationError, ModelFileError, ImportError) as exc:
            _fail(str(exc).rstrip(".") + ".")
        except ValueError as exc:
            _fail(str(exc).rstrip(".") + ".")
        except OSError as exc:
            _fail(f"{exc.strerror or exc}: {exc.filename}." if exc.filename else f"{exc}.")
    return wrapper


def _outputs(out: Path, data: str, names: list[str]) -> dict[str, Path]:
    """Output paths in ``out``; never the input file."""
    paths = {name: out / name for name in names}
    if data != "-":
        source = Path(data).resolve()
        for path in paths.values():
            if path.resolve() == source:
                _fail(f"the output {str(path)!r} would overwrite the input file; choose "
                      "another --out folder.")
    return paths


def _load_segmenter(model: Path, data: str, out: Path | None):
    """The segmentation model in ``model``; refuses an ``out`` that is the input."""
    from .persistence import load_model
    from .segmentation import SegmentationError, Segmenter

    segmenter = load_model(model)
    if not isinstance(segmenter, Segmenter):
        raise SegmentationError(f"{model} holds a {type(segmenter).__name__}, not a "
                                "segmentation model from 'kmeanskit segment'.")
    if out is not None and data != "-" and Path(data).resolve() == out.resolve():
        raise SegmentationError(f"--out {str(out)!r} would overwrite the input file.")
    return segmenter


def _say(quiet: bool, text: str):
    if not quiet:
        typer.echo(text)


def _write_outputs(result, segmenter, out: Path, data: str, quiet: bool, source: str):
    """Build every output in memory, then write each atomically."""
    from .persistence import save_model, write_atomic
    from .report import build_report

    paths = _outputs(out, data, ["segments.csv", "profiles.csv", "report.html", "model.kmk"])
    segments = result.table.to_csv(index=False).encode("utf-8")
    profiles = result.profiles.to_csv(index=False).encode("utf-8")
    report = build_report(result, segmenter, source=source).encode("utf-8")
    write_atomic(paths["segments.csv"], lambda s: s.write(segments))
    write_atomic(paths["profiles.csv"], lambda s: s.write(profiles))
    write_atomic(paths["report.html"], lambda s: s.write(report))
    save_model(segmenter, paths["model.kmk"])
    _say(quiet, f"{result.k} segments of {int(result.table.segment.notna().sum())} rows.")
    for number, text in result.descriptions.items():
        _say(quiet, f"  segment {number}: {text}")
    for note in result.notes:
        _say(quiet, f"  note: {note}")
    _say(quiet, f"Wrote {paths['segments.csv']}, {paths['profiles.csv']}, "
                f"{paths['model.kmk']}")
    _say(quiet, f"Report: {paths['report.html']}")


@app.command()
@_guarded
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs.")] =
    Path("kmeanskit-demo"),
    quiet: Quiet = False,
):
    """Segment the bundled mall-customers data and write the report.

    The data: annual income and spending score of generated customers.

    Example: kmeanskit demo --out my-demo
    """
    from .datasets import load_mall_customers
    from .segmentation import Segmenter

    customers = load_mall_customers()
    segmenter = Segmenter(columns=["Annual Income (k$)", "Spending Score (1-100)"],
                          noun="customers")
    result = segmenter.fit(customers, progress=not quiet)
    _write_outputs(result, segmenter, out, "-", quiet, "bundled mall-customers demo data")


@app.command()
@_guarded
def segment(
    data: Annotated[str, typer.Argument(help="CSV or Parquet file, or - for CSV on "
                                             "standard input.")],
    columns: Columns = None,
    k: K = "auto",
    scale: Scale = "standard",
    method: Method = "kmeans",
    init: Init = "k-means||",
    seed: Seed = 0,
    missing: Missing = "error",
    noun: Noun = "rows",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for segments.csv, "
                                                          "profiles.csv, report.html and "
                                                          "model.kmk.")] = Path("segments"),
    quiet: Quiet = False,
):
    """Segment the rows of a table; write the segments, profiles, report and model.

    Into --out: segments.csv, profiles.csv, report.html and model.kmk.

    Example: kmeanskit segment customers.csv -c Income -c Spending --k auto --out results
    """
    from .io import read_table
    from .segmentation import Segmenter

    frame = read_table(data, progress=not quiet)
    segmenter = Segmenter(columns=columns, k=k, scale=scale, method=method, init=init,
                          missing=missing, seed=seed, noun=noun)
    result = segmenter.fit(frame, progress=not quiet)
    _write_outputs(result, segmenter, out, data, quiet, data)


@app.command("choose-k")
@_guarded
def choose_k_command(
    data: Annotated[str, typer.Argument(help="CSV or Parquet file, or - for standard input.")],
    columns: Columns = None,
    k: Annotated[str, typer.Option("--k", help="Range of K to compare, MIN-MAX.")] = "2-10",
    scale: Scale = "standard",
    missing: Missing = "error",
    seed: Seed = 0,
    output_format: Annotated[str, typer.Option("--format", help="table, json or csv.")] =
    "table",
    quiet: Quiet = False,
):
    """Compare every K-selection method over a range of K and recommend one.

    Example: kmeanskit choose-k customers.csv -c Income -c Spending --k 2-12 --format json
    """
    import numpy as np

    from . import choose_k
    from .io import read_table
    from .segmentation import SegmentationError, Segmenter, parse_k

    if output_format not in ("table", "json", "csv"):
        raise SegmentationError(f"--format must be table, json or csv; got {output_format!r}.")
    k_range = parse_k(k)
    if not isinstance(k_range, tuple):
        raise SegmentationError(f"--k must be a range MIN-MAX such as 2-10; got {k!r}.")
    frame = read_table(data, progress=not quiet)
    X = Segmenter(columns=columns, scale=scale, missing=missing, seed=seed).prepare(frame)
    low, high = max(2, k_range[0]), min(k_range[1], len(X) - 1)
    if high < low + 1:
        raise SegmentationError(f"{len(X)} rows are too few to compare K from {k_range[0]} "
                                f"to {k_range[1]}.")
    result = choose_k(X, range(low, high + 1), random_state=seed,
                      progress=not quiet and output_format == "table")
    table = result.to_frame()
    if output_format == "json":
        payload = {"k": result.k, "recommendations": result.recommendations,
                   "scores": {str(k): {m: (None if np.isnan(v) else float(v))
                                       for m, v in row.items()}
                              for k, row in table.iterrows()},
                   "notes": result.notes}
        typer.echo(json.dumps(payload, indent=2))
        return
    if output_format == "csv":
        typer.echo(table.to_csv(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"K selection for {data}")
    view.add_column("k", justify="right")
    for name in table.columns:
        view.add_column(name.replace("_", " "), justify="right")
    for k_value, row in table.iterrows():
        marker = " *" if k_value == result.k else ""
        view.add_row(f"{k_value}{marker}", *[f"{v:.4g}" for v in row])
    console = Console()
    console.print(view)
    console.print(result.explain(), highlight=False)


@app.command()
@_guarded
def predict(
    model: Annotated[Path, typer.Argument(help="A model.kmk written by 'kmeanskit segment'.")],
    data: Annotated[str, typer.Argument(help="CSV or Parquet file, or - for standard input.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file to write; "
                                                                 "standard output if not "
                                                                 "given.")] = None,
    quiet: Quiet = False,
):
    """Label new rows with a saved model, applying the same preprocessing.

    Example: kmeanskit predict segments/model.kmk new_customers.csv --out labelled.csv
    """
    from .io import read_table
    from .persistence import load_model, write_atomic
    from .segmentation import SegmentationError, Segmenter

    segmenter = load_model(model)
    if not isinstance(segmenter, Segmenter):
        raise SegmentationError(f"{model} holds a {type(segmenter).__name__}, not a "
                                "segmentation model from 'kmeanskit segment'.")
    labelled = segmenter.predict(read_table(data, progress=not quiet))
    text = labelled.to_csv(index=False)
    if out is None:
        sys.stdout.write(text)
        return
    if data != "-" and Path(data).resolve() == out.resolve():
        raise SegmentationError(f"--out {str(out)!r} would overwrite the input file.")
    write_atomic(out, lambda stream: stream.write(text.encode("utf-8")))
    _say(quiet, f"Labelled {len(labelled)} rows: {out}")


@app.command()
@_guarded
def report(
    model: Annotated[Path, typer.Argument(help="A model.kmk written by 'kmeanskit segment'.")],
    data: Annotated[str, typer.Argument(help="CSV or Parquet file, or - for standard input.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] =
    Path("report.html"),
    quiet: Quiet = False,
):
    """Regenerate the HTML report for a saved model on a table (no refitting).

    Example: kmeanskit report segments/model.kmk customers.csv --out report.html
    """
    from .io import read_table
    from .persistence import load_model
    from .report import write_report
    from .segmentation import SegmentationError, Segmenter

    segmenter = load_model(model)
    if not isinstance(segmenter, Segmenter):
        raise SegmentationError(f"{model} holds a {type(segmenter).__name__}, not a "
                                "segmentation model from 'kmeanskit segment'.")
    if data != "-" and Path(data).resolve() == out.resolve():
        raise SegmentationError(f"--out {str(out)!r} would overwrite the input file.")
    result = segmenter.describe(read_table(data, progress=not quiet))
    write_report(out, result, segmenter, source=data)
    _say(quiet, f"Report: {out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kmeanskit`` command."""
    try:
        app(args=argv, prog_name="kmeanskit", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
